"""Ingestion benchmark: a 1,000,000-row ``admin_penalty`` CSV on the embedded default (SQLite).

    python benchmarks/bench_ingest.py [--rows 1000000] [--subjects 100000] [--runs 3]

Builds a fresh home under a temporary folder (``qualitycity migrate``), registers the
subjects the rows refer to by bulk insert, writes the CSV (a ``--dir`` built before for the
same ``--rows``/``--subjects`` is reused), then for each run copies the pristine database
and ingests the file in a child process, reading its peak RSS (``ru_maxrss``), that of the
reader process the pipeline forks (``RUSAGE_CHILDREN``) and the largest size of the spool
folder the batches wait in between the two (sampled every 50 ms). In the same run it times a plain
``executemany`` of the same rows (the tuples the pipeline inserts, prepared beforehand) into
a bare table identical to ``records_record`` (same columns, constraints and indexes;
``WRITE_ROWS`` rows per transaction, like the pipeline), and prints rows/s for both and their
ratio. Targets (issue 2 §4): ≥ 50,000 rows/s and peak memory < 1 GB.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import random
import re
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

FIELDS = [
    "subject_name",
    "subject_code",
    "decision_no",
    "violation_type",
    "facts",
    "legal_basis",
    "penalty_category",
    "fine_amount",
    "decision_date",
    "authority",
    "authority_code",
]
CATEGORIES = ["警告", "罚款", "没收违法所得", "责令停产停业", "吊销营业执照"]
# the code list's codes of those labels (what validation turns them into)
CATEGORY_CODES = {
    "警告": "warning",
    "罚款": "fine",
    "没收违法所得": "confiscate_gains",
    "责令停产停业": "suspend_business",
    "吊销营业执照": "revoke_business_licence",
}
VIOLATIONS = ["虚假宣传", "无照经营", "产品质量不合格", "价格违法", "商标侵权", "食品安全"]


def _env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["QUALITYCITY_HOME"] = str(home)
    env["DJANGO_SETTINGS_MODULE"] = "qualitycity.settings"
    env.pop("DATABASE_URL", None)
    return env


def _codes(n: int) -> list[str]:
    from qualitycity.subjects.identifiers import org_code_check_digit, uscc_check_char

    out = []
    districts = ["370202", "370203", "370211", "370212", "370213", "370214"]
    for i in range(n):
        org8 = f"{i + 1:08d}"
        first17 = "91" + districts[i % len(districts)] + org8 + org_code_check_digit(org8)
        out.append(first17 + uscc_check_char(first17))
    return out


def build(base: Path, rows: int, subjects: int) -> tuple[Path, Path]:
    home = base / "home"
    t = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "qualitycity", "migrate", "-v0"], env=_env(home), check=True
    )
    db = home / "qualitycity.sqlite3"
    codes = _codes(subjects + 1)
    authority = codes.pop()
    names = [f"青岛测试{i}号贸易有限公司" for i in range(subjects)]
    con = sqlite3.connect(db)
    cols = [r[1] for r in con.execute("PRAGMA table_info(subjects_subject)") if r[1] != "id"]
    now = "2024-01-01 00:00:00"
    values = {
        "kind": "legal",
        "subject_type": "enterprise",
        "district": "370202",
        "industry": "36",
        "legal_representative": "王五",
        "registered_on": "2010-01-01",
        "status": "active",
        "registered_by_id": None,
        "created_at": now,
        "updated_at": now,
    }
    sql = f"INSERT INTO subjects_subject ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
    con.executemany(
        sql,
        (
            tuple(code if c == "code" else name if c == "name" else values.get(c, "") for c in cols)
            for code, name in zip(codes, names, strict=True)
        ),
    )
    con.commit()
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    print(f"fresh home with {subjects:,} subjects: {time.perf_counter() - t:.1f}s", flush=True)

    t = time.perf_counter()
    path = base / "market__admin_penalty.csv"
    rnd = random.Random(42)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(FIELDS)
        for i in range(rows):
            s = rnd.randrange(subjects)
            w.writerow(
                [
                    names[s],
                    codes[s],
                    f"青市监罚〔{2020 + i % 5}〕{i + 1}号",
                    VIOLATIONS[i % len(VIOLATIONS)],
                    "经查，当事人在经营活动中存在违法行为，事实清楚，证据确凿。",
                    "《中华人民共和国产品质量法》第四十九条",
                    CATEGORIES[i % len(CATEGORIES)],
                    f"{(i % 500) / 10:.1f}",
                    f"{2020 + i % 5}-{1 + i % 12:02d}-{1 + i % 28:02d}",
                    "青岛市市场监督管理局",
                    authority,
                ]
            )
    size = path.stat().st_size
    print(f"CSV: {rows:,} rows, {size / 1e6:.0f} MB: {time.perf_counter() - t:.1f}s", flush=True)
    return home, path


def child_ingest(path: str) -> None:
    """Runs in the child process: ingest the file and report time and peak RSS."""
    import django

    django.setup()
    from qualitycity.core.models import Department
    from qualitycity.records.services import ingest_file

    dept = Department.objects.get(code="market")
    # The batches waiting between the reader and this process are files in a spool folder
    # (shared memory where there is one): memory too, if in neither process. Sample its size.
    from qualitycity.records.ingest import pipeline

    spool_root = Path(pipeline._spool_root() or tempfile.gettempdir())
    spool_peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal spool_peak
        while not done.wait(0.05):
            size = 0
            for folder in spool_root.glob("qualitycity-ingest-*"):
                for entry in os.scandir(folder):
                    with contextlib.suppress(FileNotFoundError):  # taken meanwhile
                        size += entry.stat().st_size
            spool_peak = max(spool_peak, size)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t = time.perf_counter()
    result = ingest_file(path=Path(path), department=dept, dataset="admin_penalty", channel="cli")
    elapsed = time.perf_counter() - t
    done.set()
    sampler.join()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # The reader process the pipeline forks (ru_maxrss of the largest waited-for child).
    reader_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(
        json.dumps(
            {
                "elapsed": elapsed,
                "peak_kb": peak_kb,
                "reader_kb": reader_kb,
                "spool_kb": spool_peak // 1024,
                "result": result.as_dict(),
            }
        )
    )


def child_executemany(path: str) -> None:
    """Runs in the child: the same rows, prepared beforehand, into a bare identical table."""
    import django

    django.setup()
    from django.db import connection, transaction

    from qualitycity.core.models import Department
    from qualitycity.records.catalogue import get_dataset
    from qualitycity.records.ingest.engine import dumps
    from qualitycity.records.models import SourceFile

    ds = get_dataset("admin_penalty")
    dept = Department.objects.get(code="market")
    sf = SourceFile.objects.create(
        sha256="0" * 64,
        department=dept,
        dataset=ds.code,
        original_name="bare",
        size=0,
        channel="cli",
    )
    with connection.cursor() as cur:
        cur.execute("SELECT code, id FROM subjects_subject")
        ids = dict(cur.fetchall())
        cur.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name = 'records_record' AND sql IS NOT NULL"
        )
        ddl = [r[0] for r in cur.fetchall()]
        for stmt in ddl:
            stmt = stmt.replace('"records_record"', '"bench_bare"')
            stmt = re.sub(r'INDEX "(\w+)"', r'INDEX "bare_\1"', stmt)
            cur.execute(stmt)
    sev = ds.severity_from.map
    rows = []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        next(reader)
        for n, cells in enumerate(reader, 2):
            data = dict(zip(FIELDS, cells, strict=True))
            data["penalty_category"] = CATEGORY_CODES[data["penalty_category"]]
            rows.append(
                (
                    "admin_penalty",
                    dept.pk,
                    ids[data["subject_code"]],
                    data["decision_no"],
                    "penalty",
                    "negative",
                    sev[data["penalty_category"]],
                    data["decision_date"],
                    True,
                    1,
                    dumps(data),
                    sf.pk,
                    n,
                    "2024-01-01 00:00:00",
                )
            )
    sql = (
        "INSERT INTO bench_bare (dataset, department_id, subject_id, source_record_id, category, "
        "polarity, severity, decision_date, is_public, version, data, source_file_id, "
        "row_number, submitted_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    )
    from qualitycity.records.services import WRITE_ROWS

    t = time.perf_counter()
    for i in range(0, len(rows), WRITE_ROWS):  # the same transactions as the pipeline's
        with transaction.atomic(), connection.cursor() as cur:
            cur.executemany(sql, rows[i : i + WRITE_ROWS])
    elapsed = time.perf_counter() - t
    print(json.dumps({"elapsed": elapsed, "rows": len(rows)}))


def run_child(mode: str, home: Path, path: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(path)],
        env=_env(home),
        capture_output=True,
        text=True,
    )
    if out.returncode:
        sys.stderr.write(out.stderr)
        raise SystemExit(f"the {mode} child failed")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--subjects", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--dir", type=Path, help="work folder (default: a temporary one)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, path = args.child
        (child_ingest if mode == "ingest" else child_executemany)(path)
        return

    base = Path(args.dir or tempfile.mkdtemp(prefix="qc-bench-ingest-"))
    base.mkdir(parents=True, exist_ok=True)
    try:
        db = base / "home" / "qualitycity.sqlite3"
        pristine = base / "pristine.sqlite3"
        marker = base / "built.json"
        built = {"rows": args.rows, "subjects": args.subjects}
        if pristine.exists() and marker.exists() and json.loads(marker.read_text()) == built:
            home, path = base / "home", base / "market__admin_penalty.csv"
            print(f"reusing {base}", flush=True)
        else:
            shutil.rmtree(base / "home", ignore_errors=True)
            home, path = build(base, args.rows, args.subjects)
            shutil.copy(db, pristine)
            marker.write_text(json.dumps(built))
        ingest_rates, plain_rates, peaks = [], [], []
        for run in range(1, args.runs + 1):
            for suffix in ("-wal", "-shm"):
                Path(str(db) + suffix).unlink(missing_ok=True)
            shutil.copy(pristine, db)
            shutil.rmtree(home / "files", ignore_errors=True)
            got = run_child("ingest", home, path)
            r = got["result"]
            assert r["accepted"] == args.rows, r
            rate = args.rows / got["elapsed"]
            main_mb, reader_mb = got["peak_kb"] / 1024, got.get("reader_kb", 0) / 1024
            spool_mb = got["spool_kb"] / 1024
            peak_mb = main_mb + reader_mb + spool_mb  # all at once: their sum bounds the peak
            ingest_rates.append(rate)
            peaks.append(peak_mb)

            for suffix in ("-wal", "-shm"):
                Path(str(db) + suffix).unlink(missing_ok=True)
            shutil.copy(pristine, db)
            plain = run_child("executemany", home, path)
            plain_rate = plain["rows"] / plain["elapsed"]
            plain_rates.append(plain_rate)
            print(
                f"run {run}: ingest {got['elapsed']:.1f}s = {rate:,.0f} rows/s, peak memory "
                f"{peak_mb:,.0f} MB ({main_mb:,.0f} + reader {reader_mb:,.0f} + spool "
                f"{spool_mb:,.0f}); "
                f"plain executemany {plain['elapsed']:.1f}s = "
                f"{plain_rate:,.0f} rows/s; ratio {rate / plain_rate:.2f}",
                flush=True,
            )
        med = statistics.median
        print(
            f"\nmedian of {args.runs} run(s), {args.rows:,} rows, {args.subjects:,} subjects, "
            f"SQLite {sqlite3.sqlite_version}:\n"
            f"  ingest            {med(ingest_rates):>10,.0f} rows/s (target >= 50,000)\n"
            f"  plain executemany {med(plain_rates):>10,.0f} rows/s\n"
            f"  ratio             {med(ingest_rates) / med(plain_rates):>10.2f}\n"
            f"  peak memory       {max(peaks):>10,.0f} MB "
            "(max of main + reader + spool; target < 1,024)"
        )
    finally:
        if not args.dir:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
