"""Credit evaluation benchmark: 1,000,000 subjects × 20 records on the embedded default (SQLite).

    python benchmarks/bench_evaluate.py [--subjects 1000000] [--records-per-subject 20]
                                        [--home /tmp/bench-evaluate] [--repeat 3]
                                        [--as-of 2026-10-31] [--skip-sqlite] [--skip-spark]
                                        [--read-split] [--json FILE]

Builds once (and reuses while the parameters are unchanged) a platform home under ``--home``
holding a migrated SQLite database with ``--subjects`` subjects that the enterprise scorecard
evaluates (enterprises and a few farmers' co-operatives, active or revoked), plus 4 % cancelled
enterprises and 5 % individual businesses that it skips, and on average ``--records-per-subject``
records per subject (negative binomial, so most subjects have a few and some have many) across
the twelve datasets the scorecard reads, decided over the five years before the as-of date
(2 % older, 1 % after it). Data, severity and polarity follow the catalogue (``severity_from`` /
``polarity_from``); records are stored in arrival order (by month and dataset, one source file
per dataset and month), loaded with plain ``executemany`` (indexes built afterwards), not
through the ingestion pipeline. One evaluation run is stored at build time, so every measured
run has a previous run to compare classes with, as in steady operation. Fixed random seed.

Then (medians of ``--repeat`` runs):

1. end to end: ``evaluate(engine="duckdb", as_of=…, scorecard="enterprise")``, wall time and
   its read / compute / store split (``run.timings``), plus what lies outside the split (the
   request check, what the run records as read, the commit); store is split into the SQLite
   inserts, the read of the previous run's classes and the rest. Each run is a fresh child
   process (one export per process: see ``child_end_to_end``; duckdb and ibis are imported
   before the clock starts, as in a long-lived worker) and is deleted afterwards (untimed); a
   run that fails is retried (twice at most) and its error counted in the summary.
2. in this process, the records exported once to Arrow (``engines.export_arrow``), then, per
   repeat, the compiled expression on ``DuckDBEngine`` over those tables and a hand-written
   DuckDB SQL query computing the same score and class over the same tables; both
   give exactly the same subjects, scores, classes and overrides (checked). Compute ratio =
   engine compute / hand SQL (target ≤ 2), the median of the per-repeat ratios (the two run
   back to back, so a change of load on the machine touches both); also in CPU seconds.
3. the ``sqlite`` engine (temporary views over the operational database, ``--skip-sqlite``).
4. the ``spark`` engine in local mode (``local[2]``) over the same Arrow tables
   (``--skip-spark``): session start, Parquet + registration, compute.

``--read-split`` also times the export query in parts (plain columns, ``data`` text, JSON
fields; through the index and by a sequential scan) and the records-read count.

Peak memory is printed per phase (the child's ``ru_maxrss``; VmHWM, reset per phase, in this
process); the Spark JVM's separately.
Targets: end to end ≤ 60 s; compute within 2× of the hand-written query.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

E2E_TARGET_S = 60.0
RATIO_TARGET = 2.0

# --- the synthetic city ------------------------------------------------------------------------

DISTRICTS = [
    ("370202", "市南区"),
    ("370203", "市北区"),
    ("370211", "黄岛区"),
    ("370212", "崂山区"),
    ("370213", "李沧区"),
    ("370214", "城阳区"),
    ("370215", "即墨区"),
    ("370281", "胶州市"),
    ("370283", "平度市"),
    ("370285", "莱西市"),
]
TRADE_CHARS = "海天蓝润恒泰鑫源华盛宏达瑞丰金隆信诚德佳鹏程远博聚福鸿运星辰东方明嘉兴广利顺通安康"
INDUSTRIES = [
    ("51", "贸易"),
    ("65", "科技"),
    ("14", "食品"),
    ("34", "机械"),
    ("48", "建筑工程"),
    ("58", "物流"),
    ("39", "电子"),
    ("18", "服装"),
    ("04", "水产"),
    ("26", "化工"),
]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华玉萍红鹏辉玲丹宁浩宇晨欣怡"
SHOPS = ["便利店", "小吃店", "超市", "理发店", "五金店", "水果店", "海鲜店", "饭店"]

# dataset → (share of records, code field, {code: weight}); shares sum to 1.
DATASETS: dict[str, tuple[float, str | None, dict[str, float]]] = {
    "inspection_result": (
        0.39,
        "outcome",
        {
            "conforming": 86,
            "issues_found": 6,
            "rectification_ordered": 4,
            "penalty_referred": 2,
            "not_found": 3,
        },
    ),
    "tax_rating": (0.20, "grade", {"A": 22, "B": 55, "M": 15, "C": 6, "D": 2}),
    "spot_check_result": (0.14, "result", {"pass": 94, "fail": 6}),
    "admin_penalty": (
        0.08,
        "penalty_category",
        {
            "warning": 35,
            "fine": 52,
            "confiscate_gains": 5,
            "confiscate_property": 1,
            "suspend_business": 1.5,
            "suspend_licence": 2,
            "revoke_licence": 0.3,
            "revoke_business_licence": 0.2,
            "detention": 0.3,
            "other": 2,
        },
    ),
    "honour": (0.05, "level", {"national": 5, "provincial": 15, "municipal": 35, "district": 45}),
    "customs_aeo": (
        0.04,
        "level",
        {"advanced": 15, "general": 30, "credit_enterprise": 50, "dishonest": 5},
    ),
    "social_insurance_arrears": (0.03, None, {}),
    "food_safety_violation": (0.025, None, {}),
    "environmental_penalty": (0.02, None, {}),
    "ip_infringement_penalty": (0.015, None, {}),
    "court_enforcement": (0.005, "status", {"listed": 10, "fulfilled": 60, "removed": 30}),
    "work_safety_accident": (
        0.005,
        "level",
        {"ordinary": 75, "larger": 19, "major": 5, "extraordinary": 1},
    ),
}
FINED = {
    "admin_penalty",
    "food_safety_violation",
    "environmental_penalty",
    "ip_infringement_penalty",
}
ID_PREFIX = {
    "inspection_result": "JC",
    "tax_rating": "PJ",
    "spot_check_result": "SC",
    "admin_penalty": "青市监罚〔{y}〕",
    "honour": "青表〔{y}〕",
    "customs_aeo": "AEOCN",
    "social_insurance_arrears": "QSB",
    "food_safety_violation": "SPAJ",
    "environmental_penalty": "青环罚〔{y}〕",
    "ip_infringement_penalty": "青知罚〔{y}〕",
    "court_enforcement": "（{y}）鲁02执",
    "work_safety_accident": "SG",
}
VIOLATIONS = ["虚假宣传", "无照经营", "产品质量不合格", "价格违法", "商标侵权", "未按规定公示信息"]
ITEMS = ["市容环境卫生检查", "产品质量检查", "食品经营检查", "安全生产检查", "广告发布检查"]
PRODUCTS = ["预拌混凝土", "电线电缆", "儿童服装", "食品用塑料包装", "家用电器", "钢筋"]
POLLUTANTS = ["化学需氧量超标排放", "未批先建", "危险废物处置不当", "扬尘污染"]
RIGHTS = ["商标权", "专利权", "著作权"]
AWARDS = ["质量奖", "守合同重信用企业", "诚信示范企业", "农民合作社示范社"]
FOOD = ["经营标签不符合规定的预包装食品", "经营超过保质期的食品", "未取得许可从事食品经营"]


def _pick(rng, weights: dict[str, float], size: int):
    import numpy as np

    p = np.array(list(weights.values()), dtype=float)
    return rng.choice(len(p), size=size, p=p / p.sum())


def _data(code, seq, day, year, sname, scode, value, fine, k) -> dict:
    """The ``data`` of one record, shaped like the catalogue's fields (as ingestion stores it)."""
    base = {"subject_code": scode, "subject_name": sname}
    rid = ID_PREFIX[code].format(y=year) + f"{seq:09d}"
    if code == "admin_penalty":
        base.update(
            decision_no=rid + "号",
            violation_type=VIOLATIONS[k % 6],
            facts="经查，当事人在经营活动中存在违法行为，事实清楚，证据确凿。",
            legal_basis="《中华人民共和国产品质量法》第四十九条",
            penalty_category=value,
            decision_date=day,
            authority="青岛市市场监督管理局",
            authority_code="11370200MB28363970",
        )
        if fine is not None:
            base["fine_amount"] = fine
    elif code == "inspection_result":
        base.update(
            inspection_no=rid,
            inspection_item=ITEMS[k % 5],
            inspection_date=day,
            outcome=value,
            authority="青岛市市场监督管理局",
        )
    elif code == "tax_rating":
        base.update(rating_id=rid, year=year - 1, grade=value, rated_on=day)
    elif code == "spot_check_result":
        base.update(
            sample_no=rid,
            product=PRODUCTS[k % 6],
            batch=f"{day}/H{k % 100000:05d}",
            result=value,
            standard="GB/T 14902-2012",
            result_date=day,
        )
    elif code == "honour":
        base.update(
            award_no=rid + "号",
            award=AWARDS[k % 4],
            level=value,
            awarding_body="青岛市人民政府",
            awarded_on=day,
        )
    elif code == "customs_aeo":
        base.update(certificate_no=rid, level=value, certified_on=day)
    elif code == "social_insurance_arrears":
        base.update(
            case_no=rid,
            months_in_arrears=1 + k % 12,
            amount=f"{(k % 900000) / 10 + 1000:.2f}",
            determined_on=day,
        )
    elif code == "court_enforcement":
        base.update(
            case_no=rid + "号",
            court="青岛市中级人民法院",
            obligation="支付货款及利息",
            amount=f"{(k % 5000000) / 10 + 5000:.2f}",
            status=value,
            published_on=day,
        )
    elif code == "food_safety_violation":
        base.update(case_no=rid, violation=FOOD[k % 3], decision_date=day)
        if fine is not None:
            base["fine_amount"] = fine
    elif code == "environmental_penalty":
        base.update(decision_no=rid + "号", pollutant=POLLUTANTS[k % 4], decision_date=day)
        if fine is not None:
            base["fine_amount"] = fine
    elif code == "ip_infringement_penalty":
        base.update(decision_no=rid + "号", right_type=RIGHTS[k % 3], decision_date=day)
        if fine is not None:
            base["fine_amount"] = fine
    elif code == "work_safety_accident":
        base.update(
            accident_no=rid,
            occurred_on=day,
            level=value,
            deaths=0 if value in ("ordinary", "larger") else 3 + k % 8,
            injuries=k % 5,
            concluded_on=day,
        )
    return base


