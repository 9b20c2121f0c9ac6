"""Registration (bulk and single), former names, the change log and the name index."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.contenttypes.models import ContentType

from qualitycity.core.context import acting_as
from qualitycity.core.errors import NotFound, ValidationFailed
from qualitycity.core.models import Department, ObjectChange
from qualitycity.subjects.models import FormerName, Subject, SubjectNameGram
from qualitycity.subjects.selectors import subject_get, subject_public_dict
from qualitycity.subjects.services import (
    index_keys,
    subject_register_one,
    subjects_register,
    subjects_registered,
)

from .factories import legal_row, person_row, resident_id, uscc

pytestmark = pytest.mark.django_db


def _changes(subject: Subject) -> list[ObjectChange]:
    ct = ContentType.objects.get_for_model(Subject)
    return list(
        ObjectChange.objects.filter(content_type=ct, object_id=str(subject.pk)).order_by("id")
    )


def _index(subject: Subject) -> set[tuple]:
    return set(
        SubjectNameGram.objects.filter(subject=subject).values_list(
            "gram", "is_former", "name_len", "subject_id"
        )
    )


def test_register_creates_subjects_with_change_log_and_index():
    market = Department.objects.get(code="market")
    rows = [
        legal_row(1, "青岛海洋食品有限公司", registered_on=datetime.date(2015, 3, 1)),
        person_row(7, "张三"),
    ]
    with acting_as(source="job") as ctx:
        counts = subjects_register(rows=rows, department=market)
    assert counts == {"created": 2, "updated": 0, "unchanged": 0}

    company = Subject.objects.get(code=uscc(1))
    assert company.name == "青岛海洋食品有限公司"
    assert company.registered_by == market
    assert company.registered_on == datetime.date(2015, 3, 1)
    person = Subject.objects.get(code=resident_id(7))
    assert person.kind == "person"

    (change,) = _changes(company)
    assert change.action == "create"
    assert change.request_id == ctx.request_id
    assert change.source == "job"
    assert change.postchange_data["name"] == "青岛海洋食品有限公司"
    # A person's name never appears unmasked in the change log's display text.
    assert _changes(person)[0].object_repr == "张*"

    assert _index(company) == index_keys(company.pk, company.name, [])
    assert ("^青岛", False, 10, company.pk) in _index(company)


def test_same_batch_again_changes_nothing():
    rows = [legal_row(1, "青岛海洋食品有限公司"), legal_row(2, "青岛蓝天科技有限公司")]
    subjects_register(rows=rows, department=None)
    before = ObjectChange.objects.count()
    assert subjects_register(rows=rows, department=None) == {
        "created": 0,
        "updated": 0,
        "unchanged": 2,
    }
    assert ObjectChange.objects.count() == before


def test_rename_moves_old_name_to_former_names_and_reindexes():
    subjects_register(rows=[legal_row(1, "青岛海洋食品有限公司")], department=None)
    company = Subject.objects.get(code=uscc(1))
    counts = subjects_register(
        rows=[legal_row(1, "青岛蓝海食品股份有限公司", status="revoked")], department=None
    )
    assert counts == {"created": 0, "updated": 1, "unchanged": 0}
    company.refresh_from_db()
    assert company.name == "青岛蓝海食品股份有限公司"
    assert company.status == "revoked"
    former = FormerName.objects.get(subject=company)
    assert former.name == "青岛海洋食品有限公司"
    assert former.until == datetime.date.today()

    create, update = _changes(company)
    assert update.action == "update"
    diff = {k: (a, b) for k, a, b in update.diff()}
    assert diff["name"] == ("青岛海洋食品有限公司", "青岛蓝海食品股份有限公司")
    assert diff["former_names"] == ([], ["青岛海洋食品有限公司"])
    assert diff["status"] == ("active", "revoked")

    assert _index(company) == index_keys(company.pk, company.name, ["青岛海洋食品有限公司"])

    # Renamed back: the name leaves the former names, the other one joins them.
    subjects_register(rows=[legal_row(1, "青岛海洋食品有限公司")], department=None)
    company.refresh_from_db()
    assert list(company.former_names.values_list("name", flat=True)) == ["青岛蓝海食品股份有限公司"]
    assert _index(company) == index_keys(company.pk, company.name, ["青岛蓝海食品股份有限公司"])


def test_listed_former_names_are_kept_and_added():
    subjects_register(
        rows=[legal_row(1, "青岛新名有限公司", former_names=["青岛旧名有限公司"])], department=None
    )
    subjects_register(
        rows=[legal_row(1, "青岛新名有限公司", former_names=["青岛更旧名称厂"])], department=None
    )
    company = Subject.objects.get(code=uscc(1))
    assert sorted(company.former_names.values_list("name", flat=True)) == [
        "青岛旧名有限公司",
        "青岛更旧名称厂",
    ]


def test_duplicate_code_in_one_batch_keeps_both_names():
    counts = subjects_register(
        rows=[legal_row(1, "青岛甲有限公司"), legal_row(1, "青岛乙有限公司")], department=None
    )
    assert counts["created"] == 1
    company = Subject.objects.get(code=uscc(1))
    assert company.name == "青岛乙有限公司"
    assert list(company.former_names.values_list("name", flat=True)) == ["青岛甲有限公司"]


def test_bad_row_is_refused():
    with pytest.raises(ValidationFailed) as exc:
        subjects_register(rows=[legal_row(1, "", kind="legal")], department=None)
    assert exc.value.code == "bad_registration_row"


def test_large_batch_is_written_in_bulk(django_assert_max_num_queries):
    rows = [legal_row(n, f"青岛第{n}号贸易有限公司") for n in range(1, 1201)]
    # A few dozen statements for 1,200 subjects, not thousands.
    with django_assert_max_num_queries(40):
        counts = subjects_register(rows=rows, department=None)
    assert counts["created"] == 1200
    assert ObjectChange.objects.filter(action="create").count() >= 1200


def test_signal_lists_newly_registered_codes(django_capture_on_commit_callbacks):
    received = []

    def handler(sender, codes, **kwargs):
        received.extend(codes)

    subjects_registered.connect(handler)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            subjects_register(rows=[legal_row(1, "青岛甲有限公司")], department=None)
        with django_capture_on_commit_callbacks(execute=True):
            subjects_register(rows=[legal_row(1, "青岛甲有限公司")], department=None)
    finally:
        subjects_registered.disconnect(handler)
    assert received == [uscc(1)]


def test_register_one_validates_and_derives():
    subject = subject_register_one(code=uscc(3, division="370212").lower(), name="崂山矿泉水厂")
    assert subject.code == uscc(3, division="370212")
    assert subject.kind == "legal"
    assert subject.subject_type == "enterprise"  # positions 1-2 are 91
    assert subject.district == "370212"

    person = subject_register_one(code=resident_id(5), name="李四")
    assert person.kind == "person"
    assert person.subject_type == "natural_person"

    bad = uscc(4)[:-1] + ("0" if uscc(4)[-1] != "0" else "1")
    with pytest.raises(ValidationFailed) as exc:
        subject_register_one(code=bad, name="坏代码公司")
    assert exc.value.code == "bad_check"


def test_subject_get_errors():
    subject_register_one(code=uscc(1), name="青岛甲有限公司")
    assert subject_get(code=" " + uscc(1)[:9] + "-" + uscc(1)[9:]).code == uscc(1)
    with pytest.raises(NotFound) as exc:
        subject_get(code=uscc(2))
    assert exc.value.code == "subject_not_registered"
    assert exc.value.status == 404
    bad = uscc(2)[:-1] + ("0" if uscc(2)[-1] != "0" else "1")
    with pytest.raises(ValidationFailed) as exc:
        subject_get(code=bad)
    assert exc.value.code == "bad_check"
    assert exc.value.status == 400
    with pytest.raises(ValidationFailed) as exc:
        subject_get(code="123")
    assert exc.value.code == "bad_length"


def test_public_dict_masks_persons_only():
    subjects_register(
        rows=[
            person_row(9, "张三丰", former_names=["张君宝"]),
            legal_row(1, "青岛甲有限公司", legal_representative="王小明"),
        ],
        department=None,
    )
    person = Subject.objects.get(kind="person")
    masked = subject_public_dict(person, unmasked=False, former_names=["张君宝"])
    assert masked["code"] == resident_id(9)[:6] + "********" + resident_id(9)[-4:]
    assert masked["name"] == "张**"
    assert masked["former_names"] == ["张**"]
    assert masked["masked"] is True
    full = subject_public_dict(person, unmasked=True)
    assert full["code"] == resident_id(9)
    assert full["name"] == "张三丰"
    assert full["masked"] is False

    company = Subject.objects.get(kind="legal")
    public = subject_public_dict(company, unmasked=False)
    assert public["name"] == "青岛甲有限公司"
    assert public["code"] == uscc(1)
    assert public["legal_representative"] == "王**"
    assert public["district_label"] == {"zh": "市南区", "en": "Shinan"}


def _all_index() -> set[tuple]:
    return set(SubjectNameGram.objects.values_list("gram", "is_former", "name_len", "subject_id"))


def _expected_index() -> set[tuple]:
    keys: set[tuple] = set()
    for subject in Subject.objects.all():
        formers = list(subject.former_names.values_list("name", flat=True))
        keys |= index_keys(subject.pk, subject.name, formers)
    return keys


def test_orm_saves_keep_the_index_in_step():
    subject = subject_register_one(code=uscc(1), name="青岛甲乙有限公司")
    subject.name = "青岛丙丁科技有限公司"
    subject.save()
    FormerName.objects.create(subject=subject, name="青岛甲乙有限公司")
    assert _all_index() == _expected_index()
    former = FormerName.objects.get(subject=subject)
    former.name = "青岛戊己厂"
    former.save()
    assert _all_index() == _expected_index()
    former.delete()
    assert _all_index() == _expected_index()
    other = Subject.objects.create(
        code=uscc(2), kind="legal", name="崂山庚辛有限公司", subject_type="enterprise"
    )
    assert _all_index() == _expected_index()
    other.delete()
    subject.delete()
    assert _all_index() == set()


def test_reindex_rebuilds_from_names(capsys):
    from django.core.management import call_command

    subjects_register(
        rows=[
            legal_row(n, f"青岛第{n}号有限公司", former_names=[f"旧名{n}厂"]) for n in range(1, 30)
        ],
        department=None,
    )
    expected = _all_index()
    SubjectNameGram.objects.all().delete()
    call_command("subjects", "reindex", "--json")
    assert '"subjects": 29' in capsys.readouterr().out
    assert _all_index() == expected
