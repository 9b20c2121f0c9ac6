"""The draw of a "double random" inspection plan: 1,000,000 subjects, 500 inspectors (SQLite).

    python benchmarks/bench_draw.py [--dir DIR] [--subjects 1000000] [--inspectors 500]
                                    [--rounds 3] [--rebuild] [--json]

Builds once (and reuses while ``--subjects``/``--inspectors`` are unchanged) a platform home
under ``DIR`` (default ``./var/bench-draw``): a migrated SQLite database with ``--subjects``
legal entities (six districts, ten industries), a finished credit evaluation run classing them
(A 40 %, B 45 %, C 10 %, D 5 %), ``--inspectors`` inspectors of the market regulator (60 %) and
the health commission (40 %) with qualifications and home districts, and 1,000 declared
conflicts of interest — inserted with plain ``executemany`` (this measures the draw, not the
build).

Each round creates a joint plan (market + health, the documented default ratios A 5 %, B 20 %,
C 40 %, D 80 %, two inspectors a task, home district avoided) and measures:

1. baseline: reading both pools (``services.build_pools``: the subject ids and districts, the
   classes of the latest run, the inspectors) — what any draw must at least do;
2. the draw end to end (``services.plan_draw``: read the pools, sample, staff every task,
   serialise and hash the snapshots, store the draw, bulk-insert the tasks and assignments,
   commit);
3. verification (``services.draw_verify``: decompress, hash, re-draw, compare with the stored
   tasks).

Prints the median of ``--rounds`` runs of each and the ratio draw / baseline. Target: the draw
< 10 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED = 2026
DISTRICTS = ("370202", "370203", "370211", "370212", "370213", "370214")
INDUSTRIES = ("13", "14", "18", "29", "34", "51", "52", "61", "62", "72")
CLASSES = (("A", 40), ("B", 45), ("C", 10), ("D", 5))


def setup_django(home: Path) -> None:
    os.environ["QUALITYCITY_HOME"] = str(home)
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "qualitycity.settings")
    sys.path.insert(0, str(ROOT / "src"))
    import django

    django.setup()


def subject_code(n: int) -> str:
    from qualitycity.subjects.identifiers import org_code_check_digit, uscc_check_char

    org8 = f"{n:08d}"
    first17 = "91" + DISTRICTS[n % 6] + org8 + org_code_check_digit(org8)
    return first17 + uscc_check_char(first17)


def build(subjects: int, inspectors: int, log) -> dict:
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from qualitycity.core.models import Department
    from qualitycity.core.services import department_sync
    from qualitycity.credit.models import EvaluationResult, EvaluationRun
    from qualitycity.subjects.models import Subject
    from qualitycity.supervision.models import ConflictOfInterest, Inspector

    call_command("migrate", verbosity=0)
    department_sync()
    stats: dict = {
        "reused": Subject.objects.count() == subjects
        and Inspector.objects.count() == inspectors
        and EvaluationRun.objects.filter(status="done").exists()
    }
    if stats["reused"]:
        return stats
    started = time.perf_counter()
    q = connection.ops.quote_name
    with connection.cursor() as cur:
        for model in (
            "supervision_taskassignment",
            "supervision_inspectionresult",
            "supervision_inspectiontask",
            "supervision_planitem",
            "supervision_conflictofinterest",
            "supervision_inspector",
        ):
            cur.execute(f"DELETE FROM {model}")  # noqa: S608
        cur.execute("UPDATE supervision_inspectionplan SET current_draw_id = NULL")
        cur.execute("DELETE FROM supervision_drawattempt")
        cur.execute("DELETE FROM supervision_inspectionplan")
        cur.execute(f"DELETE FROM {EvaluationResult._meta.db_table}")  # noqa: S608
        cur.execute(f"DELETE FROM {EvaluationRun._meta.db_table}")  # noqa: S608
        cur.execute(f"DELETE FROM {Subject._meta.db_table}")  # noqa: S608
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    market = Department.objects.get(code="market").pk
    log(f"inserting {subjects:,} subjects")
    batch = 50_000
    sql = (
        f"INSERT INTO {q(Subject._meta.db_table)} (id, code, kind, name, subject_type, district, "
        "industry, legal_representative, status, registered_by_id, created_at, updated_at) "
        "VALUES (%s, %s, 'legal', %s, 'enterprise', %s, %s, '', 'active', %s, %s, %s)"
    )
    for start in range(0, subjects, batch):
        rows = [
            (
                n + 1,
                subject_code(n),
                f"青岛测试{n}有限公司",
                DISTRICTS[n % 6],
                INDUSTRIES[n % 10],
                market,
                now,
                now,
            )
            for n in range(start, min(subjects, start + batch))
        ]
        with transaction.atomic(), connection.cursor() as cur:
            cur.executemany(sql, rows)
    log("classing them in one evaluation run")
    run = EvaluationRun.objects.create(
        engine="sqlite",
        as_of=dt.date.today(),
        status="done",
        finished_at=timezone.now(),
        subjects_evaluated=subjects,
    )
    rng = random.Random(SEED)
    letters = [c for c, w in CLASSES for _ in range(w)]
    sql = (
        f"INSERT INTO {q(EvaluationResult._meta.db_table)} (run_id, subject_id, scorecard, "
        "scorecard_version, score, risk_class, previous_class, override, contributions) "
        "VALUES (%s, %s, 'bench', '1', 80, %s, '', '', '{}')"
    )
    counts: dict[str, int] = {}
    for start in range(0, subjects, batch):
        rows = []
        for n in range(start, min(subjects, start + batch)):
            cls = letters[rng.randrange(100)]
            counts[cls] = counts.get(cls, 0) + 1
            rows.append((run.pk, n + 1, cls))
        with transaction.atomic(), connection.cursor() as cur:
            cur.executemany(sql, rows)
    EvaluationRun.objects.filter(pk=run.pk).update(class_counts=counts)
    log(f"inserting {inspectors:,} inspectors and 1,000 conflicts")
    health = Department.objects.get(code="health").pk
    with transaction.atomic():
        objs = []
        for k in range(inspectors):
            dept = market if k % 5 < 3 else health
            quals = ["food", "product"] if dept == market else ["hygiene"]
            objs.append(
                Inspector(
                    badge_no=f"B{k:05d}",
                    name=f"检查员{k}",
                    department_id=dept,
                    qualifications=quals if k % 4 else quals[:1],
                    district=DISTRICTS[k % 6],
                )
            )
        Inspector.objects.bulk_create(objs)
        ids = list(Inspector.objects.values_list("id", flat=True))
        pairs = set()
        while len(pairs) < 1000:
            pairs.add((rng.choice(ids), rng.randrange(1, subjects + 1)))
        ConflictOfInterest.objects.bulk_create(
            [ConflictOfInterest(inspector_id=i, subject_id=s, reason="bench") for i, s in pairs]
        )
    stats["build_seconds"] = round(time.perf_counter() - started, 1)
    return stats


def one_round(k: int) -> dict:
    from django.db import close_old_connections

    from qualitycity.supervision import services

    close_old_connections()
    plan = services.plan_create(
        actor=None,
        name=f"bench {k}",
        items=[
            {"department": "market", "matter": "食品安全检查", "qualification": "food"},
            {"department": "health", "matter": "公共场所卫生检查", "qualification": "hygiene"},
        ],
        avoid_home_district=True,
    )
    t = time.perf_counter()
    subjects, inspectors, _run = services.build_pools(plan)
    baseline = time.perf_counter() - t
    del subjects, inspectors
    t = time.perf_counter()
    attempt = services.plan_draw(plan=plan, actor=None)
    draw = time.perf_counter() - t
    t = time.perf_counter()
    v = services.draw_verify(attempt=attempt)
    verify = time.perf_counter() - t
    if not v.ok:
        raise SystemExit(f"verification failed: {v.problems[:3]}")
    return {
        "baseline": baseline,
        "draw": draw,
        "verify": verify,
        "pool": attempt.pool_size,
        "inspectors": attempt.inspector_count,
        "tasks": attempt.task_count,
        "unstaffed": len(attempt.unstaffed),
        "class_counts": attempt.class_counts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", type=Path, default=ROOT / "var" / "bench-draw")
    parser.add_argument("--subjects", type=int, default=1_000_000)
    parser.add_argument("--inspectors", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    home = args.dir.resolve()
    if args.rebuild and home.exists():
        for name in ("qualitycity.sqlite3", "qualitycity.sqlite3-wal", "qualitycity.sqlite3-shm"):
            (home / name).unlink(missing_ok=True)
    home.mkdir(parents=True, exist_ok=True)
    setup_django(home)

    def log(msg: str) -> None:
        if not args.json:
            print(msg, file=sys.stderr, flush=True)

    stats = build(args.subjects, args.inspectors, log)
    log("building: reused" if stats["reused"] else f"built in {stats['build_seconds']} s")
    rounds = []
    for k in range(args.rounds):
        r = one_round(k)
        rounds.append(r)
        log(
            f"round {k + 1}: read pools {r['baseline']:.2f} s, draw {r['draw']:.2f} s, "
            f"verify {r['verify']:.2f} s ({r['tasks']:,} tasks, {r['unstaffed']} unstaffed)"
        )
    med = {key: statistics.median(r[key] for r in rounds) for key in ("baseline", "draw", "verify")}
    out = {
        "subjects": args.subjects,
        "inspectors": args.inspectors,
        "rounds": args.rounds,
        "tasks": rounds[-1]["tasks"],
        "unstaffed": rounds[-1]["unstaffed"],
        "class_counts": rounds[-1]["class_counts"],
        "median_seconds": {k: round(v, 3) for k, v in med.items()},
        "ratio_draw_to_baseline": round(med["draw"] / med["baseline"], 2),
        "ratio_verify_to_baseline": round(med["verify"] / med["baseline"], 2),
        "target_draw_seconds": 10,
        "met": med["draw"] < 10,
        **stats,
    }
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return
    print(
        f"{args.subjects:,} subjects, {args.inspectors} inspectors, {out['tasks']:,} tasks "
        f"(pool/drawn by class: {out['class_counts']}), {out['unstaffed']} unstaffed"
    )
    print(f"median of {args.rounds}: read the pools (baseline) {med['baseline']:.2f} s")
    print(
        f"                draw (end to end)          {med['draw']:.2f} s  "
        f"= {out['ratio_draw_to_baseline']}× baseline  (target < 10 s: "
        f"{'met' if out['met'] else 'NOT met'})"
    )
    print(
        f"                verify (re-draw, compare)  {med['verify']:.2f} s  "
        f"= {out['ratio_verify_to_baseline']}× baseline"
    )


if __name__ == "__main__":
    main()