def _codes_for(kinds: list[str], districts: list[str]) -> list[str]:
    from qualitycity.subjects.identifiers import org_code_check_digit, uscc_check_char

    out = []
    for i, (kind, district) in enumerate(zip(kinds, districts, strict=True)):
        org8 = f"{i + 1:08d}"
        first17 = kind + district + org8 + org_code_check_digit(org8)
        out.append(first17 + uscc_check_char(first17))
    return out


def build(home: Path, args: argparse.Namespace, log) -> dict:
    """Migrate, then load subjects, source files and records with plain SQL."""
    import numpy as np
    from django.core.management import call_command
    from django.db import connection

    from qualitycity.records.catalogue import get_dataset
    from qualitycity.records.ingest.engine import dumps

    t_all = time.perf_counter()
    call_command("migrate", verbosity=0)
    connection.close()
    db = home / "qualitycity.sqlite3"
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA journal_mode=OFF")
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA cache_size=-2000000")
    con.execute("PRAGMA temp_store=MEMORY")
    depts = dict(con.execute("SELECT code, id FROM core_department"))
    rng = np.random.default_rng(args.seed)
    as_of = args.as_of
    now = f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M:%S}"

    # Subjects: N evaluated (enterprise 97 %, co-op 3 %; revoked 3.5 %), plus cancelled
    # enterprises and individual businesses the enterprise scorecard does not evaluate.
    t = time.perf_counter()
    n_eval = args.subjects
    n_cancel = round(n_eval * 0.04)
    n_indiv = round(n_eval * 0.05)
    total = n_eval + n_cancel + n_indiv
    role = np.repeat(np.array([0, 1, 2], dtype=np.int8), [n_eval, n_cancel, n_indiv])
    rng.shuffle(role)
    u = rng.random(total)
    stype = np.where(role == 2, 2, np.where((role == 0) & (u < 0.03), 1, 0))  # ent, coop, indiv
    status = np.where(role == 1, 2, np.where((role == 0) & (rng.random(total) < 0.035), 1, 0))
    # Registration: 8 % in the last year, 14 % one to three years before, the rest 3-30 years;
    # 0.3 % without a date, 0.2 % registered after the as-of date (not evaluated yet).
    r = rng.random(total)
    days = np.where(
        r < 0.08,
        rng.integers(0, 365, total),
        np.where(r < 0.22, rng.integers(365, 1096, total), rng.integers(1096, 10958, total)),
    )
    days = np.where(rng.random(total) < 0.002, -rng.integers(1, 25, total), days)
    no_date = rng.random(total) < 0.003
    base_ord = as_of.toordinal()
    district_i = rng.integers(0, len(DISTRICTS), total)
    industry_i = rng.integers(0, len(INDUSTRIES), total)
    type_names = ["enterprise", "farmers_coop", "individual_business"]
    status_names = ["active", "revoked", "cancelled"]
    kind_codes = ["91", "93", "92"]
    codes = _codes_for(
        [kind_codes[s] for s in stype.tolist()], [DISTRICTS[d][0] for d in district_i.tolist()]
    )
    chars = rng.integers(0, len(TRADE_CHARS), (total, 2)).tolist()
    pers = rng.integers(0, 1000, (total, 3)).tolist()
    names, reps = [], []
    for i in range(total):
        a, b = chars[i]
        p = pers[i]
        person = (
            SURNAMES[p[0] % len(SURNAMES)] + GIVEN[p[1] % len(GIVEN)] + GIVEN[p[2] % len(GIVEN)]
        )
        reps.append(person)
        district = DISTRICTS[district_i[i]][1]
        if stype[i] == 2:
            names.append(f"青岛市{district}{person[1:]}{SHOPS[p[0] % len(SHOPS)]}")
        elif stype[i] == 1:
            names.append(f"青岛市{district}{TRADE_CHARS[a]}{TRADE_CHARS[b]}蔬菜种植专业合作社")
        else:
            word = INDUSTRIES[industry_i[i]][1]
            names.append(f"青岛{TRADE_CHARS[a]}{TRADE_CHARS[b]}{word}有限公司{i + 1}")
    cols = [r[1] for r in con.execute("PRAGMA table_info(subjects_subject)")]
    market = depts["market"]

    def subject_rows():
        for i in range(total):
            reg = None if no_date[i] else dt.date.fromordinal(base_ord - int(days[i])).isoformat()
            values = {
                "id": i + 1,
                "created_at": now,
                "updated_at": now,
                "code": codes[i],
                "kind": "legal",
                "name": names[i],
                "subject_type": type_names[stype[i]],
                "district": DISTRICTS[district_i[i]][0],
                "industry": INDUSTRIES[industry_i[i]][0] if stype[i] != 2 else "52",
                "legal_representative": reps[i],
                "registered_on": reg,
                "status": status_names[status[i]],
                "registered_by_id": market,
            }
            yield tuple(values[c] for c in cols)

    con.execute("BEGIN")
    con.executemany(
        f"INSERT INTO subjects_subject ({', '.join(cols)}) "  # noqa: S608
        f"VALUES ({', '.join('?' * len(cols))})",
        subject_rows(),
    )
    con.execute("COMMIT")
    log(f"  {total:,} subjects ({n_eval:,} evaluated): {time.perf_counter() - t:.1f}s")

    # Records: how many per subject, which dataset, when decided, the coded value.
    t = time.perf_counter()
    mean = args.records_per_subject
    per_subject = rng.negative_binomial(2, 2 / (2 + mean), total)
    m = int(per_subject.sum())
    subj = np.repeat(np.arange(1, total + 1, dtype=np.int64), per_subject)
    names_ds = list(DATASETS)
    share = np.array([DATASETS[c][0] for c in names_ds])
    ds_i = rng.choice(len(names_ds), size=m, p=share / share.sum())
    r = rng.random(m)
    back = np.where(
        r < 0.97,
        rng.integers(0, 1826, m),
        np.where(r < 0.99, rng.integers(1826, 3652, m), -rng.integers(1, 28, m)),
    )
    ordinal = base_ord - back
    value_i = np.zeros(m, dtype=np.int64)
    for j, code in enumerate(names_ds):
        weights = DATASETS[code][2]
        if weights:
            sel = ds_i == j
            value_i[sel] = _pick(rng, weights, int(sel.sum()))
    fined = rng.random(m) < 0.9
    fine_val = np.round(np.exp(rng.normal(-0.5, 1.4, m)), 2)  # 万元, median ≈ 0.6
    aux = rng.integers(0, 1 << 30, m)
    month = (ordinal - ordinal.min()) // 30  # arrival: files per dataset and month
    order = np.lexsort((ordinal, ds_i, month))
    log(f"  {m:,} records drawn: {time.perf_counter() - t:.1f}s")

    # One source file per (dataset, month), as departments submit them.
    t = time.perf_counter()
    sf_key = month[order] * len(names_ds) + ds_i[order]
    keys, first, counts = np.unique(sf_key, return_index=True, return_counts=True)
    sf_cols = [r[1] for r in con.execute("PRAGMA table_info(records_sourcefile)")]
    dept_of = {c: depts[get_dataset(c).departments[0]] for c in names_ds}
    con.execute("BEGIN")
    for n, (key, cnt) in enumerate(zip(keys.tolist(), counts.tolist(), strict=True), 1):
        code = names_ds[key % len(names_ds)]
        name = f"{code}-{key // len(names_ds):03d}.csv"
        values = {
            "id": n,
            "created_at": now,
            "updated_at": now,
            "sha256": hashlib.sha256(name.encode()).hexdigest(),
            "dataset": code,
            "original_name": name,
            "stored_path": f"bench/{name}",
            "size": cnt * 300,
            "file_format": "csv",
            "encoding": "utf-8",
            "channel": "cli",
            "status": "processed",
            "refusal_code": "",
            "refusal_message": "",
            "rows": cnt,
            "accepted": cnt,
            "rejected": 0,
            "duplicates": 0,
            "updated": 0,
            "reasons": "{}",
            "processed_at": now,
            "api_client_id": None,
            "department_id": dept_of[code],
            "job_id": None,
            "submitted_by_id": None,
            "backfill": True,
            "received_at": now,
        }
        con.execute(
            f"INSERT INTO records_sourcefile ({', '.join(sf_cols)}) "  # noqa: S608
            f"VALUES ({', '.join('?' * len(sf_cols))})",
            tuple(values[c] for c in sf_cols),
        )
    con.execute("COMMIT")
    sf_of_row = np.searchsorted(keys, sf_key) + 1  # ids 1..len(keys), in key order
    row_no = np.arange(m) - first[sf_of_row - 1] + 2
    del sf_key

    # Secondary indexes are dropped for the load and built afterwards (same DDL).
    ddl = [
        (name, sql)
        for name, sql in con.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
            "AND tbl_name = 'records_record' AND sql IS NOT NULL"
        )
    ]
    for name, _sql in ddl:
        con.execute(f'DROP INDEX "{name}"')
    lo = int(ordinal.min())
    day_text = [dt.date.fromordinal(o).isoformat() for o in range(lo, int(ordinal.max()) + 1)]
    today = dt.date.today().toordinal()
    submitted = [
        f"{dt.date.fromordinal(min(o + 5, today)).isoformat()} 10:00:00"
        for o in range(lo, int(ordinal.max()) + 1)
    ]
    catalog = {c: get_dataset(c) for c in names_ds}
    derived: dict[tuple[str, str | None], tuple[str, int, bool]] = {}
    value_names = {c: list(DATASETS[c][2]) for c in names_ds}
    insert = (
        "INSERT INTO records_record (dataset, source_record_id, category, polarity, severity, "
        "decision_date, is_public, version, data, row_number, submitted_at, department_id, "
        "source_file_id, subject_id) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?)"
    )
    chunk = 500_000
    for start in range(0, m, chunk):
        idx = order[start : start + chunk]
        c_subj = subj[idx].tolist()
        c_ds = ds_i[idx].tolist()
        c_day = (ordinal[idx] - lo).tolist()
        c_val = value_i[idx].tolist()
        c_fined = fined[idx].tolist()
        c_fine = fine_val[idx].tolist()
        c_aux = aux[idx].tolist()
        c_sf = sf_of_row[start : start + chunk].tolist()
        c_row = row_no[start : start + chunk].tolist()
        rows = []
        for j in range(len(idx)):
            code = names_ds[c_ds[j]]
            field = DATASETS[code][1]
            value = value_names[code][c_val[j]] if field else None
            fine = None
            if code in FINED and c_fined[j] and value != "warning":
                fine = f"{c_fine[j]:.2f}".rstrip("0").rstrip(".") or "0.01"
            day = day_text[c_day[j]]
            s = c_subj[j] - 1
            data = _data(
                code, start + j + 1, day, int(day[:4]), names[s], codes[s], value, fine, c_aux[j]
            )
            key = (code, value)
            got = derived.get(key)
            if got is None:
                got = derived[key] = catalog[code].derive(data)
            polarity, severity, public = got
            rows.append(
                (
                    code,
                    data.get(catalog[code].keys["record_id"]),
                    catalog[code].category,
                    polarity,
                    severity,
                    day,
                    public,
                    dumps(data),
                    c_row[j],
                    submitted[c_day[j]],
                    dept_of[code],
                    c_sf[j],
                    c_subj[j],
                )
            )
        con.execute("BEGIN")
        con.executemany(insert, rows)
        con.execute("COMMIT")
        done = start + len(idx)
        if done % 5_000_000 < chunk or done == m:
            log(f"  {done:>11,} records  {time.perf_counter() - t:7.1f}s")
    t_idx = time.perf_counter()
    for _name, sql in ddl:
        con.execute(sql)
    log(f"  indexes rebuilt: {time.perf_counter() - t_idx:.1f}s")
    con.execute("PRAGMA journal_mode=WAL")
    con.close()
    records_s = time.perf_counter() - t

    size = sum(p.stat().st_size for p in home.glob("qualitycity.sqlite3*"))
    return {
        "subjects": total,
        "evaluated": n_eval,
        "records": m,
        "records_seconds": round(records_s, 1),
        "build_seconds": round(time.perf_counter() - t_all, 1),
        "database_mb": round(size / 2**20),
    }


