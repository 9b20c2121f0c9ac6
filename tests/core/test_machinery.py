"""Change log, scopes, jobs, personal-data log filter, translations."""

import logging
from pathlib import Path

import pytest
from django.conf import settings

from qualitycity.core import context
from qualitycity.core.errors import ValidationFailed
from qualitycity.core.jobs import JOB_KINDS, job_create, job_enqueue, job_kind, job_run
from qualitycity.core.logging import PersonalDataFilter, redact
from qualitycity.core.models import Department, Job, ObjectChange, Role
from qualitycity.core.permissions import has_scope, require_scope
from qualitycity.core.services import apiclient_create

pytestmark = pytest.mark.django_db


def test_change_log_records_actor_request_and_before_after(make_user):
    officer = make_user("alice", Role.PLATFORM_ADMIN)
    dept = Department.objects.get(code="tax")
    with context.acting_as(user=officer, source="web") as ctx:
        dept.name_en = "Qingdao Tax Service"
        dept.save()
    change = ObjectChange.objects.filter(object_id=str(dept.pk), action="update").get()
    assert change.user == officer
    assert change.request_id == ctx.request_id
    assert change.source == "web"
    assert ("name_en", "Qingdao Municipal Tax Service", "Qingdao Tax Service") in change.diff()


def test_delete_is_logged_with_last_state(make_user):
    dept = Department(code="temp", name_zh="临时", name_en="Temporary")
    dept.save()
    pk = dept.pk
    dept.delete()
    change = ObjectChange.objects.get(object_id=str(pk), action="delete")
    assert change.prechange_data["code"] == "temp"
    assert change.postchange_data is None


def test_departments_synced_after_migrate():
    assert Department.objects.filter(data_holding=True).count() == 16
    assert Department.objects.filter(code="court", data_holding=False).exists()


def test_unknown_scope_is_refused():
    with pytest.raises(ValidationFailed) as exc:
        apiclient_create(
            name="x", department=Department.objects.get(code="tax"), scopes=["subjects.raed"]
        )
    assert exc.value.code == "unknown_scope"


def test_role_scopes(make_user):
    inspector = make_user("ins", Role.INSPECTOR)
    officer = make_user("off", Role.DATA_OFFICER, department="tax")
    assert has_scope(officer, "records.ingest")
    assert not has_scope(inspector, "records.ingest")
    from qualitycity.core.errors import PermissionDenied, Unauthenticated

    with pytest.raises(PermissionDenied):
        require_scope(inspector, "records.ingest")
    from django.contrib.auth.models import AnonymousUser

    with pytest.raises(Unauthenticated):
        require_scope(AnonymousUser(), "subjects.read")


def test_job_records_progress_and_outcome(make_user):
    @job_kind("test_count")
    def count(job, progress):
        progress.set_total(job.params["n"])
        for _ in range(job.params["n"]):
            progress.advance()
        return {"counted": job.params["n"]}

    try:
        job = job_create(kind="test_count", title="count", params={"n": 7})
        assert job.status == Job.Status.QUEUED
        job = job_run(job)
        assert job.status == Job.Status.SUCCEEDED
        assert (job.done, job.total, job.percent) == (7, 7, 100.0)
        assert job.outcome == {"counted": 7}
        # a second delivery of the same job does not run it again
        job_run(job)
        assert Job.objects.get(pk=job.pk).done == 7
    finally:
        JOB_KINDS.pop("test_count")


def test_failing_job_keeps_error_and_enqueue_runs_in_immediate_backend():
    @job_kind("test_fail")
    def fail(job, progress):
        progress.set_total(10)
        progress.advance(3)
        raise RuntimeError("disk full")

    try:
        job = job_enqueue(job_create(kind="test_fail", title="fail", params={}))
        assert job.status == Job.Status.FAILED
        assert job.error == "RuntimeError: disk full"
        assert job.done == 3
    finally:
        JOB_KINDS.pop("test_fail")


