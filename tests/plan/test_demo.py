"""The plan's demo: registries loaded from files (with quarantine), two years of quarterly
reports (late, returned and refiled, never filed), assessments, notices and a release —
deterministic for a seed."""

from __future__ import annotations

import datetime as dt

from qualitycity.demo.plan_demo import demo_plan, write_registry_files
from qualitycity.plan.models import (
    Assessment,
    PlanRelease,
    ProgressReport,
    ReportEvent,
    Trademark,
)


def test_demo_plan(plan, register_subjects, make_user, tmp_path):
    register_subjects({n: f"青岛演示{n}号有限公司" for n in range(1, 41)})
    make_user("quality", "quality_office")
    summary = demo_plan(today=dt.date(2021, 3, 1), seed=5, folder=tmp_path / "plan")
    assert summary["registries"]["trademarks"]["accepted"] == 3000
    assert summary["registries"]["trademarks"]["rejected"] == 1
    assert summary["registries"]["standards"]["rejected"] == 3
    assert all(r["accepted"] > 0 for r in summary["registries"].values())
    assert Trademark.objects.count() == 3000
    reports = summary["reports"]
    assert reports["late"] > 0 and reports["returned"] > 0 and reports["flagged"] > 0
    assert reports["left_open"] == 2
    accepted = ProgressReport.objects.filter(status="accepted").count()
    assert accepted == reports["filed"] - 2
    open_reports = ProgressReport.objects.filter(period="2020Q4", department__code="market")
    assert set(open_reports.exclude(status="accepted").values_list("status", flat=True)) == {
        "returned",
        "submitted",
    }
    assert ReportEvent.objects.filter(kind="resubmitted").count() == reports["returned"]
    assert summary["assessments"] == [2019, 2020]
    assert Assessment.objects.get(year=2020).scores.count() > 5
    assert PlanRelease.objects.count() == 1 and summary["notices"] > 0
    assert sum(summary["targets"].values()) >= 20


def test_registry_files_are_deterministic(plan, register_subjects, tmp_path):
    register_subjects({n: f"青岛演示{n}号有限公司" for n in range(1, 11)})
    a = write_registry_files(tmp_path / "a", seed=3)
    b = write_registry_files(tmp_path / "b", seed=3)
    assert [p.read_bytes() for _, p in a] == [p.read_bytes() for _, p in b]
    c = write_registry_files(tmp_path / "c", seed=4)
    assert [p.read_bytes() for _, p in a] != [p.read_bytes() for _, p in c]
