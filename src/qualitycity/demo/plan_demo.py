"""The demo city's action plan: the seed plan (preloaded by migrate) with two years of quarterly
progress reports, populated standards and brand registries, an assessment, notices and a public
release — all made through the plan's services, deterministic for a seed.

Registries are written as files (CSV UTF-8, one GB18030, one JSON Lines) into a scratch folder
and loaded through ``registry_load`` like any department's file, with a few
bad rows that end in quarantine. Reports: the lead department of each measure files each
quarter; some are late, some are returned and refiled, a few are never filed (flagged).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
from pathlib import Path
from typing import Any

from django.utils import timezone

D = dt.date


def _subjects(rng: random.Random, n: int) -> list[tuple[str, str]]:
    from qualitycity.subjects.models import Subject

    codes = list(
        Subject.objects.filter(kind="legal", status="active")
        .order_by("code")
        .values_list("code", "name")[:5000]
    )
    if not codes:
        return []
    return [codes[rng.randrange(len(codes))] for _ in range(n)]


def _day(rng: random.Random, start: D, end: D) -> D:
    return start + dt.timedelta(days=rng.randrange(max(1, (end - start).days)))


def _plus_years(d: D, n: int) -> D:
    try:
        return d.replace(year=d.year + n)
    except ValueError:  # 29 February
        return d.replace(year=d.year + n, day=28)


def _write_csv(path: Path, header: list[str], rows: list[list[Any]], encoding: str = "utf-8"):
    with open(path, "w", encoding=encoding, newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def write_registry_files(folder: Path, *, seed: int) -> list[tuple[str, Path]]:
    """The registry files of the demo city (kind, path), deterministic for ``seed``."""
    rng = random.Random(seed * 7919 + 6)
    folder.mkdir(parents=True, exist_ok=True)
    orgs = _subjects(rng, 6000)
    if not orgs:
        return []
    pick = iter(orgs)
    files: list[tuple[str, Path]] = []

    # Standards: international (led / took part), national, industry, local (agriculture), group.
    rows = []
    for i in range(26):
        c, _ = next(pick)
        year = 2018 + i % 3
        number = f"ISO {20000 + i * 37}-{1 + i % 3}:{year}" if i % 4 else f"IEC {62000 + i}:{year}"
        rows.append([number, f"海洋装备国际标准 第{i + 1}号", "international",
                     "led" if i % 3 == 0 else "took_part", "", c,
                     _day(rng, D(year, 1, 1), D(year, 12, 28)), "", ""])  # fmt: skip
    industries = ["JB/T", "QB/T", "SN/T", "NY/T", "HG/T", "FZ/T"]
    for i in range(190):
        c, _ = next(pick)
        year = 2018 + i % 3
        if i % 3 == 0:
            number, level = f"GB/T {30000 + i * 11}-{year}", "national"
        else:
            number, level = f"{industries[i % len(industries)]} {1000 + i * 7}-{year}", "industry"
        rows.append([number, f"产品质量要求 第{i + 1}部分", level,
                     "led" if i % 2 else "took_part", "", c,
                     _day(rng, D(year, 1, 1), D(year, 12, 28)), "", ""])  # fmt: skip
    for i in range(170):
        c, _ = next(pick)
        year = 2016 + i % 5
        title = f"农产品生产技术规程 第{i + 1}号"
        rows.append([f"DB3702/T {100 + i}-{year}", title, "local", "led", "agriculture", c,
                     _day(rng, D(year, 1, 1), D(year, 12, 28)), "", ""])  # fmt: skip
    for i in range(30):
        c, _ = next(pick)
        rows.append([f"T/QDAS {i + 1:03d}-2020", f"青岛团体标准 第{i + 1}号", "group", "led", "",
                     c, _day(rng, D(2020, 1, 1), D(2020, 12, 28)), "", ""])  # fmt: skip
    # Bad rows, quarantined with their reasons.
    c, _ = next(pick)
    rows.append(["GB/T 12345:2019", "编号写错", "national", "led", "", c, "2019-05-01", "", ""])
    rows.append(["DB37/T 88-2019", "层级不符", "national", "led", "", c, "2019-05-01", "", ""])
    rows.append(["ISO 9001:2015", "单位未登记", "international", "took_part", "",
                 "91370200000000000X", "2015-09-15", "", ""])  # fmt: skip
    path = folder / "standards.csv"
    _write_csv(path, ["number", "title", "level", "role", "domain", "organisations",
                      "published_on", "effective_on", "withdrawn_on"], rows)  # fmt: skip
    files.append(("standards", path))

    rows = []
    kinds = ["international_secretariat", "national_secretariat", "innovation_base"]
    for i in range(9):
        c, _ = next(pick)
        rows.append([f"SAC/TC {400 + i}", kinds[i % 3], f"全国某专业标准化技术委员会 {i + 1}", c,
                     _day(rng, D(2017, 6, 1), D(2020, 11, 30)), ""])  # fmt: skip
    for i in range(12):
        c, _ = next(pick)
        rows.append([f"QD-GSO-{i + 1:02d}", "group_organisation", f"青岛团体标准联盟 {i + 1}", c,
                     _day(rng, D(2018, 6, 1), D(2020, 11, 30)), ""])  # fmt: skip
    path = folder / "standard_bodies.csv"
    _write_csv(path, ["code", "kind", "name", "organisations", "established_on", "ended_on"], rows)
    files.append(("standard_bodies", path))

    rows = []
    for i in range(48):
        c, _ = next(pick)
        rows.append([f"PILOT-{2018 + i % 3}-{i + 1:03d}", f"标准化试点示范项目 {i + 1}",
                     "national" if i % 4 == 0 else "provincial", "服务业", c,
                     _day(rng, D(2018, 9, 1), D(2020, 12, 20)), ""])  # fmt: skip
    path = folder / "pilot_projects.csv"
    _write_csv(path, ["code", "name", "level", "field", "organisations", "approved_on",
                      "completed_on"], rows)  # fmt: skip
    files.append(("pilot_projects", path))

    # Trademarks in GB18030 with Chinese headers (as a trademark office export would be).
    rows = []
    for i in range(3000):
        c, name = orgs[rng.randrange(len(orgs))]
        # Registrations grow: two in five fall in the plan's years.
        reg = _day(
            rng,
            *((D(2019, 1, 1), D(2020, 12, 20)) if i % 5 < 2 else (D(2011, 1, 1), D(2018, 12, 31))),
        )
        status, ended = "registered", ""
        if i % 40 == 0:
            status, ended = "cancelled", _day(rng, reg + dt.timedelta(days=400), D(2021, 6, 1))
        rows.append([f"{20000000 + i * 13}", f"品牌{i}", 1 + i % 45, name, c, status, reg,
                     _plus_years(reg, 10) - dt.timedelta(days=1), ended])  # fmt: skip
    rows.append(["29999999", "坏分类", 46, "某公司", orgs[0][0], "registered", "2019-01-01",
                 "2028-12-31", ""])  # fmt: skip
    path = folder / "商标注册.csv"
    header = ["注册号", "商标", "国际分类", "注册人", "权利人统一社会信用代码", "状态", "注册日期"]
    header += ["专用权期限至", "注销/无效日期"]
    _write_csv(path, header, rows, encoding="gb18030")
    files.append(("trademarks", path))

    path = folder / "madrid.jsonl"
    with open(path, "w", encoding="utf-8") as f:
        for i in range(420):
            c, name = orgs[rng.randrange(len(orgs))]
            reg = _day(rng, D(2012, 1, 1), D(2020, 12, 20))
            f.write(json.dumps({
                "international_number": str(1300000 + i * 17), "mark": f"QD{i}",
                "owner_name": name, "owner_uscc": c, "designated": "US;DE;JP;RU",
                "registered_on": reg.isoformat(),
                "valid_until": _plus_years(reg, 10).isoformat(),
            }, ensure_ascii=False) + "\n")  # fmt: skip
    files.append(("madrid", path))

    rows = []
    plan_kinds = [
        ("well_known", 130, "国家知识产权局", D(2008, 1, 1), None),
        ("famous_product", 290, "山东省市场监督管理局", D(2017, 1, 1), 3),
        ("famous_service", 60, "山东省市场监督管理局", D(2017, 1, 1), 3),
        ("national_agri_brand", 9, "农业农村部", D(2018, 1, 1), None),
        ("green_food", 420, "中国绿色食品发展中心", D(2017, 1, 1), 3),
        ("organic", 160, "认证机构", D(2017, 1, 1), 3),
        ("pollution_free", 330, "农业农村部", D(2017, 1, 1), 3),
        ("geographical_indication", 45, "农业农村部", D(2010, 1, 1), None),
        ("time_honoured", 22, "商务部", D(2006, 1, 1), None),
        ("world_brand_lab_500", 4, "世界品牌实验室", D(2019, 12, 1), 1),
        ("china_500_valuable", 15, "世界品牌实验室", D(2019, 6, 1), 1),
        ("industrial_brand_demo", 21, "工业和信息化部", D(2017, 1, 1), None),
    ]
    n = 0
    for kind, count, body, start, years in plan_kinds:
        for i in range(count):
            c, name = orgs[rng.randrange(len(orgs))]
            awarded = _day(rng, start, D(2020, 12, 1))
            until = _plus_years(awarded, years) if years else ""
            n += 1
            rows.append([f"{kind.upper()}-{n:05d}", kind, f"{name[:8]}品牌{i}", name, c, body,
                         awarded, until, ""])  # fmt: skip
    path = folder / "brand_titles.csv"
    _write_csv(path, ["certificate", "kind", "name", "owner_name", "owner_uscc", "awarding_body",
                      "awarded_on", "valid_until", "withdrawn_on"], rows)  # fmt: skip
    files.append(("brand_titles", path))

    rows = []
    awards = [
        ("china_quality_award", 1, "国家市场监督管理总局"),
        ("china_quality_award_nomination", 4, "国家市场监督管理总局"),
        ("provincial_quality_award", 6, "山东省人民政府"),
        ("mayor_quality_award", 14, "青岛市人民政府"),
    ]
    for kind, count, body in awards:
        for i in range(count):
            c, name = orgs[rng.randrange(len(orgs))]
            year = 2016 + (i * 2 + len(kind)) % 5
            rows.append([f"{kind[:6].upper()}-{year}-{i + 1:02d}", kind, name, c, body, year,
                         _day(rng, D(year, 9, 1), D(year, 12, 20))])  # fmt: skip
    path = folder / "quality_awards.csv"
    _write_csv(path, ["reference", "kind", "winner_name", "owner_uscc", "awarding_body", "year",
                      "awarded_on"], rows)  # fmt: skip
    files.append(("quality_awards", path))
    return files


# Reported targets: (baseline value, value at the end of each of the 8 quarters of 2019–2020).
REPORTED = {
    "mfg_quality_index": (84.5, [85.0, 85.6, 86.1, 86.8, 87.2, 87.9, 88.4, 89.1]),
    "major_project_acceptance": (97.5, [98.0, 98.2, 98.8, 99.0, 99.3, 99.6, 100, 100]),
    "sme_quality_systems": (0, [90, 210, 330, 460, 560, 690, 820, 1010]),
    "performance_excellence": (0, [40, 85, 120, 160, 200, 240, 290, 330]),
    "model_enterprises_per_year": (None, [2, 3, 2, 3, 2, 3, 3, 2]),
    "market_social_satisfaction": (78.0, [78.4, 79.0, 79.5, 80.2, 80.6, 81.1, 81.9, 82.4]),
}


# The last quarter's reports of two market-led measures stay open for the demo logins.
LEFT_OPEN = {"二(二)": "returned", "二(十二)": "submitted"}


def demo_plan(*, today: D, seed: int, folder: Path) -> dict[str, Any]:
    """Build the plan's demo data; returns a one-line-able summary."""
    from qualitycity.core import context
    from qualitycity.core.models import Department, Role, User
    from qualitycity.core.services import user_create
    from qualitycity.plan import selectors, services
    from qualitycity.plan.models import Measure, ProgressReport

    today = min(today, timezone.localdate())
    rng = random.Random(seed * 104729 + 66)
    plan = services.seed_plan_ensure()
    quality = User.objects.filter(username="quality").first()
    summary: dict[str, Any] = {"registries": {}, "reports": {}}

    with context.acting_as(user=quality, source="system"):
        # The office confirms two thirds of the departments the seed assigned by domain.
        for m in plan.measures.order_by("sort"):
            if m.sort % 3 != 2 and not m.departments_confirmed:
                services.measure_confirm_departments(measure=m, actor=None)
        for code, (baseline, _) in REPORTED.items():
            if baseline is not None:
                t = plan.targets.get(code=code)
                t.baseline_value, t.baseline_year = float(baseline), 2018
                t.save()

        for kind, path in write_registry_files(folder, seed=seed):
            r = services.registry_load(kind=kind, path=path)
            summary["registries"][kind] = {"accepted": r["accepted"], "rejected": r["rejected"]}

    officers: dict[int, User] = {}

    def officer(dept: Department) -> User:
        if dept.pk not in officers:
            user = (
                User.objects.filter(department=dept, role=Role.DATA_OFFICER).order_by("pk").first()
            )
            if user is None:
                user = user_create(
                    username=f"plan-{dept.code}",
                    password=None,
                    role=Role.DATA_OFFICER,
                    department=dept,
                )
            officers[dept.pk] = user
        return officers[dept.pk]

    carriers: dict[str, Measure] = {}
    for code in REPORTED:
        t = plan.targets.select_related("department").get(code=code)
        carriers[code] = (
            t.measure
            if t.measure and t.measure.lead_department_id == t.department_id
            else plan.measures.filter(lead_department=t.department).order_by("sort").first()
        )

    periods = [p for p in services.plan_periods(plan) if services.period_due(p) < today]
    counts = {"filed": 0, "late": 0, "returned": 0, "not_filed": 0, "left_open": 0}
    for qi, period in enumerate(periods):
        _, end = services.period_bounds(period)
        due = services.period_due(period)
        for m in plan.measures.select_related("lead_department").order_by("sort"):
            roll = rng.random()
            if qi == len(periods) - 1 and m.number in LEFT_OPEN:
                roll = 0.5  # filed on time
            if roll < 0.05:
                counts["not_filed"] += 1
                continue
            late = roll > 0.88
            filed = (
                due + dt.timedelta(days=rng.randint(1, 25))
                if late
                else due - dt.timedelta(days=rng.randint(0, 12))
            )
            filed = min(filed, today)
            values = {
                code: series[qi]
                for code, (_, series) in REPORTED.items()
                if carriers[code] and carriers[code].pk == m.pk and qi < len(series)
            }
            status_roll = rng.random()
            if qi >= 6 and status_roll < 0.5:
                task_status = "completed"
            elif status_roll < 0.12:
                task_status = "delayed"
            else:
                task_status = "on_schedule"
            who = officer(m.lead_department)
            with context.acting_as(user=who, source="system"):
                r = services.report_submit(
                    actor=who, measure=m, period=period, task_status=task_status,
                    narrative=f"{m.title}:本季度按计划推进各项工作({period})。",
                    values=values, on=filed,
                )  # fmt: skip
            counts["filed"] += 1
            counts["late"] += r.late
            review_day = min(filed + dt.timedelta(days=3), today)
            if qi == len(periods) - 1 and m.number in LEFT_OPEN:
                # The market login finds one report returned to refile, the office one to review.
                if LEFT_OPEN[m.number] == "returned":
                    with context.acting_as(user=quality, source="system"):
                        services.report_return(
                            report=r,
                            actor=None,
                            comment="请补充本季度培训企业名单。",
                            on=review_day,
                        )
                counts["left_open"] += 1
                continue
            with context.acting_as(user=quality, source="system"):
                if rng.random() < 0.15:
                    services.report_return(
                        report=r, actor=None, comment="请补充量化成果和佐证材料。", on=review_day
                    )
                    counts["returned"] += 1
                    refile = min(review_day + dt.timedelta(days=4), today)
                    with context.acting_as(user=who, source="system"):
                        r = services.report_submit(
                            actor=who, measure=m, period=period, task_status=task_status,
                            narrative=f"{m.title}:已补充量化成果({period})。",
                            values=values, on=refile,
                        )  # fmt: skip
                    review_day = min(refile + dt.timedelta(days=2), today)
                services.report_accept(report=r, actor=None, on=review_day)

    with context.acting_as(user=quality, source="system"):
        flagged = services.reports_flag_overdue(plan=plan, on=today)["flagged"]
        years = sorted({int(p[:4]) for p in periods})
        for year in years:
            services.assessment_produce(plan=plan, year=year, as_of=min(D(year, 12, 31), today))
        notices = services.notices_generate(plan=plan, on=min(today, plan.ends_on))["issued"]
        if periods:
            services.plan_release(
                plan=plan, on=min(today, plan.ends_on), note="质量提升行动实施进展(演示数据)"
            )
    overview = selectors.targets_overview(plan, min(today, plan.ends_on))
    summary["reports"] = counts | {"flagged": flagged}
    summary["assessments"] = years if periods else []
    summary["notices"] = notices
    summary["targets"] = {
        s: sum(1 for t in overview if t["projection"]["status"] == s)
        for s in ("achieved", "on_track", "at_risk", "off_track")
    }
    summary["reports_total"] = ProgressReport.objects.filter(measure__plan=plan).count()
    return summary
