"""The two-process ingestion pipeline: a forked reader decides, the parent stores.

These tests run outside a transaction (``transaction=True``) with ``PIPELINE_MIN_ROWS = 0``,
so that even small files go through the forked reader; batches of one row make every file
several batches. Failures anywhere must leave the submission clean (``received``, nothing
stored) and a retry must give the normal result.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from qualitycity.core.models import Department
from qualitycity.records import services
from qualitycity.records.ingest import pipeline
from qualitycity.records.models import QuarantinedRow, Record, SourceFile
from qualitycity.records.services import ingest_file
from tests.records.ingest_files import penalty, write_csv

NAMES = {1: "青岛甲机械有限公司", 2: "青岛乙食品有限公司", 3: "青岛丙（集团）有限公司"}

pytestmark = pytest.mark.skipif(not pipeline.available(), reason="needs os.fork")


@pytest.fixture
def spool(monkeypatch, tmp_path) -> Path:
    """The folder the pipeline makes its spool folders in; tests check it is left empty."""
    root = tmp_path / "spool"
    root.mkdir()
    monkeypatch.setattr(pipeline, "_spool_root", lambda: str(root))
    return root


@pytest.fixture
def forked(monkeypatch, register_subjects, spool):
    """Small batches, the pipeline for every file; counts how often a reader was forked."""
    register_subjects(NAMES)
    monkeypatch.setattr(services, "PIPELINE_MIN_ROWS", 0)
    monkeypatch.setattr(services, "BATCH_SIZE", 1)
    monkeypatch.setattr(services, "WRITE_ROWS", 2)
    calls = {"forks": 0}
    original = pipeline.run_forked

    def counting(*args, **kw):
        calls["forks"] += 1
        return original(*args, **kw)

    monkeypatch.setattr(pipeline, "run_forked", counting)
    return calls


def ingest(path: Path):
    market = Department.objects.get(code="market")
    return ingest_file(path=path, department=market, dataset="admin_penalty", channel="cli")


def rows() -> list[dict]:
    return [
        *(penalty(n, name) for n, name in NAMES.items()),
        penalty(1, NAMES[1]),  # the same record again: a duplicate
        penalty(9, "未登记公司", decision_no="Z1"),  # unknown subject
        penalty(2, "别的名字", decision_no="Z2"),  # name mismatch
        penalty(3, NAMES[3], decision_no="Z3", fine_amount="很多"),
    ]


def assert_clean(sf: SourceFile) -> None:
    sf.refresh_from_db()
    assert sf.status == SourceFile.Status.RECEIVED
    assert not Record.objects.exists() and not QuarantinedRow.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_pipeline_gives_the_in_process_result(tmp_path, forked):
    path = write_csv(tmp_path / "p.csv", rows())
    result = ingest(path)
    assert forked["forks"] == 1
    assert (result.rows, result.accepted, result.duplicates, result.rejected) == (7, 3, 1, 3)
    assert result.reasons == {"unknown_subject": 1, "name_mismatch": 1, "not_a_number": 1}
    sf = SourceFile.objects.get()
    assert (sf.status, sf.rows, sf.accepted, sf.rejected) == ("processed", 7, 3, 3)
    assert Record.objects.count() == 3 and QuarantinedRow.objects.count() == 3
    assert sorted(Record.objects.values_list("row_number", flat=True)) == [2, 3, 4]
    unknown = QuarantinedRow.objects.get(primary_reason="unknown_subject")
    assert unknown.row_number == 6 and unknown.raw["decision_no"] == "Z1"

    # an update of a stored record (newer version) and a conflict, through the pipeline too
    changed = [
        penalty(1, NAMES[1], fine_amount="9.9", version="2"),
        penalty(2, NAMES[2], fine_amount="9.9"),
    ]
    result = ingest(write_csv(tmp_path / "q.csv", changed))
    assert forked["forks"] == 2
    assert (result.updated, result.rejected, result.reasons) == (1, 1, {"conflict": 1})
    assert Record.objects.get(source_record_id=penalty(1, "")["decision_no"]).version == 2

    # the same file again is a resubmission: nothing is forked, nothing changes
    assert ingest(path).resubmission and forked["forks"] == 2


@pytest.mark.django_db(transaction=True)
def test_small_files_and_dry_runs_stay_in_process(tmp_path, forked, monkeypatch):
    monkeypatch.setattr(services, "PIPELINE_MIN_ROWS", 1000)
    assert ingest(write_csv(tmp_path / "p.csv", rows())).accepted == 3
    monkeypatch.setattr(services, "PIPELINE_MIN_ROWS", 0)
    market = Department.objects.get(code="market")
    result = ingest_file(
        path=write_csv(tmp_path / "d.csv", [penalty(1, NAMES[1], decision_no="D")]),
        department=market,
        dataset="admin_penalty",
        channel="cli",
        dry_run=True,
    )
    assert result.accepted == 1 and result.dry_run
    assert forked["forks"] == 0


@pytest.mark.django_db(transaction=True)
def test_an_error_in_the_reader_is_raised_here_and_undone(tmp_path, forked, monkeypatch):
    path = write_csv(tmp_path / "p.csv", rows())
    original = services._FileRun.decide
    seen = {"n": 0}  # counted in the reader's copy of memory

    def failing(self, batch):
        seen["n"] += 1
        if seen["n"] == 4:  # after some batches were stored by the parent
            raise ValueError("bad luck in the reader")
        return original(self, batch)

    monkeypatch.setattr(services._FileRun, "decide", failing)
    with pytest.raises(ValueError, match="bad luck") as info:
        ingest(path)
    assert any("ingestion reader process" in note for note in info.value.__notes__)
    assert_clean(SourceFile.objects.get())

    monkeypatch.setattr(services._FileRun, "decide", original)
    result = ingest(path)
    assert (result.accepted, result.rejected, result.rows) == (3, 3, 7)


@pytest.mark.django_db(transaction=True)
def test_a_killed_reader_does_not_hang_the_ingestion(tmp_path, forked, spool, monkeypatch):
    path = write_csv(tmp_path / "p.csv", rows())
    original = services._FileRun.decide
    seen = {"n": 0}

    def killed(self, batch):
        seen["n"] += 1
        if seen["n"] == 3:
            os.kill(os.getpid(), signal.SIGKILL)
        return original(self, batch)

    monkeypatch.setattr(services._FileRun, "decide", killed)
    with pytest.raises(pipeline.ChildDied, match="exit code -9"):
        ingest(path)
    assert_clean(SourceFile.objects.get())
    assert list(spool.iterdir()) == []


@pytest.mark.django_db(transaction=True)
def test_a_failure_while_storing_stops_the_reader_and_undoes(tmp_path, forked, spool, monkeypatch):
    path = write_csv(tmp_path / "p.csv", rows())
    original = services._FileRun.write
    calls = {"n": 0}

    def failing(self, *args):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk full")
        return original(self, *args)

    monkeypatch.setattr(services._FileRun, "write", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        ingest(path)
    assert_clean(SourceFile.objects.get())
    assert list(spool.iterdir()) == []  # the batches the reader had written are gone too
    monkeypatch.setattr(services._FileRun, "write", original)
    assert ingest(path).accepted == 3


@pytest.mark.django_db(transaction=True)
def test_a_refusal_found_by_the_reader_refuses_the_file(tmp_path, forked):
    path = write_csv(tmp_path / "p.csv", rows())
    with open(path, "a", encoding="utf-8") as f:
        f.write('青岛甲机械有限公司,"cut off in a quoted value')  # truncated mid-row
    result = ingest(path)
    assert result.refused and result.refusal_code == "truncated_file"
    sf = SourceFile.objects.get()
    assert sf.status == SourceFile.Status.REFUSED
    assert not Record.objects.exists() and not QuarantinedRow.objects.exists()


def test_run_forked_passes_items_and_errors(spool):
    got = []

    def produce(send):
        for i in range(10):
            send({"batch": i, "rows": [(i, "青岛", None, True)] * 3})

    pipeline.run_forked(produce, got.append, max_waiting=2)
    assert got == [{"batch": i, "rows": [(i, "青岛", None, True)] * 3} for i in range(10)]
    assert list(spool.iterdir()) == []

    def refuse(send):
        send("first")
        raise pipeline.FileRefused("truncated_file", "cut", details={"line": 3})

    got.clear()
    with pytest.raises(pipeline.FileRefused) as info:
        pipeline.run_forked(refuse, got.append)
    assert (info.value.code, info.value.details, got) == ("truncated_file", {"line": 3}, ["first"])

    class Unpicklable(Exception):
        def __init__(self, a, b):
            super().__init__(a)

    def odd(send):
        raise Unpicklable("x", "y")

    with pytest.raises(RuntimeError, match="Unpicklable: x"):
        pipeline.run_forked(odd, got.append)
    assert list(spool.iterdir()) == []


def test_the_reader_waits_when_max_waiting_items_are_not_yet_taken(spool):
    """The reader runs ahead by at most ``max_waiting`` items: memory stays bounded."""
    import time

    waiting = []

    def spooled() -> int:
        return sum(len(list(d.iterdir())) for d in spool.iterdir())

    def produce(send):
        for i in range(8):
            send(i)

    def consume(item):
        # a slow consumer: let the reader run ahead as far as it may, then a little longer
        ahead = min(3, 8 - len(waiting) - 1)
        deadline = time.monotonic() + 10
        while spooled() < ahead and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.05)
        waiting.append(spooled())

    pipeline.run_forked(produce, consume, max_waiting=3)
    assert waiting == [3, 3, 3, 3, 3, 2, 1, 0]


def test_spools_left_by_killed_processes_are_removed_by_the_next_run(spool):
    import subprocess
    import sys

    script = "import os; print(os.getpid())"
    gone = subprocess.run(  # noqa: S603 - a process that has ended by the time it returns
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.strip()
    dead = spool / f"{pipeline.SPOOL_PREFIX}{gone}-abc"
    dead.mkdir()
    (dead / "7.pickle").write_bytes(b"left over")
    living = spool / f"{pipeline.SPOOL_PREFIX}{os.getpid()}-def"  # another run of this process
    living.mkdir()
    pipeline.run_forked(lambda send: send(1), lambda item: None)
    assert [p.name for p in spool.iterdir()] == [living.name]


_ORPHAN_SCRIPT = """
import os, sys, time
from qualitycity.records.ingest import pipeline

