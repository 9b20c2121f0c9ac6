"""Request-path writers of one SQLite file take turns across threads and processes."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time
from pathlib import Path

from qualitycity.core.writeturn import WriteTurn


def _hold(path: str, log: str, hold: float) -> None:
    turn = WriteTurn(path)
    with turn():
        with open(log, "a") as f:
            f.write(f"in {time.time()}\n")
        time.sleep(hold)
        with open(log, "a") as f:
            f.write(f"out {time.time()}\n")


def test_turns_never_overlap_between_processes(tmp_path):
    path, log = str(tmp_path / "db.sqlite3"), str(tmp_path / "log.txt")
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_hold, args=(path, log, 0.2)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=30)
    events = [line.split() for line in Path(log).read_text().splitlines()]
    assert [e[0] for e in events] == ["in", "out"] * 3  # each turn ends before the next begins


def test_threads_of_one_process_take_turns_and_every_write_lands(tmp_path):
    path = str(tmp_path / "db.sqlite3")
    setup = sqlite3.connect(path, isolation_level=None)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE t (n INTEGER)")
    turn = WriteTurn(path)
    busy: list[int] = []
    inside = {"n": 0}

    def writer() -> None:
        conn = sqlite3.connect(path, isolation_level=None, timeout=0)  # no busy retry at all
        for i in range(50):
            with turn():
                inside["n"] += 1
                busy.append(inside["n"])
                conn.execute("INSERT INTO t VALUES (?)", (i,))
                inside["n"] -= 1

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert max(busy) == 1  # one writer at a time, so no "database is locked" without retries
    assert setup.execute("SELECT count(*) FROM t").fetchone()[0] == 200