def test_log_filter_masks_resident_ids(caplog):
    assert redact("id 37020219850101123X ok") == "id 370202********123X ok"
    logger = logging.getLogger("qualitycity.test")
    logger.addFilter(PersonalDataFilter())
    with caplog.at_level(logging.INFO, logger="qualitycity.test"):
        logger.info("looked up %s", "370202198501011234")
    assert "198501011234" not in caplog.text
    assert "370202********1234" in caplog.text


def test_translations_are_compiled_not_committed():
    source = Path(settings.LOCALE_SOURCE)
    assert list(source.glob("*/LC_MESSAGES/*.po")), "the Chinese catalogue exists"
    assert not list(source.glob("*/LC_MESSAGES/*.mo")), "compiled catalogues are never in the tree"
    compiled = Path(settings.LOCALE_PATHS[0]) / "zh_Hans" / "LC_MESSAGES" / "django.mo"
    assert compiled.exists()


def test_catalogue_recompiled_when_the_po_changes_even_if_the_mo_looks_newer(settings, tmp_path):
    import os

    from qualitycity.core.i18n import ensure_compiled

    source = tmp_path / "src"
    po = source / "zh_Hans" / "LC_MESSAGES" / "django.po"
    po.parent.mkdir(parents=True)
    header = 'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
    po.write_text(header + 'msgid "Yes"\nmsgstr "是"\n', encoding="utf-8")
    settings.LOCALE_SOURCE = source
    settings.LOCALE_PATHS = [tmp_path / "out"]
    assert len(ensure_compiled()) == 1
    assert ensure_compiled() == []  # unchanged: nothing to do
    mo = tmp_path / "out" / "zh_Hans" / "LC_MESSAGES" / "django.mo"
    po.write_text(header + 'msgid "Yes"\nmsgstr "对"\n', encoding="utf-8")
    os.utime(po, (1, 1))  # the changed .po looks older than the .mo
    assert ensure_compiled() == [mo]
    assert "对".encode() in mo.read_bytes()


def test_processes_starting_together_compile_the_catalogue_without_tripping(settings, tmp_path):
    """Workers starting at once on a new home each compile; none fails, the result is whole."""
    import threading

    from babel.messages.mofile import read_mo

    from qualitycity.core.i18n import ensure_compiled

    settings.LOCALE_PATHS = [tmp_path / "out"]
    barrier = threading.Barrier(8)
    errors = []

    def start():
        barrier.wait()
        try:
            ensure_compiled()
        except Exception as exc:  # collected: the assertion below names it
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    out = tmp_path / "out" / "zh_Hans" / "LC_MESSAGES"
    with (out / "django.mo").open("rb") as f:
        assert len(read_mo(f)) > 100
    assert sorted(p.name for p in out.iterdir()) == ["django.mo", "django.mo.sha256"]


def test_a_recompiled_catalogue_is_served_by_the_process_that_compiled_it(settings, tmp_path):
    """After an upgrade the first process start compiles the new catalogue: it must use it."""
    from django.utils import translation

    from qualitycity.core.i18n import ensure_compiled

    po = tmp_path / "src" / "zh_Hans" / "LC_MESSAGES" / "django.po"
    po.parent.mkdir(parents=True)
    header = 'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
    po.write_text(header + 'msgid "Catalogue probe"\nmsgstr "旧译文"\n', encoding="utf-8")
    settings.LOCALE_SOURCE = tmp_path / "src"
    settings.LOCALE_PATHS = [tmp_path / "out"]
    ensure_compiled()
    with translation.override("zh-hans"):
        assert translation.gettext("Catalogue probe") == "旧译文"  # loaded and cached
    po.write_text(header + 'msgid "Catalogue probe"\nmsgstr "新译文"\n', encoding="utf-8")
    ensure_compiled()
    with translation.override("zh-hans"):
        assert translation.gettext("Catalogue probe") == "新译文"
