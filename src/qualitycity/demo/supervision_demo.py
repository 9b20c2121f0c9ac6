"""The demo city's supervision: inspectors, a drawn joint inspection plan with results (credit
records, on the portal), commitments (one broken by a later penalty), a spot-check plan with a
failure and its re-check, and incident reports (one triaged, one late).

Everything goes through the supervision services, as the staff pages do. Deterministic apart
from the draw's seed (drawn from ``secrets`` like any real draw); run once per demo build.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from django.utils import timezone

from qualitycity.core.models import Department, User

INSPECTOR_NAMES = (
    "王建国",
    "李红梅",
    "张伟",
    "刘洋",
    "陈静",
    "杨帆",
    "赵磊",
    "黄丽",
    "周涛",
    "吴敏",
    "徐强",
    "孙燕",
    "马超",
    "朱琳",
    "胡军",
    "郭婷",
    "林峰",
    "何萍",
    "高翔",
    "罗娟",
)
DISTRICTS = ("370202", "370203", "370211", "370212", "370213", "370214")


def demo_supervision(*, today: dt.date) -> dict[str, Any]:
    from qualitycity.core import context
    from qualitycity.records.models import Record
    from qualitycity.subjects.models import EnterpriseBinding, Subject
    from qualitycity.supervision import services
    from qualitycity.supervision.models import InspectionTask, Inspector, TaskAssignment

    from .services import demo_users_ensure

    today = min(today, timezone.localdate())
    demo_users_ensure(reset_passwords=False)
    rng = random.Random(20261128)
    market = Department.objects.get(code="market")
    health = Department.objects.get(code="health")
    quality = User.objects.get(username="quality")
    officer = User.objects.get(username="market")
    inspector_user = User.objects.get(username="inspector")
    ent_user = User.objects.get(username="enterprise")
    binding = EnterpriseBinding.objects.filter(user=ent_user).select_related("subject").first()
    out: dict[str, Any] = {}

    with context.acting_as(user=quality, source="system"):
        # --- the inspector pool ----------------------------------------------------------------
        n = 0
        for dept, count, quals in ((market, 14, ["food", "product"]), (health, 8, ["hygiene"])):
            for k in range(count):
                n += 1
                services.inspector_create(
                    actor=None,
                    badge_no=f"{dept.code[:2].upper()}37020{k:03d}",
                    name=INSPECTOR_NAMES[(n - 1) % len(INSPECTOR_NAMES)],
                    department=dept,
                    qualifications=quals if k % 3 else quals[:1],
                    district=DISTRICTS[k % len(DISTRICTS)],
                )
        # declared conflicts: the first market inspector with a few catering businesses
        pool_subjects = list(
            Subject.objects.filter(kind="legal", status="active", industry__in=["61", "62"])
            .order_by("id")
            .values_list("id", flat=True)
        )
        first = Inspector.objects.filter(department=market).order_by("badge_no").first()
        for sid in pool_subjects[:3]:
            services.conflict_declare(
                actor=None,
                inspector=first,
                subject=Subject.objects.get(pk=sid),
                reason="近亲属在该企业任职",
            )

        # --- a joint plan, drawn, with results --------------------------------------------------
        plan = services.plan_create(
            actor=quality,
            name=f"{today.year}年住宿餐饮业市场监管与卫生健康联合双随机抽查",
            year=today.year,
            items=[
                {
                    "department": "market",
                    "matter": "食品经营许可及食品安全检查",
                    "qualification": "food",
                },
                {"department": "health", "matter": "公共场所卫生检查", "qualification": "hygiene"},
            ],
            filters={"industries": ["61", "62"]},
            avoid_home_district=True,
        )
        attempt = services.plan_draw(plan=plan, actor=quality)
        # a second, recorded draw: the pool changed (a new inspector joined) before any result
        services.inspector_create(
            actor=None,
            badge_no="HE37020900",
            name="新任检查员",
            department=health,
            qualifications=["hygiene"],
            district="370285",
        )
        attempt = services.plan_draw(
            plan=plan, actor=quality, reason="卫生健康委新增执法人员，按规定重新抽取"
        )
        # the demo inspector login is the market inspector with the most tasks
        top = (
            TaskAssignment.objects.filter(task__draw=attempt, inspector__department=market)
            .values_list("inspector_id", flat=True)
            .order_by("inspector_id")
        )
        counts: dict[int, int] = {}
        for iid in top:
            counts[iid] = counts.get(iid, 0) + 1
        if counts:
            best = max(sorted(counts), key=lambda i: counts[i])
            Inspector.objects.filter(pk=best).update(user=inspector_user)
        tasks = list(
            InspectionTask.objects.filter(draw=attempt, status="assigned")
            .select_related("subject")
            .order_by("number")
        )
        outcomes = ["conforming"] * 6 + ["issues_found", "rectification_ordered"]
        results = late = 0
        for i, task in enumerate(tasks[: min(12, len(tasks))]):
            inspected = today - dt.timedelta(days=3 + i)
            if i == len(tasks[:12]) - 1:
                inspected = today - dt.timedelta(days=45)  # published after 20 working days
            for dept in (market, health):
                r = services.result_enter(
                    task=task,
                    actor=None,
                    department=dept,
                    outcome=rng.choice(outcomes) if i else "penalty_referred",
                    inspected_on=inspected,
                    findings="现场检查，查阅台账" if dept == market else "抽查公共场所卫生状况",
                    unreported_incident=(
                        "现场发现一批变质食材已致多名顾客就医，企业未主动报告"
                        if i == 0 and dept == market
                        else ""
                    ),
                )
                results += 1
                late += r.publication_late
        # one result waits unpublished (entered, publication held)
        if len(tasks) > 12:
            services.result_enter(
                task=tasks[12],
                actor=None,
                department=market,
                outcome="conforming",
                inspected_on=today - dt.timedelta(days=2),
                publish=False,
            )
            results += 1
        out["plan"] = {
            "id": plan.pk,
            "draws": attempt.number,
            "pool": attempt.pool_size,
            "tasks": attempt.task_count,
            "unstaffed": len(attempt.unstaffed),
            "results": results,
            "late": late,
            "verified": services.draw_verify(attempt=attempt).ok,
        }

        # --- commitments ---------------------------------------------------------------------
        signed = 0
        if binding is not None:
            # in force; the demo login may sign the other templates itself
            services.commitment_sign(actor=ent_user, template="licence_application")
            signed += 1
        # subjects penalised recently: a commitment signed before the penalty is broken by it
        penalised = list(
            Record.objects.filter(
                dataset="admin_penalty",
                polarity="negative",
                decision_date__gte=today - dt.timedelta(days=150),
                decision_date__lt=today - dt.timedelta(days=10),
                subject__kind="legal",
            )
            .order_by("decision_date", "id")
            .values_list("subject_id", "decision_date")[:3]
        )
        for sid, day in penalised:
            services.commitment_sign(
                actor=None,
                template="licence_application",
                subject=Subject.objects.get(pk=sid),
                signed_on=day - dt.timedelta(days=20),
            )
            signed += 1
        for sid in pool_subjects[3:8]:
            services.commitment_sign(
                actor=None,
                template="public_integrity",
                subject=Subject.objects.get(pk=sid),
                signed_on=today - dt.timedelta(days=60),
            )
            signed += 1
        out["commitments"] = {"signed": signed, **services.commitments_check(on=today)}

        # --- a spot-check plan: a failure, rectification and the re-check ----------------------
        spot = services.spotcheck_plan_create(
            actor=officer,
            name=f"{today.year}年电动自行车产品质量监督抽查",
            product_category="电动自行车",
            risk="high",
            year=today.year,
        )
        makers = list(
            Subject.objects.filter(
                kind="legal", status="active", industry__in=["37", "38", "34"]
            ).order_by("id")[:5]
        ) or list(Subject.objects.filter(kind="legal", status="active").order_by("id")[:5])
        fails = 0
        for k, maker in enumerate(makers):
            s = services.sample_take(
                actor=officer,
                plan=spot,
                subject=maker,
                product="电动自行车",
                batch=f"2026{k + 1:02d}",
                sampled_on=today - dt.timedelta(days=40),
            )
            if k == 1:
                s = services.sample_result(
                    actor=officer,
                    sample=s,
                    result="fail",
                    result_date=today - dt.timedelta(days=35),
                    failed_items="制动性能；最高车速",
                    standard="GB 17761-2018 电动自行车安全技术规范",
                )
                fails += 1
                re = services.recheck_take(
                    actor=officer, sample=s, sampled_on=today - dt.timedelta(days=5)
                )
                services.sample_result(
                    actor=officer,
                    sample=re,
                    result="pass",
                    result_date=today - dt.timedelta(days=2),
                )
            else:
                services.sample_result(
                    actor=officer,
                    sample=s,
                    result="pass",
                    result_date=today - dt.timedelta(days=35),
                )
        out["spot_checks"] = {"samples": len(makers) + fails, "failed": fails}

        # --- incident reports --------------------------------------------------------------
        incidents = 0
        if binding is not None:
            now = timezone.now()
            on_time = services.incident_report(
                actor=ent_user,
                product="儿童保温杯",
                batch="20261102",
                defect="杯盖密封圈脱落，存在吞咽风险",
                harm="暂无人员受伤",
                scale="已售出约 1,200 件",
                actions_taken="已暂停销售并通知经销商下架",
                discovered_at=now - dt.timedelta(hours=5),
            )
            services.incident_triage(
                actor=officer,
                report=on_time,
                risk_level="medium",
                follow_up="责令企业启动召回并提交整改报告",
                recall_needed=True,
            )
            services.incident_report(
                actor=ent_user,
                product="电热水壶",
                batch="20261015",
                defect="温控器失灵导致干烧",
                harm="一名消费者轻微烫伤",
                scale="同批次 300 件",
                actions_taken="已联系消费者赔偿",
                discovered_at=now - dt.timedelta(days=4),
            )
            incidents = 2
        out["incidents"] = incidents
    return out
