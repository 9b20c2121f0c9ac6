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