pipeline._spool_root = lambda: sys.argv[2]

def produce(send):
    with open(sys.argv[1], "w") as f:
        f.write(str(os.getpid()))
    while True:
        send(b"x" * 100_000)

pipeline.run_forked(produce, lambda item: time.sleep(3600), max_waiting=1)
"""


def test_a_reader_whose_parent_is_killed_exits(tmp_path, spool):
    import subprocess
    import sys
    import time

    pid_file = tmp_path / "reader.pid"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "qualitycity.settings"}
    parent = subprocess.Popen(  # noqa: S603 - our own script
        [sys.executable, "-c", _ORPHAN_SCRIPT, str(pid_file), str(spool)], env=env
    )
    try:
        for _ in range(200):
            if pid_file.exists() and pid_file.read_text():
                break
            time.sleep(0.05)
        reader = int(pid_file.read_text())
        time.sleep(0.5)  # the spool fills up; the reader waits to send
    finally:
        parent.kill()
        parent.wait()
    for _ in range(100):
        try:
            os.kill(reader, 0)
        except ProcessLookupError:
            break
        with open(f"/proc/{reader}/stat") as f:  # an exited, unreaped process is a zombie
            if f.read().split(") ", 1)[1].startswith("Z"):
                break
        time.sleep(0.1)
    else:
        os.kill(reader, signal.SIGKILL)
        pytest.fail("the reader kept running after its parent was killed")
    assert list(spool.iterdir()) == []  # the reader removed the spool before it went


def test_manual_collection_while_items_flow_is_restored():
    import gc

    assert gc.isenabled()
    with pipeline._ManualGC() as collector:
        assert not gc.isenabled()
        for _ in range(pipeline.FULL_COLLECT_EVERY + 1):
            collector.tick()
    assert gc.isenabled()
    gc.disable()
    try:  # a caller that had disabled it keeps it disabled
        with pipeline._ManualGC():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_spool_stays_off_a_small_shared_memory(monkeypatch):
    """A container's 64 MB /dev/shm could not hold the waiting batches: the temp folder does."""

    class Small:
        f_bavail, f_frsize = 64 * 1024 * 1024 // 4096, 4096

    monkeypatch.setattr(pipeline.os, "statvfs", lambda path: Small())
    assert pipeline._spool_root() is None

    class Roomy:
        f_bavail, f_frsize = 2 * 1024 * 1024 * 1024 // 4096, 4096

    monkeypatch.setattr(pipeline.os, "statvfs", lambda path: Roomy())
    monkeypatch.setattr(pipeline.os, "access", lambda path, mode: True)
    assert pipeline._spool_root() == "/dev/shm"  # noqa: S108
