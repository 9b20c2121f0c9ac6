"""The demo city generator: determinism, valid codes, catalogue coverage, realistic dirt."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from pathlib import Path

import pytest
import yaml

from qualitycity.demo.generator import (
    CODE_DIRT,
    DIRTY_KINDS,
    FILE_NAME_RE,
    GeneratorOptions,
    generate,
    read_rows,
)
from qualitycity.subjects.codelists import expected_subject_type
from qualitycity.subjects.identifiers import IdentifierError, classify_code, validate_uscc

TODAY = dt.date(2026, 11, 28)
SCALE = 300
CATALOGUE = Path(__file__).resolve().parents[2] / "src/qualitycity/records/catalogue"


def _digests(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("city")
    manifest = generate(out=out, options=GeneratorOptions(scale=SCALE, seed=7, today=TODAY))
    return out, manifest


@pytest.fixture(scope="module")
def catalogue() -> list[dict]:
    return yaml.safe_load((CATALOGUE / "datasets.yaml").read_text(encoding="utf-8"))


def test_same_options_give_the_same_bytes(city, tmp_path):
    out, _ = city
    again = generate(out=tmp_path, options=GeneratorOptions(scale=SCALE, seed=7, today=TODAY))
    assert _digests(tmp_path) == _digests(out)
    assert again["options"] == {"scale": SCALE, "seed": 7, "today": TODAY.isoformat()}


def test_another_seed_gives_other_files(city, tmp_path):
    out, _ = city
    generate(out=tmp_path, options=GeneratorOptions(scale=SCALE, seed=8, today=TODAY))
    mine, theirs = _digests(out), _digests(tmp_path)
    history = {k for k in mine if k.startswith("history/")}
    assert history == {k for k in theirs if k.startswith("history/")}
    common = (mine.keys() & theirs.keys()) - {"manifest.json"}
    assert common >= history
    assert all(mine[name] != theirs[name] for name in common)


def test_regenerating_into_a_folder_replaces_the_previous_city(tmp_path):
    generate(out=tmp_path, options=GeneratorOptions(scale=SCALE, seed=1, today=TODAY))
    (tmp_path / "keep.txt").write_text("not ours")
    manifest = generate(out=tmp_path, options=GeneratorOptions(scale=60, seed=1, today=TODAY))
    names = set(_digests(tmp_path))
    assert names == {f["file"] for f in manifest["files"]} | {"manifest.json", "keep.txt"}
    live = {p.name for p in (tmp_path / "live").iterdir()}
    assert live == {f["folder"].split("/")[1] for f in manifest["files"] if not f["backfill"]}


def test_every_dataset_is_covered_by_departments_allowed_to_submit_it(city, catalogue):
    out, manifest = city
    allowed = {ds["code"]: set(ds["departments"]) for ds in catalogue}
    seen: dict[str, set[str]] = {}
    for path in out.rglob("*"):
        if path.name == "manifest.json" or path.is_dir():
            continue
        m = FILE_NAME_RE.match(path.name)
        assert m, path.name
        assert m["department"] in allowed[m["dataset"]], path.name
        seen.setdefault(m["dataset"], set()).add(m["department"])
    assert set(seen) == set(allowed)
    departments = set().union(*seen.values())
    assert len(departments) >= 12
    assert {f["format"] for f in manifest["files"]} == {
        "csv",
        "csv_bom",
        "csv_gb18030",
        "xlsx",
        "jsonl",
    }


def test_encodings_are_what_the_manifest_says(city):
    out, manifest = city
    for f in manifest["files"]:
        raw = (out / f["file"]).read_bytes()
        if f["format"] == "csv_bom":
            assert raw.startswith(b"\xef\xbb\xbf")
        elif f["format"] == "csv_gb18030":
            with pytest.raises(UnicodeDecodeError):
                raw.decode("utf-8")
            raw.decode("gb18030")
        elif f["format"] in ("csv", "jsonl"):
            assert not raw.startswith(b"\xef\xbb\xbf")
            raw.decode("utf-8")
        else:
            assert raw[:2] == b"PK"


def _code_key(catalogue: list[dict], dataset: str, header: str) -> str:
    ds = next(d for d in catalogue if d["code"] == dataset)
    name = ds["keys"]["subject_code"]
    field = next(f for f in ds["fields"] if f["name"] == name)
    return name if header == "en" else field["label_zh"]


def test_codes_are_valid_except_the_intentional_dirt(city, catalogue):
    out, manifest = city
    for f in manifest["files"]:
        key = _code_key(catalogue, f["dataset"], f["header"])
        bad = Counter()
        rows = 0
        for row in read_rows(out / f["file"]):
            rows += 1
            try:
                kind, code = classify_code(row[key])
            except IdentifierError as exc:
                bad[exc.code] += 1
                continue
            if kind == "uscc" and f["kind"] == "registration":
                assert code[2:8] in {
                    "370202",
                    "370203",
                    "370211",
                    "370212",
                    "370213",
                    "370214",
                    "370215",
                    "370281",
                    "370283",
                    "370285",
                }
        assert rows == f["rows"], f["file"]
        expected = sum(f["dirty"].get(k, 0) for k in CODE_DIRT)
        assert sum(bad.values()) == expected, (f["file"], bad, f["dirty"])
        assert set(bad) <= {"bad_check", "bad_characters"}


def test_registrations_match_the_subject_type_of_their_code(city):
    out, _ = city
    types = Counter()
    for row in read_rows(out / "history/market__enterprise_registration.csv"):
        try:
            code = validate_uscc(row["统一社会信用代码"])
        except IdentifierError:
            continue
        label = row["主体类型"]
        expected = expected_subject_type(code)
        assert expected in ("enterprise", "individual_business", "farmers_coop")
        assert label in (
            expected,
            {
                "enterprise": "企业",
                "individual_business": "个体工商户",
                "farmers_coop": "农民专业合作社",
            }[expected],
        )
        types[expected] += 1
    assert types["enterprise"] > types["individual_business"] > types["farmers_coop"] > 0


def test_names_look_like_qingdao(city):
    out, _ = city
    names = [r["主体名称"] for r in read_rows(out / "history/market__enterprise_registration.csv")]
    assert sum(n.endswith("公司") for n in names) > len(names) / 2
    assert any(n.endswith("专业合作社") for n in names)
    assert all(
        n.startswith(
            (
                "青岛",
                "胶州市",
                "平度市",
                "莱西市",
                "市南区",
                "市北区",
                "黄岛区",
                "崂山区",
                "李沧区",
                "城阳区",
                "即墨区",
            )
        )
        or "（青岛）" in n
        for n in names
    )
    orgs = [
        r["社会组织名称"]
        for r in read_rows(out / "history/civil_affairs__social_org_registration.xlsx")
    ]
    assert orgs and all(n.startswith("青岛") for n in orgs)


def test_dates_are_not_in_the_future_unless_dirty_or_allowed(city, catalogue):
    out, manifest = city
    for f in manifest["files"]:
        if f["format"] != "jsonl":
            continue
        ds = next(d for d in catalogue if d["code"] == f["dataset"])
        field = ds["keys"]["decision_date"]
        future = sum(
            1
            for row in read_rows(out / f["file"])
            if isinstance(row.get(field), str) and row[field][:10] > TODAY.isoformat()
        )
        assert future == f["dirty"].get("future_date", 0), f["file"]


@pytest.fixture(scope="module")
def bigger_city(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("bigger")
    return out, generate(out=out, options=GeneratorOptions(scale=3000, seed=3, today=TODAY))


def test_dirt_is_a_few_percent_and_of_every_kind(bigger_city):
    _, manifest = bigger_city
    dirty = sum(manifest["dirty"].values())
    assert 0.01 < dirty / manifest["rows"] < 0.06
    assert set(manifest["dirty"]) == set(DIRTY_KINDS)
    assert set(manifest["noise"]) == {
        "code_noise",
        "former_name",
        "exact_duplicate",
        "late_registrant",
    }


def test_record_counts_are_skewed_and_tax_grades_realistic(bigger_city):
    out, manifest = bigger_city
    assert manifest["rows"] > 3000 * 10
    grades = Counter(r["信用级别"] for r in read_rows(out / "history/tax__tax_rating.csv"))
    total = sum(grades.values())
    assert 0.2 < grades["A级"] / total < 0.4
    assert 0.35 < grades["B级"] / total < 0.55
    per_subject = Counter(
        r["统一社会信用代码"] for r in read_rows(out / "history/market__admin_licence.csv")
    )
    counts = sorted(per_subject.values())
    median = counts[len(counts) // 2]
    assert counts[-1] >= 8 * median  # a few subjects with many records, most with few


# --- history and live weekly submissions ------------------------------------------------------


def _clean_date(value: object) -> dt.date | None:
    """A JSON Lines date cell as a date, or None for the intentional dirt."""
    if not isinstance(value, str) or len(value) != 10:
        return None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        return None
    return day if day <= TODAY else None


def test_history_is_backfill_and_live_files_are_weekly_drops(city, catalogue):
    out, manifest = city
    weeks = [dt.date.fromisoformat(d) for d in manifest["live"]["weeks"]]
    assert len(weeks) == 8
    assert all(d.weekday() == 0 for d in weeks)  # Mondays, a week apart, the last before today
    assert all((b - a).days == 7 for a, b in zip(weeks, weeks[1:], strict=False))
    assert weeks[-1] < TODAY <= weeks[-1] + dt.timedelta(days=7)
    history = [f for f in manifest["files"] if f["backfill"]]
    live = [f for f in manifest["files"] if not f["backfill"]]
    assert all(f["folder"] == "history" and f["received_at"] is None for f in history)
    # Registrations stay in the history; live files are records only.
    assert {f["kind"] for f in live} == {"record"}
    assert {f["dataset"] for f in history} >= {
        "enterprise_registration",
        "social_org_registration",
        "public_institution_registration",
        "practitioner_registration",
    }
    start = weeks[0] - dt.timedelta(days=7)
    for f in live:
        week = dt.date.fromisoformat(f["folder"].removeprefix("live/"))
        received = dt.datetime.fromisoformat(f["received_at"])
        assert week in weeks
        assert week <= received.date() < TODAY, f["file"]
        assert f["rows"] > 0
    # Every record decided in the live window is in a live file, none in the history
    # (stragglers from before the window may be in live files: they are late).
    for f in history:
        if f["kind"] != "record" or f["format"] != "jsonl":
            continue
        ds = next(d for d in catalogue if d["code"] == f["dataset"])
        field = ds["keys"]["decision_date"]
        dates = [_clean_date(r.get(field)) for r in read_rows(out / f["file"])]
        assert all(d < start for d in dates if d is not None), f["file"]
    # Ingestion order: history (registrations first, late registrations last), then live.
    order = manifest["ingest_order"]
    assert set(order) == {f["file"] for f in manifest["files"]}
    kinds = ["history" if o.startswith("history/") else "live" for o in order]
    assert kinds == sorted(kinds)
    assert order[0].endswith("_registration.csv") or order[0].endswith("_registration.xlsx")
    by_file = {f["file"]: f for f in manifest["files"]}
    received = [by_file[o]["received_at"] for o in order if not by_file[o]["backfill"]]
    assert received == sorted(received)


def test_live_records_were_decided_before_their_week(bigger_city, catalogue):
    out, manifest = bigger_city
    stragglers = 0
    rows = 0
    for f in manifest["files"]:
        if f["backfill"] or f["format"] != "jsonl":
            continue
        ds = next(d for d in catalogue if d["code"] == f["dataset"])
        field = ds["keys"]["decision_date"]
        week = dt.date.fromisoformat(f["folder"].removeprefix("live/"))
        for r in read_rows(out / f["file"]):
            day = _clean_date(r.get(field))
            if day is None:
                continue
            rows += 1
            assert day < week, (f["file"], day)
            stragglers += day < week - dt.timedelta(days=7)
    assert rows > 100
    assert 0 < stragglers < rows / 4


def test_rows_total_is_about_the_same_as_one_file_per_dataset(bigger_city):
    _, manifest = bigger_city
    live = manifest["live"]
    assert 0.03 < live["rows"] / manifest["rows"] < 0.15
    assert live["files"] == sum(not f["backfill"] for f in manifest["files"])
