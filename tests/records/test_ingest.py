"""The ingestion engine: formats, refusals, row reasons, duplicates/updates, crash safety."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import pytest
from django.conf import settings

from qualitycity.core.errors import NotFound, PermissionDenied
from qualitycity.core.models import Department
from qualitycity.records import services
from qualitycity.records.models import QuarantinedRow, Record, RecordRevision, SourceFile
from qualitycity.records.services import (
    ingest_file,
    ingest_path,
    quarantine_discard,
    quarantine_report_rows,
    quarantine_resubmit,
)
from qualitycity.subjects.models import Subject
from tests.records.ingest_files import (
    PENALTY_FIELDS,
    PENALTY_HEADER_ZH,
    penalty,
    write_csv,
    write_jsonl,
    write_xlsx,
)
from tests.subjects.factories import resident_id, uscc

pytestmark = pytest.mark.django_db

NAMES = {1: "青岛甲机械有限公司", 2: "青岛乙食品有限公司", 3: "青岛丙（集团）有限公司"}


@pytest.fixture
def market(department):
    return department("market")


@pytest.fixture
def subjects(register_subjects):
    return register_subjects(NAMES, former_names={2: ["青岛乙商贸有限公司"]})


def ingest(path: Path, dept: Department, dataset: str = "admin_penalty", **kw):
    return ingest_file(path=path, department=dept, dataset=dataset, channel="cli", **kw)


def good_rows() -> list[dict]:
    return [penalty(n, name) for n, name in NAMES.items()]


# -- formats ---------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_encodings_and_chinese_header(tmp_path, market, subjects, encoding):
    path = write_csv(
        tmp_path / "p.csv",
        good_rows(),
        header=PENALTY_HEADER_ZH,
        fields=PENALTY_FIELDS,
        encoding=encoding,
    )
    result = ingest(path, market)
    assert (result.accepted, result.rejected, result.refused) == (3, 0, False)
    sf = SourceFile.objects.get(pk=result.submission_id)
    assert sf.encoding == ("gb18030" if encoding == "gb18030" else encoding)
    rec = Record.objects.get(source_record_id="青市监罚〔2024〕3号")
    assert rec.data["subject_name"] == "青岛丙（集团）有限公司"
    assert rec.subject.code == uscc(3)
    assert (rec.polarity, rec.severity, rec.category) == ("negative", 1, "penalty")
    assert rec.decision_date == dt.date(2024, 3, 1)
    assert rec.row_number == 4


def test_gb18030_detected_when_the_first_megabyte_is_ascii(tmp_path, market, subjects):
    rows = [penalty(1, NAMES[1], facts="x" * 1_200_000), penalty(2, NAMES[2])]
    path = write_csv(tmp_path / "p.csv", rows, encoding="gb18030")
    result = ingest(path, market)
    assert result.accepted == 2
    assert SourceFile.objects.get().encoding == "gb18030"
    assert Record.objects.get(source_record_id=rows[1]["decision_no"]).data["facts"] == (
        "在网店发布虚假广告"
    )


def test_xlsx_with_dates_and_numbers(tmp_path, market, subjects):
    rows = good_rows()
    rows[0]["decision_date"] = dt.datetime(2024, 3, 2)
    rows[0]["fine_amount"] = 2.0
    path = write_xlsx(tmp_path / "p.xlsx", rows)
    result = ingest(path, market)
    assert (result.accepted, result.rejected) == (3, 0)
    rec = Record.objects.get(source_record_id=rows[0]["decision_no"])
    assert rec.decision_date == dt.date(2024, 3, 2)
    assert rec.data["fine_amount"] == "2"


def test_jsonl_with_optional_keys_missing_on_first_line(tmp_path, market, subjects):
    rows = good_rows()
    del rows[0]["fine_amount"]
    rows[1]["版本号"] = 1  # a later line may use a label or a key the first line lacks
    path = write_jsonl(tmp_path / "p.jsonl", rows)
    result = ingest(path, market)
    assert (result.accepted, result.rejected) == (3, 0), result.reasons


def test_jsonl_malformed_middle_line_is_quarantined(tmp_path, market, subjects):
    path = write_jsonl(tmp_path / "p.jsonl", good_rows())
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(lines[0] + b"[1, 2]\n" + b"".join(lines[1:]))
    result = ingest(path, market)
    assert (result.accepted, result.rejected, result.reasons) == (3, 1, {"malformed_row": 1})


# -- refusals --------------------------------------------------------------------------------


def refused(result, code: str) -> SourceFile:
    assert result.refused, result
    assert result.refusal_code == code, result.refusal_message
    sf = SourceFile.objects.get(pk=result.submission_id)
    assert sf.status == SourceFile.Status.REFUSED and sf.refusal_code == code
    assert (Path(settings.FILES_ROOT) / sf.stored_path).exists()  # the file is still kept
    assert not Record.objects.exists() and not QuarantinedRow.objects.exists()
    return sf


def test_empty_file_refused(tmp_path, market):
    (tmp_path / "e.csv").write_bytes(b"")
    refused(ingest(tmp_path / "e.csv", market), "empty_file")


def test_header_only_refused(tmp_path, market):
    path = write_csv(tmp_path / "h.csv", [], fields=PENALTY_FIELDS)
    refused(ingest(path, market), "empty_file")


def test_wrong_header_names_missing_and_unknown_columns(tmp_path, market, subjects):
    rows = [
        {k: v for k, v in r.items() if k != "decision_no"} | {"colour": "red"} for r in good_rows()
    ]
    result = ingest(write_csv(tmp_path / "w.csv", rows), market)
    refused(result, "wrong_header")
    assert result.refusal_details == {"missing": ["decision_no"], "unknown": ["colour"]}
    assert "decision_no" in result.refusal_message and "colour" in result.refusal_message


def test_csv_unterminated_quote_refused_as_truncated(tmp_path, market, subjects):
    path = write_csv(tmp_path / "t.csv", good_rows())
    path.write_bytes(path.read_bytes() + '青岛甲机械有限公司,"unfinished'.encode())
    refused(ingest(path, market), "truncated_file")


def test_csv_truncated_after_rows_were_stored_is_undone(tmp_path, market, subjects, monkeypatch):
    monkeypatch.setattr(services, "BATCH_SIZE", 1)
    monkeypatch.setattr(services, "WRITE_ROWS", 1)
    path = write_csv(tmp_path / "t.csv", good_rows())
    path.write_bytes(path.read_bytes() + b'x,"cut')
    refused(ingest(path, market), "truncated_file")


def test_jsonl_last_line_cut_refused(tmp_path, market, subjects):
    path = write_jsonl(tmp_path / "t.jsonl", good_rows())
    path.write_bytes(path.read_bytes()[:-20])
    refused(ingest(path, market), "truncated_file")


def test_xlsx_cut_refused(tmp_path, market, subjects):
    path = write_xlsx(tmp_path / "t.xlsx", good_rows())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    refused(ingest(path, market), "truncated_file")


def test_xlsx_with_a_corrupt_sheet_refused(tmp_path, market, subjects):
    path = write_xlsx(tmp_path / "t.xlsx", good_rows())
    broken = tmp_path / "b.xlsx"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(broken, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data[: len(data) * 2 // 3]
            dst.writestr(item, data)
    refused(ingest(broken, market), "truncated_file")


def test_binary_file_refused(tmp_path, market):
    (tmp_path / "b.csv").write_bytes(b"subject_name,subject_code\n\x00\x01\x02\xff\xfe")
    refused(ingest(tmp_path / "b.csv", market), "binary_file")


def test_undecodable_text_refused(tmp_path, market):
    (tmp_path / "b.csv").write_bytes(b"subject_name\n\xff\xff\xff\x80\x80\n")
    refused(ingest(tmp_path / "b.csv", market), "binary_file")


@pytest.mark.parametrize(
    ("name", "content"),
    [("report.pdf", b"%PDF-1.4 ..."), ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"0" * 64)],
)
def test_unknown_format_refused(tmp_path, market, name, content):
    (tmp_path / name).write_bytes(content)
    refused(ingest(tmp_path / name, market), "unknown_format")


def test_department_not_allowed_and_unknown_dataset(tmp_path, department, subjects):
    path = write_csv(tmp_path / "p.csv", good_rows())
    with pytest.raises(PermissionDenied) as exc:
        ingest(path, department("court"))
    assert exc.value.code == "department_not_allowed"
    with pytest.raises(NotFound) as exc:
        ingest(path, department("market"), dataset="nonsense")
    assert exc.value.code == "unknown_dataset"
    assert not SourceFile.objects.exists()


# -- row reasons -----------------------------------------------------------------------------


def reasons_of(row_number: int) -> list[tuple[str, str]]:
    q = QuarantinedRow.objects.get(row_number=row_number)
    return [(r["field"], r["code"]) for r in q.reasons]


def test_each_row_reason(tmp_path, market, subjects):
    future = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    bad = uscc(1)
    rows = [
        penalty(1, NAMES[1]),  # 2: good
        penalty(
            1, NAMES[1], decision_no="A3", subject_code=bad[:-1] + ("0" if bad[-1] != "0" else "1")
        ),
        penalty(1, NAMES[1], decision_no="A4", subject_code="X" + bad[1:]),  # 4 bad_authority
        penalty(1, NAMES[1], decision_no="A5", subject_name="别的公司"),  # 5 name_mismatch
        penalty(2, "青岛乙商贸有限公司", decision_no="A6"),  # 6 former name: ok
        penalty(3, "青岛丙(集团)有限公司 ", decision_no="A7"),  # 7 half-width brackets: ok
        penalty(1, NAMES[1], decision_no="A8", facts=""),  # 8 missing_required
        penalty(1, NAMES[1], decision_no="A9", decision_date="2024-02-30"),  # 9 bad_date
        penalty(1, NAMES[1], decision_no="A10", decision_date=future),  # 10 future_date
        penalty(1, NAMES[1], decision_no="A11", penalty_category="打屁股"),  # 11 not_in_codelist
        penalty(1, NAMES[1], decision_no="A12", fine_amount="一万"),  # 12 not_a_number
        penalty(9, "青岛未登记有限公司", decision_no="A13"),  # 13 unknown_subject
        penalty(1, NAMES[1], decision_no="A14", publication_end=future),  # 14 future allowed
        penalty(1, NAMES[1], decision_no="A15", authority_code="11370200MB2836391U"),
        penalty(1, NAMES[1], decision_no="A16", penalty_category="吊销营业执照"),
    ]
    fields = [*PENALTY_FIELDS, "publication_end"]
    result = ingest(write_csv(tmp_path / "p.csv", rows, fields=fields), market)
    assert result.accepted == 5
    assert reasons_of(3) == [("subject_code", "bad_check")]
    assert reasons_of(4) == [("subject_code", "bad_authority")]
    assert reasons_of(5) == [("subject_name", "name_mismatch")]
    assert reasons_of(8) == [("facts", "missing_required")]
    assert reasons_of(9) == [("decision_date", "bad_date")]
    assert reasons_of(10) == [("decision_date", "future_date")]
    assert reasons_of(11) == [("penalty_category", "not_in_codelist")]
    assert reasons_of(12) == [("fine_amount", "not_a_number")]
    assert reasons_of(13) == [("subject_code", "unknown_subject")]
    assert reasons_of(15) == [("authority_code", "bad_org_check")]
    q = QuarantinedRow.objects.get(row_number=13)
    assert (q.subject_code, q.primary_reason) == (uscc(9), "unknown_subject")
    assert (
        q.raw["行政相对人名称" if "行政相对人名称" in q.raw else "subject_name"]
        == "青岛未登记有限公司"
    )
    assert result.rejected == 10
    assert result.reasons["bad_check"] == 1
    assert Record.objects.get(source_record_id="A16").severity == 3


def test_one_reason_per_failing_field(tmp_path, market, subjects):
    rows = [penalty(1, NAMES[1], decision_date="tomorrow", penalty_category="x", fine_amount="y")]
    ingest(write_csv(tmp_path / "p.csv", rows), market)
    assert reasons_of(2) == [
        ("penalty_category", "not_in_codelist"),
        ("fine_amount", "not_a_number"),
        ("decision_date", "bad_date"),
    ]


def test_out_of_range_and_public_when(tmp_path, department, register_subjects):
    register_subjects({1: "甲公司", 2: "乙公司"})
    rows = [
        {
            "subject_name": "甲公司",
            "subject_code": uscc(1),
            "rating_id": "R1",
            "year": "2023",
            "grade": "A级",
            "rated_on": "2024-04-01",
        },
        {
            "subject_name": "乙公司",
            "subject_code": uscc(2),
            "rating_id": "R2",
            "year": "2023",
            "grade": "D",
            "rated_on": "2024-04-01",
        },
        {
            "subject_name": "乙公司",
            "subject_code": uscc(2),
            "rating_id": "R3",
            "year": "1999",
            "grade": "B",
            "rated_on": "2024-04-01",
        },
    ]
    result = ingest(write_csv(tmp_path / "t.csv", rows), department("tax"), "tax_rating")
    assert result.accepted == 2 and result.reasons == {"out_of_range": 1}
    a, d = Record.objects.get(source_record_id="R1"), Record.objects.get(source_record_id="R2")
    assert (a.polarity, a.is_public) == ("positive", True)
    assert (d.polarity, d.severity, d.is_public) == ("negative", 3, False)


def test_person_subjects_in_court_enforcement(tmp_path, department):
    from qualitycity.subjects.services import subjects_register
    from tests.subjects.factories import person_row

    subjects_register(rows=[person_row(1, "张三")], department=None)
    row = {
        "subject_name": "张三",
        "subject_code": resident_id(1),
        "case_no": "(2024)鲁02执1号",
        "court": "青岛中院",
        "obligation": "给付",
        "status": "失信被执行人",
        "published_on": "2024-01-05",
    }
    result = ingest(write_csv(tmp_path / "c.csv", [row]), department("court"), "court_enforcement")
    assert result.accepted == 1
    assert Record.objects.get().severity == 3


# -- duplicates, updates, conflicts ----------------------------------------------------------


def test_duplicates_updates_conflicts(tmp_path, market, subjects):
    first = ingest(write_csv(tmp_path / "a.csv", good_rows()), market)
    assert first.accepted == 3

    rows = good_rows()
    rows[0]["facts"] = "补充事实"  # changed without a newer version: conflict
    rows[1] = penalty(2, NAMES[2], facts="更正", version="2")  # newer version: update
    rows[2] = penalty(3, NAMES[3], version="1")  # same content: duplicate
    rows.append(penalty(1, NAMES[1], decision_no=rows[1]["decision_no"] + "x"))  # new
    fields = [*PENALTY_FIELDS, "version"]
    second = ingest(write_csv(tmp_path / "b.csv", rows, fields=fields), market)
    assert (second.accepted, second.updated, second.duplicates, second.rejected) == (1, 1, 1, 1)
    assert second.reasons == {"conflict": 1}

    updated = Record.objects.get(source_record_id=rows[1]["decision_no"])
    assert (updated.version, updated.data["facts"]) == (2, "更正")
    assert updated.source_file_id == second.submission_id
    rev = RecordRevision.objects.get(record=updated)
    assert (rev.version, rev.data["facts"], rev.source_file_id) == (
        1,
        "在网店发布虚假广告",
        first.submission_id,
    )

    # A stored id now naming another subject is a conflict as well.
    other = [penalty(2, NAMES[2], decision_no=rows[0]["decision_no"], version="5")]
    third = ingest(write_csv(tmp_path / "c.csv", other, fields=fields), market)
    assert third.reasons == {"conflict": 1}


def test_duplicate_in_file(tmp_path, market, subjects):
    rows = good_rows() + [penalty(1, NAMES[1]), penalty(1, NAMES[1], facts="不同")]
    result = ingest(write_csv(tmp_path / "d.csv", rows), market)
    assert (result.accepted, result.duplicates, result.rejected) == (3, 1, 1)
    assert reasons_of(6) == [("decision_no", "duplicate_in_file")]


def test_same_record_ids_of_another_department_do_not_collide(tmp_path, department, subjects):
    path = write_csv(tmp_path / "p.csv", good_rows())
    ingest(path, department("market"))
    result = ingest(path, department("tax"))
    assert result.accepted == 3 and not result.resubmission


# -- resubmission, crash, dry run ------------------------------------------------------------


def test_resubmitting_the_same_file_changes_nothing(tmp_path, market, subjects):
    rows = good_rows() + [penalty(9, "未登记", decision_no="Z")]
    path = write_csv(tmp_path / "p.csv", rows)
    first = ingest(path, market)
    copy = tmp_path / "again.csv"
    copy.write_bytes(path.read_bytes())
    again = ingest(copy, market)
    assert again.resubmission and not first.resubmission
    assert again.submission_id == first.submission_id
    assert again.as_dict()["resubmission"] is True
    assert (again.accepted, again.rejected) == (first.accepted, first.rejected)
    assert SourceFile.objects.count() == 1
    assert Record.objects.count() == 3 and QuarantinedRow.objects.count() == 1
    sf = SourceFile.objects.get()
    stored = Path(settings.FILES_ROOT) / sf.stored_path
    assert stored.name == f"{sf.sha256}.csv" and stored.read_bytes() == path.read_bytes()


def test_crash_midway_leaves_nothing_and_retry_is_clean(tmp_path, market, subjects, monkeypatch):
    ingest(write_csv(tmp_path / "a.csv", good_rows()[:2]), market)
    rows = good_rows()
    rows[0] = penalty(1, NAMES[1], facts="新", version="2")  # an update, to be undone
    rows += [penalty(9, "未登记", decision_no="Z")]
    path = write_csv(tmp_path / "b.csv", rows, fields=[*PENALTY_FIELDS, "version"])

    monkeypatch.setattr(services, "BATCH_SIZE", 2)
    monkeypatch.setattr(services, "WRITE_ROWS", 1)
    original = services.write_quarantine
    calls = {"n": 0}

    def failing(rows_, now):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk full")
        return original(rows_, now)

    monkeypatch.setattr(services, "write_quarantine", failing)
    with pytest.raises(RuntimeError):
        ingest(path, market)
    sf = SourceFile.objects.get(original_name="b.csv")
    assert sf.status == SourceFile.Status.RECEIVED
    assert not Record.objects.filter(source_file=sf).exists()
    assert not QuarantinedRow.objects.exists() and not RecordRevision.objects.exists()
    restored = Record.objects.get(source_record_id=rows[0]["decision_no"])
    assert (restored.version, restored.data["facts"]) == (1, "在网店发布虚假广告")

    monkeypatch.setattr(services, "write_quarantine", original)
    retry = ingest(path, market)
    assert retry.submission_id == sf.pk and not retry.resubmission
    assert (retry.accepted, retry.updated, retry.rejected) == (1, 1, 1)
    assert Record.objects.get(source_record_id=rows[0]["decision_no"]).version == 2


def test_killed_process_leftovers_are_undone_on_retry(tmp_path, market, subjects, monkeypatch):
    path = write_csv(tmp_path / "a.csv", good_rows())
    ingest(path, market)
    # Pretend the process died: the submission stays "processing" with its rows stored.
    old = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    SourceFile.objects.update(status=SourceFile.Status.PROCESSING, updated_at=old)
    retry = ingest(path, market)
    assert not retry.resubmission and retry.accepted == 3
    assert Record.objects.count() == 3


def test_dry_run_stores_nothing(tmp_path, market, subjects):
    rows = good_rows() + [penalty(9, "未登记", decision_no="Z")]
    result = ingest(write_csv(tmp_path / "p.csv", rows), market, dry_run=True)
    assert (result.accepted, result.rejected, result.dry_run) == (3, 1, True)
    assert result.submission_id is None
    assert not SourceFile.objects.exists() and not Record.objects.exists()
    assert not QuarantinedRow.objects.exists()
    files = Path(settings.FILES_ROOT)
    assert not any(p.is_file() for p in files.rglob("*")) if files.exists() else True


# -- registrations and the quarantine --------------------------------------------------------


REG_FIELDS = [
    "subject_name",
    "subject_code",
    "subject_type",
    "legal_representative",
    "district",
    "industry",
    "registered_on",
    "status",
    "former_names",
]


def registration(n: int, name: str, **over) -> dict:
    row = {
        "subject_name": name,
        "subject_code": uscc(n),
        "subject_type": "企业",
        "legal_representative": "王五",
        "district": "崂山区",
        "industry": "C36",
        "registered_on": "2015-06-01",
        "status": "存续",
        "former_names": "",
    }
    row.update(over)
    return row


def test_registration_then_unknown_subjects_are_rechecked(tmp_path, market):
    penalties = [penalty(5, "青岛戊有限公司"), penalty(6, "青岛己有限公司", decision_date="bad")]
    first = ingest(write_csv(tmp_path / "p.csv", penalties), market)
    assert first.reasons == {"unknown_subject": 2, "bad_date": 1}

    regs = [
        registration(5, "青岛戊有限公司", former_names="青岛旧名有限公司；另一旧名"),
        registration(6, "青岛己有限公司"),
        registration(7, "青岛庚有限公司", subject_type="事业单位"),
    ]
    result = ingest(write_csv(tmp_path / "r.csv", regs), market, "enterprise_registration")
    assert (result.accepted, result.rejected) == (2, 1)
    assert result.reasons == {"wrong_subject_type": 1}
    s5 = Subject.objects.get(code=uscc(5))
    assert (s5.district, s5.industry, s5.registered_on) == ("370212", "36", dt.date(2015, 6, 1))
    assert sorted(s5.former_names.values_list("name", flat=True)) == [
        "另一旧名",
        "青岛旧名有限公司",
    ]

    resolved = QuarantinedRow.objects.get(subject_code=uscc(5))
    assert resolved.status == "resolved" and resolved.resolved_record.subject == s5
    still = QuarantinedRow.objects.get(subject_code=uscc(6))
    assert still.status == "open" and still.primary_reason == "bad_date"

    # The same registration file again: nothing changes.
    again = ingest(write_csv(tmp_path / "r2.csv", regs), market, "enterprise_registration")
    assert again.resubmission


def test_registration_wrong_code_kind(tmp_path, department):
    row = registration(1, "某公司")
    row["subject_code"] = resident_id(3)
    result = ingest(
        write_csv(tmp_path / "r.csv", [row]), department("market"), "enterprise_registration"
    )
    assert result.reasons == {"wrong_subject_kind": 1}


def test_quarantine_resubmit_discard_and_report(tmp_path, market, subjects, make_user):
    rows = [
        penalty(1, NAMES[1], decision_date="2024-13-01"),
        penalty(2, NAMES[2], fine_amount="abc"),
        penalty(3, NAMES[3], facts=""),
    ]
    result = ingest(
        write_csv(tmp_path / "p.csv", rows, header=PENALTY_HEADER_ZH, fields=PENALTY_FIELDS), market
    )
    assert result.rejected == 3
    officer = make_user("officer", role="data_officer", department="market")
    stranger = make_user("stranger", role="data_officer", department="tax")
    q1, q2, q3 = QuarantinedRow.objects.order_by("row_number")

    with pytest.raises(PermissionDenied):
        quarantine_resubmit(row=q1, corrected={"decision_date": "2024-12-01"}, actor=stranger)
    still = quarantine_resubmit(row=q1, corrected={"处罚决定日期": "2024-12-32"}, actor=officer)
    assert still.status == "open" and still.reasons[0]["code"] == "bad_date"
    done = quarantine_resubmit(row=q1, corrected={"decision_date": "2024-12-01"}, actor=officer)
    assert done.status == "resolved"
    assert done.resolved_record.data["decision_date"] == "2024-12-01"
    assert done.raw["处罚决定日期"] == "2024-12-01"

    quarantine_discard(row=q2, actor=officer)
    q2.refresh_from_db()
    assert q2.status == "discarded"

    sf = SourceFile.objects.get()
    report = list(quarantine_report_rows(sf))
    assert report[0][:5] == ["row", "field", "code", "message", "status"]
    assert "行政相对人名称" in report[0]
    by_row = {r[0]: r for r in report[1:]}
    assert by_row["4"][1:3] == ["facts", "missing_required"]
    assert by_row["4"][report[0].index("行政相对人名称")] == NAMES[3]
    assert len(report) == 4


# -- folders and the CLI ---------------------------------------------------------------------


def test_folder_registrations_first_and_dry_run_sees_them(tmp_path):
    folder = tmp_path / "drop"
    folder.mkdir()
    write_csv(folder / "market__admin_penalty.csv", [penalty(5, "青岛戊有限公司")])
    write_csv(folder / "market__enterprise_registration.csv", [registration(5, "青岛戊有限公司")])
    (folder / "notes.txt").write_text("hello")

    dry = ingest_path(path=folder, dry_run=True)
    assert [r.dataset for r in dry] == ["enterprise_registration", "admin_penalty", ""]
    assert dry[1].accepted == 1 and dry[2].refusal_code == "unattributed_file"
    assert not Subject.objects.exists() and not SourceFile.objects.exists()

    results = ingest_path(path=folder)
    assert [r.accepted for r in results[:2]] == [1, 1]
    assert Record.objects.get().subject.code == uscc(5)


def test_cli_json_and_exit_codes(tmp_path, subjects, capsys):
    import orjson
    from django.core.management import call_command

    good = write_csv(tmp_path / "good.csv", good_rows())
    call_command(
        "ingest",
        str(good),
        "--dataset",
        "admin_penalty",
        "--department",
        "market",
        "--json",
        "--no-progress",
    )
    out = orjson.loads(capsys.readouterr().out)
    assert out["accepted"] == 3 and out["reasons"] == {} and out["submission_id"]

    (tmp_path / "bad.csv").write_bytes(b"")
    with pytest.raises(SystemExit) as exc:
        call_command(
            "ingest",
            str(tmp_path / "bad.csv"),
            "--dataset",
            "admin_penalty",
            "--department",
            "market",
            "--json",
            "--no-progress",
        )
    assert exc.value.code == 1
    out = orjson.loads(capsys.readouterr().out)
    assert out["refused"] and out["refusal"]["code"] == "empty_file"

    folder = tmp_path / "drop"
    folder.mkdir()
    write_csv(
        folder / "market__admin_penalty.csv",
        good_rows(),
        header=PENALTY_HEADER_ZH,
        fields=PENALTY_FIELDS,
    )
    call_command("ingest", str(folder), "--json", "--no-progress")
    out = orjson.loads(capsys.readouterr().out)
    assert out["totals"]["duplicates"] == 3 and len(out["files"]) == 1


def test_ingest_job_runs_with_progress(tmp_path, market, subjects, make_user):
    from qualitycity.core.models import Job

    officer = make_user("officer", role="data_officer", department="market")
    upload = services.incoming_path("p.csv")
    write_csv(upload, good_rows())
    job = services.ingest_enqueue(
        path=upload,
        department=market,
        dataset="admin_penalty",
        actor=officer,
        channel="web",
        original_name="p.csv",
    )
    job = Job.objects.get(pk=job.pk)
    assert job.status == "succeeded", job.error
    assert (job.total, job.done, job.outcome["accepted"]) == (3, 3, 3)
    sf = SourceFile.objects.get()
    assert (sf.job_id, sf.submitted_by, sf.channel) == (job.pk, officer, "web")
    assert not upload.exists()


def test_lookup_chunk_takes_what_the_database_allows():
    from django.db import connection

    from qualitycity.records.ingest import engine

    n = engine.lookup_chunk()
    assert 1 <= n <= engine.LOOKUP_MAX
    if connection.vendor == "sqlite":
        import sqlite3

        limit = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        assert n == min(engine.LOOKUP_MAX, limit - 2)


def test_lookups_split_in_chunks_decide_the_same(tmp_path, market, subjects, monkeypatch):
    """One value per look-up query: subjects, former names, stored ids still all found."""
    from qualitycity.records.ingest import engine

    monkeypatch.setattr(engine, "LOOKUP_MAX", 1)
    assert engine.lookup_chunk() == 1
    rows = [*good_rows(), penalty(2, "青岛乙商贸有限公司", decision_no="F1")]  # a former name
    first = ingest(write_csv(tmp_path / "a.csv", rows), market)
    assert (first.accepted, first.rejected) == (4, 0)

    again = good_rows()
    again[1] = penalty(2, NAMES[2], facts="更正", version="2")  # update
    again.append(penalty(1, NAMES[1], decision_no="N1"))  # new, in a batch with stored ids
    again.append(penalty(1, "别的公司", decision_no="N2"))  # name mismatch
    fields = [*PENALTY_FIELDS, "version"]
    second = ingest(write_csv(tmp_path / "b.csv", again, fields=fields), market)
    assert (second.accepted, second.updated, second.duplicates, second.rejected) == (1, 1, 2, 1)
    assert second.reasons == {"name_mismatch": 1}