# --- the hand-written query -------------------------------------------------------------------

HAND_SQL = """
WITH r AS (
    SELECT
        subject_id,
        sum(CASE WHEN decision_date > DATE '{d12}' THEN 1000
                 WHEN decision_date > DATE '{d24}' THEN 600 ELSE 300 END)
            FILTER (WHERE dataset = 'admin_penalty' AND severity = 1
                    AND decision_date > DATE '{d36}') AS pen_general,
        sum(CASE WHEN decision_date > DATE '{d12}' THEN 1000
                 WHEN decision_date > DATE '{d24}' THEN 600 ELSE 300 END)
            FILTER (WHERE dataset = 'admin_penalty' AND severity IN (2, 3)
                    AND decision_date > DATE '{d36}') AS pen_serious,
        sum(CASE WHEN decision_date > DATE '{d12}' THEN 1000
                 WHEN decision_date > DATE '{d24}' THEN 600 ELSE 300 END)
            FILTER (WHERE dataset IN ('food_safety_violation', 'environmental_penalty',
                                      'ip_infringement_penalty')
                    AND decision_date > DATE '{d36}') AS field_violations,
        sum(CAST(round(n_fine_amount * 10000) AS BIGINT))
            FILTER (WHERE dataset IN ('admin_penalty', 'food_safety_violation',
                                      'environmental_penalty', 'ip_infringement_penalty')
                    AND decision_date > DATE '{d36}') AS fines_yuan,
        count(*) FILTER (WHERE dataset = 'spot_check_result' AND f_result = 'fail'
                         AND decision_date > DATE '{d24}') AS spot_fail,
        count(*) FILTER (WHERE dataset = 'inspection_result'
                         AND f_outcome IN ('issues_found', 'rectification_ordered',
                                           'penalty_referred', 'not_found')
                         AND decision_date > DATE '{d24}') AS inspection_issues,
        count(*) FILTER (WHERE dataset = 'work_safety_accident'
                         AND decision_date > DATE '{d36}') AS accidents,
        count(*) FILTER (WHERE dataset = 'social_insurance_arrears'
                         AND decision_date > DATE '{d24}') AS arrears,
        count(*) FILTER (WHERE dataset = 'court_enforcement' AND f_status = 'fulfilled'
                         AND decision_date > DATE '{d36}') AS enforcement,
        bool_or(dataset = 'tax_rating' AND f_grade = 'A' AND decision_date > DATE '{d24}')
            AS tax_a,
        bool_or(dataset = 'tax_rating' AND f_grade = 'C' AND decision_date > DATE '{d24}')
            AS tax_c,
        bool_or(dataset = 'tax_rating' AND f_grade = 'D' AND decision_date > DATE '{d24}')
            AS tax_d,
        bool_or(dataset = 'customs_aeo' AND f_level IN ('advanced', 'general')
                AND decision_date > DATE '{d36}') AS aeo,
        bool_or(dataset = 'customs_aeo' AND f_level = 'dishonest'
                AND decision_date > DATE '{d36}') AS aeo_dishonest,
        count(*) FILTER (WHERE dataset = 'honour' AND decision_date > DATE '{d60}') AS honours,
        bool_or(dataset = 'court_enforcement' AND f_status = 'listed') AS listed,
        bool_or(dataset = 'admin_penalty'
                AND f_penalty_category IN ('revoke_licence', 'revoke_business_licence')
                AND decision_date > DATE '{d36}') AS revocation,
        bool_or(dataset = 'work_safety_accident' AND f_level IN ('major', 'extraordinary')
                AND decision_date > DATE '{d36}') AS major_accident
    FROM qc_records
    WHERE decision_date <= DATE '{as_of}'
    GROUP BY subject_id
),
scored AS (
    SELECT
        s.subject_id,
        s.status,
        r.listed, r.revocation, r.major_accident,
        greatest(0, least(10000, 8000
            + greatest(-1600, least(1600, CAST(round(coalesce(pen_general, 0) * -400 / 1000.0)
                                               AS BIGINT)))
            + greatest(-3000, least(3000, CAST(round(coalesce(pen_serious, 0) * -1000 / 1000.0)
                                               AS BIGINT)))
            + greatest(-2400, least(2400, CAST(round(coalesce(field_violations, 0) * -600
                                                     / 1000.0) AS BIGINT)))
            + greatest(-1000, least(1000, CAST(round(coalesce(fines_yuan, 0) * -100 / 100000.0)
                                               AS BIGINT)))
            + greatest(-1500, coalesce(spot_fail, 0) * -500)
            + greatest(-900, coalesce(inspection_issues, 0) * -300)
            + greatest(-2400, coalesce(accidents, 0) * -800)
            + greatest(-900, coalesce(arrears, 0) * -300)
            + greatest(-600, coalesce(enforcement, 0) * -300)
            + CASE WHEN tax_a THEN 600 ELSE 0 END
            + CASE WHEN tax_c THEN -600 ELSE 0 END
            + CASE WHEN tax_d THEN -1500 ELSE 0 END
            + CASE WHEN aeo THEN 600 ELSE 0 END
            + CASE WHEN aeo_dishonest THEN -1200 ELSE 0 END
            + least(900, coalesce(honours, 0) * 300)
            + CASE WHEN s.registered_on > DATE '{d12}' THEN -400
                   WHEN s.registered_on > DATE '{d36}' THEN -200 ELSE 0 END
        )) AS score_cp
    FROM qc_subjects s LEFT JOIN r USING (subject_id)
    WHERE s.subject_type IN ('enterprise', 'farmers_coop')
      AND s.status <> 'cancelled'
      AND (s.registered_on IS NULL OR s.registered_on <= DATE '{as_of}')
)
SELECT
    subject_id,
    score_cp,
    CASE WHEN listed THEN 'dishonest_judgment_debtor'
         WHEN status = 'revoked' THEN 'business_licence_revoked'
         WHEN revocation THEN 'revocation_penalty'
         WHEN major_accident THEN 'major_accident' END AS override,
    CASE WHEN listed OR status = 'revoked' OR revocation OR major_accident THEN 'D'
         WHEN score_cp < 5500 THEN 'D'
         WHEN score_cp < 7000 THEN 'C'
         WHEN score_cp < 8600 THEN 'B'
         ELSE 'A' END AS risk_class
FROM scored
"""


