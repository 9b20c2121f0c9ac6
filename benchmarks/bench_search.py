"""Subject search at scale: p50/p95/p99 of ``subject_search`` on the embedded default (SQLite).

    python benchmarks/bench_search.py [--dir DIR] [--subjects 1000000] [--queries 600]
                                      [--rebuild] [--json]

Builds (or reuses) a platform home under ``DIR`` (default ``./var/bench-search``) holding
``--subjects`` subjects with realistic Chinese names (district/city prefix + trade name from a
character pool + industry word + 有限公司/股份有限公司/…; individual businesses, co-ops,
social organisations, persons), registered through ``subjects_register`` in batches (the
registration time is reported too). Then runs a deterministic mix of queries — exact codes,
code prefixes, 2-character fragments, 3-4-character fragments, name prefixes, former-name
fragments, very common bigrams (有限, 青岛, 公司, …) and misses — through ``subject_search``
(limit 20), and, as a same-run baseline, the same name queries as a naive
``SELECT … WHERE name LIKE '%q%' LIMIT 20`` scan. Target: p95 < 50 ms at 1,000,000 subjects.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# --- a synthetic city -------------------------------------------------------------------------

DISTRICT_PREFIXES = [
    ("370202", ["青岛", "青岛市", "青岛市市南区", "市南区"]),
    ("370203", ["青岛", "青岛市", "青岛市市北区", "市北区"]),
    ("370211", ["青岛", "青岛西海岸新区", "青岛市黄岛区", "黄岛区"]),
    ("370212", ["青岛", "青岛崂山", "青岛市崂山区", "崂山区"]),
    ("370213", ["青岛", "青岛市李沧区", "李沧区"]),
    ("370214", ["青岛", "青岛市城阳区", "城阳区"]),
    ("370215", ["青岛", "即墨", "青岛市即墨区", "即墨区"]),
    ("370281", ["青岛", "胶州", "胶州市"]),
    ("370283", ["青岛", "平度", "平度市"]),
    ("370285", ["青岛", "莱西", "莱西市"]),
]
TRADE_CHARS = (
    "海天蓝润恒泰鑫源华盛宏达瑞丰金隆信诚德佳鹏程远博聚福鸿运星辰东方明嘉兴广利顺通安康"
    "永辉创新立昌荣祥和美晨光正大宇新汇丰益民众合峰松柏青山云帆浩瀚锦绣龙腾飞跃万家乐"
    "宝凯旋百川启航卓越优品尚联合力天成国元景弘中科智亿盈伟业建邦凯达博源普惠同心致远"
    "沃德路易琴岛崂泉胶澳琅琊齐鲁岱岳黄河渤海东海半岛港湾浪潮银河晟昊睿祺璟瀚琛珑璐"
)
INDUSTRY_WORDS = [
    ("51", "贸易"),
    ("65", "科技"),
    ("14", "食品"),
    ("34", "机械"),
    ("48", "建筑工程"),
    ("58", "物流"),
    ("62", "餐饮管理"),
    ("39", "电子"),
    ("18", "服装"),
    ("04", "水产"),
    ("27", "海洋生物"),
    ("26", "化工"),
    ("29", "橡胶制品"),
    ("38", "家电"),
    ("15", "啤酒"),
    ("17", "纺织"),
    ("27", "医药"),
    ("52", "汽车销售"),
    ("70", "房地产开发"),
    ("50", "装饰工程"),
    ("65", "信息技术"),
    ("86", "文化传媒"),
    ("01", "农业发展"),
    ("77", "环保科技"),
    ("23", "印刷"),
    ("29", "塑料制品"),
    ("33", "五金"),
    ("33", "钢结构"),
    ("37", "船舶"),
    ("55", "港口物流"),
    ("72", "企业管理咨询"),
    ("61", "酒店管理"),
    ("13", "粮油"),
    ("15", "饮品"),
    ("36", "汽车零部件"),
    ("40", "仪器仪表"),
]
LEGAL_SUFFIXES = [
    ("有限公司", 70),
    ("股份有限公司", 6),
    ("有限责任公司", 10),
    ("集团有限公司", 3),
    ("厂", 4),
    ("经营部", 4),
    ("合伙企业（有限合伙）", 3),
]
SHOP_WORDS = [
    "便利店",
    "小吃店",
    "超市",
    "理发店",
    "五金店",
    "水果店",
    "烧烤店",
    "海鲜店",
    "饭店",
    "服装店",
    "商行",
    "维修部",
    "门诊部",
    "药店",
]
SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏"
    "卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯"
    "邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文"
)
GIVEN_CHARS = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰萍红鹏辉建华玲丹宁浩宇"
    "晨欣怡梓涵子轩俊杰志强海燕春梅国庆立新晓东文博思远雪梅佳琪婷婷嘉怡雨泽一鸣"
)
COMMON_QUERIES = ["有限", "青岛", "公司", "科技", "有限公司", "青岛市", "贸易", "股份"]


def _pick_weighted(rng: random.Random, items: list[tuple[str, int]]) -> str:
    return rng.choices([i[0] for i in items], weights=[i[1] for i in items])[0]


def person_name(rng: random.Random) -> str:
    given = "".join(rng.choice(GIVEN_CHARS) for _ in range(rng.choice((1, 2, 2))))
    return rng.choice(SURNAMES) + given


def legal_name(rng: random.Random) -> tuple[str, str, str]:
    district, prefixes = rng.choice(DISTRICT_PREFIXES)
    prefix = rng.choice(prefixes) if rng.random() < 0.85 else ""
    trade = "".join(rng.choice(TRADE_CHARS) for _ in range(rng.choice((2, 2, 3))))
    industry, word = rng.choice(INDUSTRY_WORDS)
    return f"{prefix}{trade}{word}{_pick_weighted(rng, LEGAL_SUFFIXES)}", district, industry


def generate_rows(start: int, count: int, *, seed: int = 2020) -> list[dict]:
    """Registration rows ``start … start+count-1`` (deterministic per index)."""
    from qualitycity.subjects.identifiers import (
        org_code_check_digit,
        resident_id_check_char,
        uscc_check_char,
    )

    rows = []
    for n in range(start, start + count):
        rng = random.Random(seed * 10_000_019 + n)
        roll = rng.random()
        registered = datetime.date(1990, 1, 1) + datetime.timedelta(days=rng.randrange(12000))
        if roll < 0.10:  # a natural person (practitioner)
            district, _ = rng.choice(DISTRICT_PREFIXES)
            birth = datetime.date(1950, 1, 1) + datetime.timedelta(days=n // 1000)
            first17 = f"{district}{birth:%Y%m%d}{n % 1000:03d}"
            rows.append(
                {
                    "code": first17 + resident_id_check_char(first17),
                    "kind": "person",
                    "name": person_name(rng),
                    "subject_type": "natural_person",
                    "district": district,
                    "industry": "",
                    "legal_representative": "",
                    "registered_on": None,
                    "status": "active",
                    "former_names": [],
                }
            )
            continue
        if roll < 0.25:  # individual business
            district, prefixes = rng.choice(DISTRICT_PREFIXES)
            name = rng.choice(prefixes[-1:]) + person_name(rng)[1:] + rng.choice(SHOP_WORDS)
            industry, kind_code, stype = "52", "92", "individual_business"
        elif roll < 0.28:  # farmers' co-op
            district, prefixes = rng.choice(DISTRICT_PREFIXES)
            trade = "".join(rng.choice(TRADE_CHARS) for _ in range(2))
            crop = rng.choice(["果蔬", "茶叶", "蓝莓", "大姜", "花生", "葡萄", "海参", "蔬菜"])
            name = f"{prefixes[-1]}{trade}{crop}种植专业合作社"
            industry, kind_code, stype = "01", "93", "farmers_coop"
        elif roll < 0.30:  # social organisation
            district, _ = rng.choice(DISTRICT_PREFIXES)
            trade = rng.choice(INDUSTRY_WORDS)[1]
            name = f"青岛市{trade}{rng.choice(['协会', '商会', '促进会', '研究会'])}{n % 97}"
            industry, kind_code, stype = "94", "51", "social_organisation"
        else:
            name, district, industry = legal_name(rng)
            kind_code, stype = "91", "enterprise"
        former = []
        if rng.random() < 0.10 and stype == "enterprise":
            old, _d, _i = legal_name(rng)
            former.append(old)
        org8 = f"{n:08d}"
        first17 = kind_code + district + org8 + org_code_check_digit(org8)
        rows.append(
            {
                "code": first17 + uscc_check_char(first17),
                "kind": "legal",
                "name": name,
                "subject_type": stype,
                "district": district,
                "industry": industry,
                "legal_representative": person_name(rng),
                "registered_on": registered,
                "status": "active" if rng.random() < 0.9 else rng.choice(["revoked", "cancelled"]),
                "former_names": former,
            }
        )
    return rows


# --- build ----------------------------------------------------------------------------------


def setup_django(home: Path) -> None:
    os.environ["QUALITYCITY_HOME"] = str(home)
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "qualitycity.settings")
    sys.path.insert(0, str(ROOT / "src"))
    import django

    django.setup()


def build(total: int, batch: int, log) -> dict:
    from django.core.management import call_command

    from qualitycity.core.context import acting_as
    from qualitycity.core.models import Department
    from qualitycity.core.services import department_sync
    from qualitycity.subjects.models import Subject
    from qualitycity.subjects.services import subjects_register

    call_command("migrate", verbosity=0)
    department_sync()
    market = Department.objects.filter(code="market").first()
    have = Subject.objects.count()
    if have >= total:
        log(f"reusing {have:,} subjects")
        return {"reused": True, "subjects": have}
    log(f"registering {total - have:,} subjects (have {have:,}) in batches of {batch:,}")
    started = time.perf_counter()
    gen_time = 0.0
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    with acting_as(source="cli"):
        for start in range(have, total, batch):
            t = time.perf_counter()
            rows = generate_rows(start, min(batch, total - start))
            gen_time += time.perf_counter() - t
            for k, v in subjects_register(rows=rows, department=market).items():
                counts[k] += v
            done = start + len(rows)
            if (done // batch) % 20 == 0 or done == total:
                elapsed = time.perf_counter() - started
                log(f"  {done:>9,}  {elapsed:7.1f} s  {(done - have) / elapsed:,.0f} rows/s")
    elapsed = time.perf_counter() - started
    register_time = elapsed - gen_time
    from django.db import connection

    t = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    analyze = time.perf_counter() - t
    return {
        "reused": False,
        "subjects": Subject.objects.count(),
        "registered": total - have,
        "counts": counts,
        "wall_seconds": round(elapsed, 1),
        "generate_seconds": round(gen_time, 1),
        "register_seconds": round(register_time, 1),
        "register_rows_per_second": round((total - have) / register_time),
        "analyze_seconds": round(analyze, 1),
    }


# --- queries --------------------------------------------------------------------------------


def make_queries(total_subjects: int, count: int, *, seed: int = 7) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    sample: list[dict] = []
    picks = sorted(rng.sample(range(total_subjects), min(count, total_subjects)))
    for n in picks:
        sample.extend(generate_rows(n, 1))
    legal = [r for r in sample if r["kind"] == "legal"]
    persons = [r for r in sample if r["kind"] == "person"]
    formers = [r for r in legal if r["former_names"]] or legal
    queries: list[tuple[str, str]] = []

    def fragment(name: str, size: int) -> str:
        i = rng.randrange(max(1, len(name) - size + 1))
        return name[i : i + size]

    kinds = [
        ("code", 0.12),
        ("code_prefix", 0.04),
        ("fragment2", 0.20),
        ("fragment34", 0.20),
        ("prefix", 0.12),
        ("former", 0.10),
        ("person", 0.06),
        ("common", 0.10),
        ("miss", 0.06),
    ]
    for i in range(count):
        kind = rng.choices([k for k, _ in kinds], weights=[w for _, w in kinds])[0]
        row = rng.choice(legal)
        if kind == "code":
            q = rng.choice(sample)["code"]
        elif kind == "code_prefix":
            q = row["code"][: rng.choice((6, 8, 10, 12))]
        elif kind == "fragment2":
            q = fragment(row["name"], 2)
        elif kind == "fragment34":
            q = fragment(row["name"], rng.choice((3, 4)))
        elif kind == "prefix":
            q = row["name"][: rng.choice((2, 3, 4, 5))]
        elif kind == "former":
            q = fragment(rng.choice(formers)["former_names"][0] if formers else row["name"], 4)
        elif kind == "person":
            q = rng.choice(persons)["name"] if persons else "张伟"
        elif kind == "common":
            q = COMMON_QUERIES[i % len(COMMON_QUERIES)]
        else:
            q = rng.choice(["不存在的名称", "火星贸易", "量子咖啡", "龙猫服装有限公司"])
        queries.append((kind, q))
    return queries


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

    return {
        "n": len(ordered),
        "p50_ms": round(pct(50), 2),
        "p95_ms": round(pct(95), 2),
        "p99_ms": round(pct(99), 2),
        "max_ms": round(ordered[-1], 2),
        "mean_ms": round(statistics.fmean(ordered), 2),
    }


def run_queries(queries: list[tuple[str, str]]) -> dict:
    from django.db import connection, reset_queries

    from qualitycity.subjects.models import Subject
    from qualitycity.subjects.selectors import subject_search

    table = Subject._meta.db_table
    # warm-up: the page cache, prepared statements
    for _kind, q in queries[:20]:
        subject_search(q=q)
    ours: list[float] = []
    naive: list[float] = []
    by_kind: dict[str, list[float]] = {}
    naive_by_kind: dict[str, list[float]] = {}
    hits = 0
    timed: list[tuple[float, str, str]] = []
    for kind, q in queries:
        t = time.perf_counter()
        result = subject_search(q=q, limit=20)
        ms = (time.perf_counter() - t) * 1000
        ours.append(ms)
        timed.append((ms, kind, q))
        by_kind.setdefault(kind, []).append(ms)
        hits += bool(result.items)
        reset_queries()
        t = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id, name FROM {table} WHERE name LIKE %s LIMIT 20",  # noqa: S608
                [f"%{q}%"],
            )
            cursor.fetchall()
        ms = (time.perf_counter() - t) * 1000
        naive.append(ms)
        naive_by_kind.setdefault(kind, []).append(ms)
    return {
        "subject_search": percentiles(ours),
        "naive_like_limit_20": percentiles(naive),
        "queries_with_results": hits,
        "slowest": [
            {"ms": round(ms, 2), "kind": kind, "q": q} for ms, kind, q in sorted(timed)[-8:]
        ],
        "by_kind": {
            k: {"ours": percentiles(v), "naive": percentiles(naive_by_kind[k])}
            for k, v in sorted(by_kind.items())
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=ROOT / "var" / "bench-search")
    parser.add_argument("--subjects", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=600)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    home = args.dir.resolve()
    if args.rebuild and home.exists():
        for name in ("qualitycity.sqlite3", "qualitycity.sqlite3-wal", "qualitycity.sqlite3-shm"):
            (home / name).unlink(missing_ok=True)
    home.mkdir(parents=True, exist_ok=True)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr if args.json else sys.stdout, flush=True)

    setup_django(home)
    built = build(args.subjects, args.batch, log)
    from qualitycity.subjects.models import Subject

    n = Subject.objects.count()
    queries = make_queries(min(n, args.subjects), args.queries)
    log(f"running {len(queries)} queries on {n:,} subjects")
    results = run_queries(queries)
    db_size = sum(p.stat().st_size for p in home.glob("qualitycity.sqlite3*") if p.is_file())
    report = {
        "scale": {"subjects": n, "database_mb": round(db_size / 2**20)},
        "build": built,
        "search": results,
        "target": "p95 < 50 ms",
        "python": sys.version.split()[0],
    }
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return
    log(json.dumps(built, ensure_ascii=False))
    for label in ("subject_search", "naive_like_limit_20"):
        s = results[label]
        log(
            f"{label:<22} p50 {s['p50_ms']:7.2f} ms  p95 {s['p95_ms']:7.2f} ms  "
            f"p99 {s['p99_ms']:7.2f} ms  max {s['max_ms']:7.2f} ms  (n={s['n']})"
        )
    log("slowest: " + ", ".join(f"{s['q']} ({s['kind']}) {s['ms']} ms" for s in results["slowest"]))
    log("by kind (ours p95 / naive p95):")
    for kind, s in results["by_kind"].items():
        log(
            f"  {kind:<12} n={s['ours']['n']:<4} {s['ours']['p95_ms']:7.2f} ms / "
            f"{s['naive']['p95_ms']:7.2f} ms"
        )


if __name__ == "__main__":
    main()
