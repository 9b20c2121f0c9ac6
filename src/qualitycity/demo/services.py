"""Building the demo city in a platform home: reset, ingest the generated files, demo logins.

The ``demo`` command is thin; these functions do the work. The city's files come from
:mod:`qualitycity.demo.generator` and go through the real ingestion service
(:func:`qualitycity.records.services.ingest_path`), so the quarantine shows real rejects.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connections, transaction
from django.db.models import Count
from django.utils import timezone

from qualitycity.core.errors import ValidationFailed
from qualitycity.core.models import Department, Role, User

log = logging.getLogger(__name__)

MARKER_NAME = "demo.json"
FILES_DIR_NAME = "demo-files"

# One login per role. Demo passwords are public by design: never use them in production.
DEMO_USERS: tuple[dict[str, Any], ...] = (
    {
        "username": "admin",
        "password": "admin-demo",
        "role": Role.PLATFORM_ADMIN,
        "display_name": "平台管理员",
        "superuser": True,
    },
    {
        "username": "quality",
        "password": "quality-demo",
        "role": Role.QUALITY_OFFICE,
        "display_name": "质量强市办",
    },
    {
        "username": "market",
        "password": "market-demo",
        "role": Role.DATA_OFFICER,
        "department": "market",
        "display_name": "市场监管局数据专员",
    },
    {
        "username": "inspector",
        "password": "inspector-demo",
        "role": Role.INSPECTOR,
        "department": "market",
        "display_name": "市场监管局检查员",
    },
    {
        "username": "enterprise",
        "password": "enterprise-demo",
        "role": Role.ENTERPRISE,
        "display_name": "企业用户",
    },
)


def demo_home() -> Path:
    return Path(settings.HOME)


def demo_files_dir() -> Path:
    return demo_home() / FILES_DIR_NAME


def demo_marker_path() -> Path:
    return demo_home() / MARKER_NAME


def demo_marker() -> dict[str, Any] | None:
    """The marker of a completed build in this home, or None."""
    path = demo_marker_path()
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return None


def demo_marker_write(*, options: dict[str, Any], summary: dict[str, Any]) -> None:
    demo_marker_path().write_text(
        json.dumps({"options": options, "summary": summary}, ensure_ascii=False, indent=2),
        encoding="utf-8",
    )


def is_embedded_database() -> bool:
    """True when the default database is the embedded SQLite file under HOME."""
    db = settings.DATABASES["default"]
    if not db["ENGINE"].endswith("sqlite3"):
        return False
    name = str(db.get("NAME") or "")
    if not name or name == ":memory:" or name.startswith("file:"):
        return False
    return Path(name).resolve() == Path(settings.SQLITE_PATH).resolve()


def demo_reset(*, force: bool = False) -> list[str]:
    """Start over: delete the embedded database, the kept files and the demo files.

    On any other database (PostgreSQL, or a SQLite file elsewhere) this refuses unless
    ``force``; forced, the database is flushed (all rows deleted) rather than dropped.
    Returns what was removed, for the command to report.
    """
    home = demo_home()
    removed: list[str] = []
    if is_embedded_database():
        connections.close_all()
        db = Path(settings.DATABASES["default"]["NAME"])
        for path in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
            if path.exists():
                path.unlink()
                removed.append(str(path))
    elif not force:
        raise ValidationFailed(
            "--rebuild deletes the embedded SQLite database only; DATABASE_URL points to "
            "another database. Add --force to delete all its rows (flush) and start over.",
            code="not_embedded_database",
        )
    else:
        from django.core.management import call_command

        call_command("flush", interactive=False, verbosity=0)
        removed.append(f"all rows of {settings.DATABASES['default']['ENGINE']} database")
    files_root = Path(settings.FILES_ROOT).resolve()
    for path in (demo_files_dir(), files_root):
        if path.exists() and path.resolve().is_relative_to(home.resolve()):
            shutil.rmtree(path)
            removed.append(str(path))
    marker = demo_marker_path()
    if marker.exists():
        marker.unlink()
        removed.append(str(marker))
    return removed


def demo_ingest(
    *,
    folder: Path,
    manifest: dict[str, Any],
    progress_factory: Callable[[Path], Any] | None = None,
) -> list[Any]:
    """Ingest the generated files one by one in the manifest's order; return the results.

    The history goes first, as a migration (``backfill``: left out of timeliness): market
    registrations and practitioners, then records, then social organisations and public
    institutions, so that records about the latter wait in quarantine as ``unknown_subject``
    until their registration arrives and re-checks them. Then the live weekly files, in the
    order they were received, each with its ``received_at``.
    """
    from qualitycity.core import context
    from qualitycity.records.models import SourceFile
    from qualitycity.records.services import ingest_path, parse_received_at

    entries = {f["file"]: f for f in manifest["files"]}
    results: list[Any] = []
    with context.acting_as(source="cli"):
        for name in manifest["ingest_order"]:
            entry = entries.get(name, {})
            results.extend(
                ingest_path(
                    path=folder / name,
                    channel=SourceFile.Channel.CLI,
                    progress_factory=progress_factory,
                    received_at=parse_received_at(entry.get("received_at")),
                    backfill=bool(entry.get("backfill", False)),
                )
            )
    return results


def _enterprise_subject() -> Any:
    """An active enterprise with a rich credit file (the most records), for the demo login."""
    from qualitycity.records.models import Record
    from qualitycity.subjects.models import Subject

    top = (
        Record.objects.filter(subject__subject_type="enterprise", subject__status="active")
        .values("subject_id")
        .annotate(n=Count("id"))
        .order_by("-n", "subject_id")
        .first()
    )
    if top:
        return Subject.objects.get(pk=top["subject_id"])
    return Subject.objects.filter(subject_type="enterprise").order_by("code").first()


def demo_users_ensure(*, reset_passwords: bool = True) -> list[dict[str, str]]:
    """Create (or reset) one login per role; return them as {role, username, password, …}."""
    from qualitycity.core.services import user_create
    from qualitycity.subjects.models import EnterpriseBinding

    out: list[dict[str, str]] = []
    with transaction.atomic():
        for spec in DEMO_USERS:
            dept = None
            if spec.get("department"):
                dept = Department.objects.filter(code=spec["department"]).first()
            user = User.objects.filter(username=spec["username"]).first()
            if user is None:
                user = user_create(
                    username=spec["username"],
                    password=spec["password"],
                    role=spec["role"],
                    department=dept,
                    display_name=spec["display_name"],
                    is_superuser=spec.get("superuser", False),
                )
            elif reset_passwords:
                user.set_password(spec["password"])
                user.save()
            entry = {
                "role": str(spec["role"]),
                "username": spec["username"],
                "password": spec["password"],
                "department": spec.get("department", ""),
                "subject": "",
            }
            if spec["role"] == Role.ENTERPRISE:
                binding = EnterpriseBinding.objects.filter(user=user).first()
                if binding is None:
                    subject = _enterprise_subject()
                    if subject is not None:
                        binding = EnterpriseBinding.objects.create(user=user, subject=subject)
                if binding is not None:
                    entry["subject"] = f"{binding.subject.code} {binding.subject.name}"
            out.append(entry)
    return out


def demo_evaluate(*, today: dt.date) -> list[dict[str, Any]]:
    """Evaluate the demo city twice, a quarter apart, so runs can be compared.

    The earlier run is skipped when no scorecard was in force then (a city generated for an
    early date). Returns each run's summary.
    """
    from qualitycity.core import context
    from qualitycity.core.errors import ApplicationError
    from qualitycity.credit.services import evaluate, run_summary

    summaries = []
    with context.acting_as(source="cli"):
        for as_of in (today - dt.timedelta(days=91), today):
            try:
                run = evaluate(engine="duckdb", as_of=min(as_of, timezone.localdate()))
            except ApplicationError as exc:  # e.g. no scorecard in force on that date
                log.warning("demo evaluation as of %s skipped: %s", as_of, exc.message)
                continue
            summaries.append(run_summary(run))
    return summaries


# How many entries of each list the demo's departments decide in each round (the rest of the
# rules' proposals wait for a decision, as they would).
DEMO_LIST_SAMPLE = 12


def demo_lists(*, today: dt.date) -> dict[str, Any]:
    """Leave list entries in every state, made through the lists services and back-dated, so the
    UI shows the whole lifecycle. Deterministic: entries are taken in the order the rules
    proposed them.

    Three rounds of the lists' rules (about 14 months, 7 months and 3 weeks before ``today``):
    a sample of each list's proposals is given notice and published after the notice period
    (the rest wait; a few are withdrawn); the latest round leaves entries noticed, some with the
    notice period over. Then publications whose period has ended expire, objections are filed
    and decided (upheld, rejected, withdrawn, open, one past its deadline), credit repair is
    approved, rejected and left waiting, and one entry is removed. The demo enterprise login
    gets a published watch-list entry it may apply to repair, a noticed entry it may object to
    and an open objection to one of its records.

    Acts are made by the ``market`` login for the market regulator's lists and by the
    ``quality`` login (the quality office, a city-wide role) for the others. Returns the
    summary, with a black-listed, a red-listed and a clean enterprise (codes) for checks.
    """
    from django.core.files.uploadedfile import SimpleUploadedFile

    from qualitycity.core import context
    from qualitycity.lists import selectors as list_selectors
    from qualitycity.lists import services as list_services
    from qualitycity.lists.catalogue import lists
    from qualitycity.lists.models import ListEntry, Objection, RepairApplication
    from qualitycity.records.models import Record
    from qualitycity.subjects.models import EnterpriseBinding, Subject

    today = min(today, timezone.localdate())
    demo_users_ensure(reset_passwords=False)
    quality = User.objects.get(username="quality")
    market = User.objects.get(username="market")
    binding = EnterpriseBinding.objects.filter(user__username="enterprise").first()
    enterprise_user = binding.user if binding else None
    own = binding.subject if binding else None

    def actor_for(list_code: str) -> User:
        return market if lists()[list_code].department == "market" else quality

    def proof(name: str) -> SimpleUploadedFile:
        return SimpleUploadedFile(name, f"{name}（演示材料）".encode(), "application/pdf")

    def publish(entry: ListEntry, *, notice_on: dt.date, reason: str = "") -> ListEntry | None:
        """Notice on ``notice_on`` and publish the day after the notice period (if by today)."""
        actor = actor_for(entry.list_code)
        if entry.state == ListEntry.State.PUBLISHED:
            return entry
        if entry.state == ListEntry.State.PROPOSED:
            entry = list_services.entry_notice(
                entry=entry, actor=actor, reason="已向当事人送达拟列入告知书", on=notice_on
            )
        day = entry.notice_ends_on + dt.timedelta(days=1)
        if day > today:
            return None
        return list_services.entry_publish(
            entry=entry, actor=actor, reason=reason or "告知期满，依法公示", on=day
        )

    def proposals(list_code: str, on: dt.date) -> list[ListEntry]:
        qs = ListEntry.objects.filter(
            list_code=list_code, state=ListEntry.State.PROPOSED, proposed_at__date=on
        )
        if own is not None:
            qs = qs.exclude(subject=own)
        return list(qs.select_related("subject", "department").order_by("pk"))

    def live_or_propose(list_code: str, subject: Subject, on: dt.date, reason: str) -> ListEntry:
        live = ListEntry.objects.filter(
            list_code=list_code, subject=subject, state__in=list_selectors.LIVE_STATES
        ).first()
        if live is not None:
            return live
        return list_services.entry_propose(
            list_code=list_code, subject=subject, reason=reason, actor=actor_for(list_code), on=on
        )

    rounds = [today - dt.timedelta(days=n) for n in (420, 220, 25)]
    published: dict[str, list[ListEntry]] = {"old": [], "recent": []}
    noticed: list[ListEntry] = []
    for n, on in enumerate(rounds):
        with context.acting_as(source="cli"):
            list_services.entries_propose_from_rules(on=on)
            for code in lists():
                with context.acting_as(user=actor_for(code), source="cli"):
                    batch = proposals(code, on)
                    if n < 2:
                        for entry in batch[:DEMO_LIST_SAMPLE]:
                            done = publish(entry, notice_on=on + dt.timedelta(days=1))
                            if done is not None:
                                published["old" if n == 0 else "recent"].append(done)
                        for entry in batch[DEMO_LIST_SAMPLE : DEMO_LIST_SAMPLE + 2]:
                            list_services.entry_withdraw(
                                entry=entry,
                                actor=actor_for(code),
                                reason="经核查，不符合列入条件，撤回拟列入",
                            )
                        continue
                    # The latest round: published, noticed with the notice period over, noticed
                    # with the notice period running; the rest stay proposed.
                    for entry in batch[:4]:
                        done = publish(entry, notice_on=on + dt.timedelta(days=1))
                        if done is not None:
                            published["recent"].append(done)
                    for entry in batch[4:7]:
                        noticed.append(
                            list_services.entry_notice(
                                entry=entry,
                                actor=actor_for(code),
                                reason="已向当事人送达拟列入告知书",
                                on=on + dt.timedelta(days=1),
                            )
                        )
                    for entry in batch[7:10]:
                        noticed.append(
                            list_services.entry_notice(
                                entry=entry,
                                actor=actor_for(code),
                                reason="已向当事人送达拟列入告知书",
                                on=today - dt.timedelta(days=1),
                            )
                        )

        # The demo enterprise: a watch-list entry published in the middle round (repair after
        # 3 months: it may apply now), and a proposal noticed yesterday that it may object to.
        if own is not None and n == 1:
            with context.acting_as(user=market, source="cli"):
                entry = live_or_propose(
                    "watch", own, on, "产品质量监督抽查不合格，经复检仍不合格，列入重点关注名单"
                )
                done = publish(entry, notice_on=on + dt.timedelta(days=1))
                if done is not None:
                    published["recent"].append(done)
        if own is not None and n == 2:
            with context.acting_as(user=market, source="cli"):
                entry = live_or_propose(
                    "product_quality_serious",
                    own,
                    on,
                    "因生产销售不合格产品被吊销许可证，拟列入产品质量严重违法失信名单",
                )
                if entry.state == ListEntry.State.PROPOSED:
                    list_services.entry_notice(
                        entry=entry,
                        actor=market,
                        reason="已向当事人送达拟列入告知书",
                        on=today - dt.timedelta(days=1),
                    )

    # Publications whose period has ended (12-month watch and red lists of the first round).
    with context.acting_as(source="cli"):
        list_services.entries_expire(today=today)

    def in_force(entries: list[ListEntry], *, kind: str | None = None) -> list[ListEntry]:
        out = []
        for e in entries:
            e.refresh_from_db()
            if e.state != ListEntry.State.PUBLISHED or (own is not None and e.subject_id == own.pk):
                continue
            if kind is None or lists()[e.list_code].kind == kind:
                out.append(e)
        return out

    def decide_objection(o: Objection, *, upheld: bool, reason: str) -> None:
        dept = o.department.code
        actor = market if dept == "market" else quality
        with context.acting_as(user=actor, source="cli"):
            list_services.objection_decide(actor=actor, objection=o, upheld=upheld, reason=reason)

    def object_to(entry: ListEntry, text: str) -> Objection:
        with context.acting_as(user=quality, source="cli"):
            return list_services.objection_file(
                actor=quality, entry=entry, text=text, evidence_files=[proof("异议材料.pdf")]
            )

    # Repairs: of first-round black-list entries (repair after 6 months under the 2019 rule).
    old_black = in_force(published["old"], kind="black")
    repairs = old_black[:3]
    for i, entry in enumerate(repairs):
        actor = actor_for(entry.list_code)
        with context.acting_as(user=quality, source="cli"):
            application = list_services.repair_apply(
                actor=quality,
                entry=entry,
                commitment="已全部履行行政处罚决定，缴清罚款并完成整改，承诺今后依法诚信经营",
                evidence_files=[proof("履行完毕证明.pdf"), proof("信用承诺书.pdf")],
            )
        if i < 2:
            with context.acting_as(user=actor, source="cli"):
                list_services.repair_decide(
                    actor=actor,
                    application=application,
                    approved=i == 0,
                    reason="已履行处罚并完成整改，准予信用修复"
                    if i == 0
                    else "罚款尚未缴清，不予修复",
                )

    # Objections: to published entries (upheld → removed, rejected, one past its deadline) and
    # to noticed ones (upheld → withdrawn, withdrawn by the subject, open).
    recent = in_force(published["recent"])
    black_recent = [e for e in recent if lists()[e.list_code].kind == "black"]
    pool = black_recent or recent
    # The one left past its deadline is the market regulator's, so its demo login sees it too.
    market_owned = [e for e in pool if e.department.code == "market"]
    late_target = market_owned[-1] if market_owned else (pool[2] if len(pool) > 2 else None)
    others = [e for e in pool if e != late_target]
    if others:
        decide_objection(
            object_to(others[0], "列入依据的判决已被撤销，请求移出名单"),
            upheld=True,
            reason="经复核，列入依据已被撤销，异议成立",
        )
    if len(others) > 1:
        decide_objection(
            object_to(others[1], "罚款已缴纳，请求不予公示"),
            upheld=False,
            reason="列入时违法事实清楚，缴纳罚款不影响列入，异议不成立",
        )
    if late_target is not None:
        late = object_to(late_target, "主体名称变更前的违法行为不应列入")
        # Objections carry no date to back-date them: this one is moved back by hand so that
        # its decision deadline has passed and the overdue page shows it.
        filed = today - dt.timedelta(days=40)
        Objection.objects.filter(pk=late.pk).update(
            filed_at=timezone.make_aware(dt.datetime.combine(filed, dt.time(10, 0))),
            due_on=today - dt.timedelta(days=12),
        )
    targets = [*others[:2], *([late_target] if late_target is not None else [])]
    with context.acting_as(source="cli"):
        list_services.deadlines_flag(today=today)
    waiting = [e for e in noticed if e.state == ListEntry.State.NOTICED]
    if waiting:
        decide_objection(
            object_to(waiting[0], "当事人已履行判决义务"),
            upheld=True,
            reason="当事人已履行义务，异议成立，撤回拟列入",
        )
    if len(waiting) > 1:
        o = object_to(waiting[1], "告知书送达地址有误")
        with context.acting_as(user=quality, source="cli"):
            list_services.objection_withdraw(actor=quality, objection=o, reason="已重新送达")
    if len(waiting) > 2:
        object_to(waiting[2], "请求核实违法事实")
    # A removal by decision.
    rest = [e for e in in_force(published["recent"], kind="black") if e not in targets]
    if rest:
        actor = actor_for(rest[-1].list_code)
        with context.acting_as(user=actor, source="cli"):
            list_services.entry_remove(
                entry=rest[-1], actor=actor, reason="人民法院裁定撤销失信决定，依法移出名单"
            )

    # The demo enterprise objects to one of its records.
    if own is not None and enterprise_user is not None:
        record = (
            Record.objects.filter(subject=own, is_public=True, polarity="negative")
            .order_by("-decision_date", "-id")
            .first()
        )
        if record is not None and not Objection.objects.filter(
            record=record, status=Objection.Status.OPEN
        ):
            with context.acting_as(user=enterprise_user, source="cli"):
                list_services.objection_file(
                    actor=enterprise_user,
                    record=record,
                    text="该处罚决定已经行政复议撤销，请求更正",
                    evidence_files=[proof("行政复议决定书.pdf")],
                )

    examples = _demo_list_examples(today=today, own=own, quality=quality)
    states = dict(
        ListEntry.objects.values_list("state").annotate(n=Count("id")).values_list("state", "n")
    )
    return {
        "entries": {s: states.get(s, 0) for s in ListEntry.State.values},
        "objections": dict(
            Objection.objects.values_list("status")
            .annotate(n=Count("id"))
            .values_list("status", "n")
        ),
        "repairs": dict(
            RepairApplication.objects.values_list("status")
            .annotate(n=Count("id"))
            .values_list("status", "n")
        ),
        "overdue": len(list_selectors.overdue_items(today=today)),
        "black_listed": examples["black"]["code"],
        "red_listed": examples["red"]["code"],
        "clean": examples["clean"]["code"],
        "examples": examples,
    }


def _demo_list_examples(*, today: dt.date, own: Any, quality: User) -> dict[str, Any]:
    """A black-listed and a red-listed enterprise (entries in force today, nothing pending), and
    a clean one (no entry at all); the first two are made if the city has none."""
    from qualitycity.core import context
    from qualitycity.lists import selectors as list_selectors
    from qualitycity.lists import services as list_services
    from qualitycity.lists.catalogue import lists
    from qualitycity.lists.models import ListEntry, Objection, RepairApplication
    from qualitycity.subjects.models import Subject

    enterprises = Subject.objects.filter(subject_type="enterprise", status="active")
    if own is not None:
        enterprises = enterprises.exclude(pk=own.pk)
    kinds = {code: ld.kind for code, ld in lists().items()}
    in_force = ListEntry.objects.filter(
        list_selectors.in_force_q(today), state=ListEntry.State.PUBLISHED
    )
    disputed = Objection.objects.filter(status=Objection.Status.OPEN, entry__isnull=False).values(
        "entry_id"
    )
    pending = RepairApplication.objects.filter(status=RepairApplication.Status.OPEN)

    def codes_of(kind: str) -> list[str]:
        return [c for c, k in kinds.items() if k == kind]

    def pick(kind: str, other: list[str]) -> ListEntry | None:
        return (
            in_force.filter(list_code__in=codes_of(kind), subject__in=enterprises)
            .exclude(subject__in=in_force.filter(list_code__in=other).values("subject"))
            .exclude(subject__in=pending.values("subject"))
            .exclude(pk__in=disputed)
            .select_related("subject")
            .order_by("subject__code", "list_code")
            .first()
        )

    def make(list_code: str, reason: str) -> ListEntry | None:
        taken = ListEntry.objects.values("subject")
        subject = enterprises.exclude(pk__in=taken).order_by("code").first()
        if subject is None:
            return None
        on = today - dt.timedelta(days=60)
        with context.acting_as(user=quality, source="cli"):
            entry = list_services.entry_propose(
                list_code=list_code, subject=subject, reason=reason, actor=quality, on=on
            )
            entry = list_services.entry_notice(entry=entry, actor=quality, reason="告知", on=on)
            return list_services.entry_publish(
                entry=entry,
                actor=quality,
                reason="告知期满，依法公示",
                on=entry.notice_ends_on + dt.timedelta(days=1),
            )

    black = pick("black", codes_of("red")) or make(
        "court_dishonest", "有履行能力而拒不履行生效法律文书确定的义务"
    )
    red = pick("red", codes_of("black") + codes_of("watch")) or make(
        "tax_a", "年度纳税信用评价为A级"
    )
    clean = enterprises.exclude(pk__in=ListEntry.objects.values("subject")).order_by("code").first()

    def brief(entry: ListEntry | None) -> dict[str, Any]:
        if entry is None:
            return {"code": None}
        return {
            "code": entry.subject.code,
            "name": entry.subject.name,
            "list": entry.list_code,
            "entry_id": entry.pk,
            "published_on": entry.published_on.isoformat(),
            "publication_ends_on": entry.publication_ends_on.isoformat(),
        }

    return {
        "black": brief(black),
        "red": brief(red),
        "clean": {"code": clean.code, "name": clean.name} if clean else {"code": None},
    }