def hand_sql(as_of: dt.date) -> str:
    """The enterprise scorecard 2026.1 on ``as_of``, written by hand for DuckDB."""
    from qualitycity.credit.scorecard import months_before

    return HAND_SQL.format(
        as_of=as_of,
        **{f"d{n}": months_before(as_of, n) for n in (12, 24, 36, 60)},
    )


def compare(a, b, what: str) -> int:
    """Rows where two results (subject_id, score_cp, risk_class, override) differ; asserts 0."""
    import duckdb

    con = duckdb.connect()
    con.register("a", a.select(["subject_id", "score_cp", "risk_class", "override"]))
    con.register("b", b.select(["subject_id", "score_cp", "risk_class", "override"]))
    diff = con.execute(
        "SELECT count(*) FROM a FULL JOIN b USING (subject_id) "
        "WHERE a.score_cp IS DISTINCT FROM b.score_cp OR a.risk_class IS DISTINCT FROM "
        "b.risk_class OR a.override IS DISTINCT FROM b.override"
    ).fetchone()[0]
    con.close()
    assert a.num_rows == b.num_rows and diff == 0, f"{what}: {diff} rows differ"
    return diff


# --- memory ------------------------------------------------------------------------------------


def reset_peak() -> None:
    """Reset this process's peak RSS (VmHWM) so the next phase reports its own peak."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def cpu_s(pid: str | int = "self") -> float:
    """CPU seconds (user + system, every thread) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_mb(pid: str | int = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- measuring ---------------------------------------------------------------------------------


class Timer:
    """Wraps a function of a module, adding up the seconds spent in it (for splits)."""

    def __init__(self, module, name: str):
        self.module, self.name, self.seconds = module, name, 0.0
        self.original = getattr(module, name, None)
        if self.original is None:  # not in this version of the code
            return

        def wrapped(*a, **kw):
            t = time.perf_counter()
            try:
                return self.original(*a, **kw)
            finally:
                self.seconds += time.perf_counter() - t

        setattr(module, name, wrapped)

    def take(self) -> float:
        s, self.seconds = self.seconds, 0.0
        return s


def child_end_to_end(as_of: dt.date, keep: bool) -> None:
    """In a fresh process: one ``evaluate``, its split, peak RSS; prints one JSON line.

    One evaluation per process: the export reads SQLite through ADBC, whose driver carries its
    own copy of SQLite; a second export in a process whose Django connection has written a
    large WAL meanwhile dies of SIGBUS (see docs/benchmarks.md), so each run gets a process.
    """
    import django

    t = time.perf_counter()
    django.setup()
    import duckdb  # noqa: F401 - loaded once by a long-lived worker; not part of a run
    import ibis

    ibis.duckdb  # noqa: B018 - loads the backend
    imports = time.perf_counter() - t
    from django.db import connection

    from qualitycity.credit import services
    from qualitycity.credit.models import EvaluationRun

    inserts = Timer(services, "_insert")
    # What a run counts besides the engine's work: the records-read count (older code: a
    # query on records_record) or the newest submission (a query on records_sourcefile).
    read_info = Timer(services, "_read_info")
    latest = Timer(services, "_latest_submission")
    check = Timer(services, "_candidates")
    prev = Timer(services, "_previous_classes")
    load = os.getloadavg()[0]
    c = cpu_s()
    t = time.perf_counter()
    run = services.evaluate(engine="duckdb", as_of=as_of, scorecard="enterprise")
    wall = time.perf_counter() - t
    tm = run.timings
    row = {
        "run_id": run.pk,
        "wall": wall,
        "cpu": cpu_s() - c,
        "load": load,
        "read": tm["read"],
        "compute": tm["compute"],
        "store": tm["store"],
        "other": wall - tm["read"] - tm["compute"] - tm["store"],
        "store_inserts": inserts.take(),
        "store_previous": prev.take(),
        "read_info": read_info.take() + latest.take(),
        "check": check.take(),
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "imports": imports,
        "evaluated": run.subjects_evaluated,
        "records_read": run.records_read,
        "classes": run.class_counts,
    }
    t = time.perf_counter()
    if not keep:
        with connection.cursor() as cur:
            cur.execute("DELETE FROM credit_evaluationresult WHERE run_id = %s", [run.pk])
        EvaluationRun.objects.filter(pk=run.pk).delete()
    with connection.cursor() as cur:
        cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    row["cleanup"] = time.perf_counter() - t
    print(json.dumps(row))


def run_end_to_end(home: Path, as_of: dt.date, *, keep: bool = False) -> dict:
    """One end-to-end run in a child process; a run that fails is retried (twice at most)
    and its error kept in ``failures`` (the runs that failed are removed, untimed)."""
    failures: list[str] = []
    for _attempt in range(3):
        # Start from an empty WAL, checkpointed here: the child's Django connection must not
        # map a larger WAL index than the one ADBC's SQLite rebuilds when it opens the file.
        con = sqlite3.connect(home / "qualitycity.sqlite3", isolation_level=None)
        con.execute(
            "DELETE FROM credit_evaluationresult WHERE run_id IN "
            "(SELECT id FROM credit_evaluationrun WHERE status <> 'done')"
        )
        con.execute("DELETE FROM credit_evaluationrun WHERE status <> 'done'")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()
        cmd = [sys.executable, __file__, "--child-e2e", as_of.isoformat()]
        out = subprocess.run(
            [*cmd, "--keep"] if keep else cmd,
            env={**os.environ, "QUALITYCITY_HOME": str(home)},
            capture_output=True,
            text=True,
        )
        if out.returncode == 0:
            row = json.loads(out.stdout.strip().splitlines()[-1])
            row["failures"] = failures
            return row
        lines = (out.stdout + out.stderr).strip().splitlines()
        error = next((x for x in reversed(lines) if "Error" in x or "error" in x), "")
        failures.append(f"exit {out.returncode}: {error[:200]}")
        print(f"  (a run failed: {failures[-1]}; retrying)", flush=True)
    sys.stderr.write(out.stdout + out.stderr)
    raise SystemExit(f"the end-to-end child failed 3 times: {failures}")


def measure_end_to_end(home: Path, args, log) -> list[dict]:
    out = []
    for i in range(1, args.repeat + 1):
        row = run_end_to_end(home, args.as_of)
        out.append(row)
        log(
            f"  run {i}: {row['wall']:6.1f}s (CPU {row['cpu']:.1f}s, load {row['load']:.1f}) = "
            f"read {row['read']:.1f} + compute {row['compute']:.1f} + store {row['store']:.1f} "
            f"(inserts {row['store_inserts']:.1f}) + other {row['other']:.1f} "
            f"(check {row['check']:.1f}, what was read {row['read_info']:.1f}); "
            f"peak RSS {row['peak_mb']:,.0f} MB; "
            f"{row['evaluated']:,} subjects {row['classes']}; run #{row['run_id']} deleted "
            f"(untimed, {row['cleanup']:.1f}s)"
        )
    return out


def read_split(home: Path, cards: list, as_of: dt.date, log) -> dict:
    """Time the export query in parts, and the records-read count ``evaluate`` runs."""
    import adbc_driver_sqlite.dbapi as adbc

    from qualitycity.credit import compiler, engines

    db = home / "qualitycity.sqlite3"
    full = engines.records_sql(cards, as_of, "sqlite")
    where = full[full.index(" WHERE ") :]
    base = "SELECT subject_id, dataset, decision_date, severity, polarity FROM records_record"
    datasets = ", ".join(f"'{d}'" for d in sorted(compiler.record_datasets(cards)))
    read_info = (
        "SELECT COUNT(*), MAX(submitted_at), MAX(decision_date) FROM records_record "
        f"WHERE decision_date <= '{as_of}' AND dataset IN ({datasets})"
    )
    out: dict[str, float] = {}

    def seq(sql: str) -> str:  # the same query, forced to a sequential scan of the table
        return sql.replace("FROM records_record", "FROM records_record NOT INDEXED")

    def adbc_rows(sql: str) -> int:
        with adbc.connect(f"file:{db}?mode=ro", autocommit=True) as conn, conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetch_arrow_table().num_rows

    def sqlite_row(sql: str) -> int:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            return con.execute(sql).fetchone()[0]
        finally:
            con.close()

    with_data = base.replace(" FROM", ", data FROM")
    steps = [
        (
            "count(*) through the (dataset, date) index",
            sqlite_row,
            "SELECT count(*) FROM records_record" + where,
        ),
        ("records-read count as evaluate runs it", sqlite_row, read_info),
        ("the same count, sequential scan", sqlite_row, seq(read_info)),
        ("export: 5 plain columns (index)", adbc_rows, base + where),
        ("export: 5 plain columns, sequential scan", adbc_rows, seq(base + where)),
        ("export: 5 plain columns + data text, sequential", adbc_rows, seq(with_data + where)),
        ("export query as evaluate runs it (index)", adbc_rows, full),
        ("export query, sequential scan", adbc_rows, seq(full)),
    ]
    for label, fn, sql in steps:
        t = time.perf_counter()
        fn(sql)
        out[label] = time.perf_counter() - t
        log(f"  {label:<50} {out[label]:6.1f}s")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subjects", type=int, default=1_000_000, help="subjects evaluated")
    parser.add_argument("--records-per-subject", type=int, default=20)
    parser.add_argument("--home", type=Path, default=Path("/tmp/bench-evaluate"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date(2026, 10, 31))
    parser.add_argument("--seed", type=int, default=20261031)
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--sqlite-repeat", type=int, default=1, help="runs of the sqlite engine")
    parser.add_argument("--skip-spark", action="store_true")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument(
        "--read-split", action="store_true", help="also time the parts of the export query"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--child-e2e", type=dt.date.fromisoformat, help=argparse.SUPPRESS)
    parser.add_argument("--keep", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_e2e:
        sys.path.insert(0, str(ROOT / "src"))
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "qualitycity.settings")
        child_end_to_end(args.child_e2e, args.keep)
        return

    def log(msg: str) -> None:
        print(msg, flush=True)

    params = {
        "subjects": args.subjects,
        "records_per_subject": args.records_per_subject,
        "as_of": args.as_of.isoformat(),
        "seed": args.seed,
    }
    key = f"n{args.subjects}-r{args.records_per_subject}-{args.as_of:%Y%m%d}-s{args.seed}"
    home = (args.home / key).resolve()
    marker = home / "built.json"
    built = json.loads(marker.read_text()) if marker.exists() else None
    if args.rebuild or built is None or built.get("params") != params:
        for p in home.glob("qualitycity.sqlite3*"):
            p.unlink()
        marker.unlink(missing_ok=True)
        built = None
    home.mkdir(parents=True, exist_ok=True)
    os.environ["QUALITYCITY_HOME"] = str(home)
    os.environ.pop("DATABASE_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "qualitycity.settings"
    sys.path.insert(0, str(ROOT / "src"))
    import django

    django.setup()
    import duckdb
    import ibis
    import pyarrow as pa
    import pyarrow.compute as pc

    from qualitycity.credit import compiler, engines
    from qualitycity.credit.scorecard import in_force

    if built is None:
        log(f"building {home} …")
        built = {"params": params, **build(home, args, log)}
        from django.db import connection

        connection.close()  # this process evaluates nothing through Django (see the child)
        # The seed run: every measured run then has a previous run, as in steady operation.
        seed = run_end_to_end(home, args.as_of, keep=True)
        log(f"  seed run #{seed['run_id']}: {seed['wall']:.1f}s {seed['classes']}")
        built["seed_run"] = seed
        marker.write_text(json.dumps(built, indent=1))
    else:
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", verbosity=0)
        connection.close()  # this process evaluates nothing through Django (see the child)
        log(f"reusing {home}")
    log(
        f"{built['subjects']:,} subjects ({built['evaluated']:,} evaluated), "
        f"{built['records']:,} records, database {built['database_mb']:,} MB; as of {args.as_of}"
    )
    load = os.getloadavg()
    med = statistics.median
    fig: dict = {"built": built, "load_before": load}

    # 1. End to end.
    log(f"\n1. evaluate(engine='duckdb') end to end, {args.repeat} run(s):")
    e2e = measure_end_to_end(home, args, log)
    fig["end_to_end"] = e2e

    # 2. Export once; the compiled expression against a hand-written query, same tables.
    cards = in_force(args.as_of, "enterprise")
    card = cards[0]
    reset_peak()
    t = time.perf_counter()
    subjects, records = engines.export_arrow(cards, args.as_of)
    export_s = time.perf_counter() - t
    arrow_mb = (subjects.nbytes + records.nbytes) / 2**20
    log(
        f"\n2. export_arrow: {export_s:.1f}s, {subjects.num_rows:,} subjects + "
        f"{records.num_rows:,} records = {arrow_mb:,.0f} MB of Arrow; "
        f"peak RSS {peak_mb():,.0f} MB"
    )
    columns = compiler.record_columns(cards)
    sql = hand_sql(args.as_of)
    hand_con = duckdb.connect()
    hand_con.register(compiler.SUBJECTS, subjects)
    hand_con.register(compiler.RECORDS, records)
    engine_s, hand_s, engine_cpu, hand_cpu = [], [], [], []
    reset_peak()
    with engines.DuckDBEngine(cards, args.as_of, tables=(subjects, records)) as eng:
        eng.prepare()
        for i in range(1, args.repeat + 1):
            load_now = os.getloadavg()[0]
            c, t = cpu_s(), time.perf_counter()
            got = eng.execute(compiler.compile_scorecard(card, args.as_of, columns))
            engine_s.append(time.perf_counter() - t)
            engine_cpu.append(cpu_s() - c)
            c, t = cpu_s(), time.perf_counter()
            hand = hand_con.execute(sql).arrow()
            if isinstance(hand, pa.RecordBatchReader):
                hand = hand.read_all()
            hand_s.append(time.perf_counter() - t)
            hand_cpu.append(cpu_s() - c)
            compare(got, hand, "engine vs hand SQL")
            log(
                f"  run {i}: engine (compile + execute) {engine_s[-1]:.2f}s (CPU "
                f"{engine_cpu[-1]:.1f}s), hand SQL {hand_s[-1]:.2f}s (CPU {hand_cpu[-1]:.1f}s), "
                f"load {load_now:.1f}; {hand.num_rows:,} subjects, same scores, classes, overrides"
            )
    hand_con.close()
    compute_peak = peak_mb()
    duck_result = got
    fig["export_seconds"] = export_s
    fig["arrow_mb"] = arrow_mb
    fig["engine_direct"] = engine_s
    fig["hand_sql"] = hand_s
    fig["engine_direct_cpu"] = engine_cpu
    fig["hand_sql_cpu"] = hand_cpu
    classes = {d["values"]: d["counts"] for d in pc.value_counts(hand["risk_class"]).to_pylist()}
    fig["hand_classes"] = dict(sorted(classes.items()))
    stored_classes = e2e[-1]["classes"]
    assert all(stored_classes.get(k, 0) == v for k, v in classes.items()), (
        stored_classes,
        classes,
    )
    log(f"  classes {fig['hand_classes']} (the same as the stored run's)")

    # 3. SQLite engine.
    if not args.skip_sqlite:
        log(f"\n3. sqlite engine, {args.sqlite_repeat} run(s):")
        sq = []
        reset_peak()
        for i in range(1, args.sqlite_repeat + 1):
            with engines.SQLiteEngine(cards, args.as_of) as eng:
                t = time.perf_counter()
                eng.prepare()
                prep = time.perf_counter() - t
                c, t = cpu_s(), time.perf_counter()
                got = eng.execute(compiler.compile_scorecard(card, args.as_of, columns))
                sq.append(time.perf_counter() - t)
                c = cpu_s() - c
            compare(got, duck_result, "sqlite vs duckdb")
            log(
                f"  run {i}: prepare {prep:.2f}s, compute {sq[-1]:.1f}s (CPU {c:.1f}s) "
                "(same results)"
            )
        fig["sqlite_compute"] = sq
        fig["sqlite_peak_mb"] = peak_mb()

    # 4. Spark local mode.
    if not args.skip_spark:
        log(f"\n4. spark engine ({os.environ.get('QUALITYCITY_SPARK_MASTER', 'local[2]')}):")
        reset_peak()
        t = time.perf_counter()
        session = engines.spark_session()
        start_s = time.perf_counter() - t
        sp, sp_cpu = [], []
        jvm = getattr(session.sparkContext._gateway, "proc", None)

        def both_cpu() -> float:
            return cpu_s() + (cpu_s(jvm.pid) if jvm is not None else 0.0)

        with engines.SparkEngine(cards, args.as_of, tables=(subjects, records)) as eng:
            t = time.perf_counter()
            eng.prepare()
            prep_s = time.perf_counter() - t
            parquet_mb = sum(f.stat().st_size for f in Path(eng.dir).rglob("*")) / 2**20
            log(
                f"  session start {start_s:.1f}s; Parquet ({parquet_mb:,.0f} MB) + registration "
                f"{prep_s:.1f}s"
            )
            for i in range(1, args.repeat + 1):
                c, t = both_cpu(), time.perf_counter()
                got = eng.execute(compiler.compile_scorecard(card, args.as_of, columns))
                sp.append(time.perf_counter() - t)
                sp_cpu.append(both_cpu() - c)
                compare(got, duck_result, "spark vs duckdb")
                log(
                    f"  run {i}: compute {sp[-1]:.1f}s (CPU, Python + JVM, {sp_cpu[-1]:.1f}s) "
                    "(same results)"
                )
        jvm_mb = peak_mb(jvm.pid) if jvm is not None else float("nan")
        fig.update(
            spark_session_seconds=start_s,
            spark_prepare_seconds=prep_s,
            spark_parquet_mb=parquet_mb,
            spark_compute=sp,
            spark_compute_cpu=sp_cpu,
            spark_python_peak_mb=peak_mb(),
            spark_jvm_peak_mb=jvm_mb,
        )
        session.stop()

    # 5. Where the read goes (optional).
    if args.read_split:
        log("\n5. the read, taken apart (one run each):")
        fig["read_split"] = read_split(home, cards, args.as_of, log)

    fig["load_after"] = os.getloadavg()
    fig["process_peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    # Summary.
    def m(key: str) -> float:
        return med([r[key] for r in e2e])

    wall = m("wall")
    ratio = med([e / h for e, h in zip(engine_s, hand_s, strict=True)])
    cpu_ratio = med([e / h for e, h in zip(engine_cpu, hand_cpu, strict=True)])
    fig.update(compute_ratio=ratio, compute_ratio_cpu=cpu_ratio)
    lines = [
        "",
        f"medians of {args.repeat} run(s); {built['evaluated']:,} subjects evaluated, "
        f"{e2e[0]['records_read']:,} records read; SQLite {sqlite3.sqlite_version}, "
        f"DuckDB {duckdb.__version__}, ibis {ibis.__version__}; load {load[0]:.2f} before, "
        f"{fig['load_after'][0]:.2f} after",
        f"  end to end (duckdb)       {wall:8.1f} s   target <= {E2E_TARGET_S:.0f} s: "
        f"{'met' if wall <= E2E_TARGET_S else 'NOT met'} (CPU {m('cpu'):.1f} s)",
        f"    read (export to Arrow)  {m('read'):8.1f} s",
        f"    compute                 {m('compute'):8.2f} s",
        f"    store                   {m('store'):8.1f} s   (SQLite inserts "
        f"{m('store_inserts'):.1f} s, previous classes {m('store_previous'):.1f} s, the rest "
        f"{m('store') - m('store_inserts') - m('store_previous'):.1f} s)",
        f"    other                   {m('other'):8.1f} s   (check {m('check'):.1f} s, "
        f"what was read {m('read_info'):.1f} s, commit and run rows "
        f"{m('other') - m('check') - m('read_info'):.1f} s)",
        f"    peak RSS                {max(r['peak_mb'] for r in e2e):8,.0f} MB",
        f"    failed attempts         {sum(len(r['failures']) for r in e2e):8d}     "
        f"(retried; {', '.join(sorted({f[:60] for r in e2e for f in r['failures']})) or '-'})",
        f"  hand-written DuckDB SQL   {med(hand_s):8.2f} s   (CPU {med(hand_cpu):.1f} s)",
        f"  engine compute, direct    {med(engine_s):8.2f} s   (CPU {med(engine_cpu):.1f} s)",
        f"  compute ratio             {ratio:8.2f}     (engine / hand SQL, back to back; target <= "
        f"{RATIO_TARGET:.0f}: {'met' if ratio <= RATIO_TARGET else 'NOT met'}); CPU "
        f"{cpu_ratio:.2f}; run.timings compute / hand SQL {m('compute') / med(hand_s):.2f}",
        f"  compute peak RSS          {compute_peak:8,.0f} MB   (Arrow tables {arrow_mb:,.0f} MB)",
    ]
    if "sqlite_compute" in fig:
        s = med(fig["sqlite_compute"])
        lines.append(
            f"  sqlite engine compute     {s:8.1f} s   ({s / med(hand_s):.0f}× hand SQL; peak RSS "
            f"{fig['sqlite_peak_mb']:,.0f} MB)"
        )
    if "spark_compute" in fig:
        s = med(fig["spark_compute"])
        lines.append(
            f"  spark local[2] compute    {s:8.1f} s   ({s / med(hand_s):.0f}× hand SQL; session "
            f"{fig['spark_session_seconds']:.1f} s, Parquet + registration "
            f"{fig['spark_prepare_seconds']:.1f} s; peak RSS python "
            f"{fig['spark_python_peak_mb']:,.0f} MB + JVM {fig['spark_jvm_peak_mb']:,.0f} MB)"
        )
    log("\n".join(lines))
    if args.json:
        args.json.write_text(json.dumps(fig, indent=1, default=str))


if __name__ == "__main__":
    main()
