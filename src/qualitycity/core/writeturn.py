"""Short SQLite writes on the request path take turns in a queue instead of retrying asleep.

When a SQLite database is locked by another writer, SQLite's busy handler sleeps and retries
(1, 2, 5, 10, 15, 20, 25 … ms). Under a steady stream of small writes from several server
threads and processes (every check is logged; every API request is counted) these sleeps, not
the writes, make the slow tail of the response times. Here the writers of one database wait
for each other on a lock that wakes the next one as soon as the previous one is done: a thread
lock within a process and an ``flock`` on a file beside the database between processes.

Only the request path's small writes use it; jobs and imports keep SQLite's own handling.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection


class WriteTurn:
    """Exclusive turns for writing one SQLite file, across threads and processes."""

    def __init__(self, path: str) -> None:
        self.lockfile = f"{path}.writelock"
        self._thread_lock = threading.Lock()
        self._fd: int | None = None
        self._pid: int | None = None

    def _descriptor(self) -> int:
        if self._pid != os.getpid():  # a forked child opens its own description
            self._fd = os.open(self.lockfile, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        return self._fd

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._thread_lock:
            fd = self._descriptor()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)


_turns: dict[str, WriteTurn] = {}
_turns_lock = threading.Lock()


def turn_for(path: str) -> WriteTurn:
    with _turns_lock:
        turn = _turns.get(path)
        if turn is None:
            turn = _turns[path] = WriteTurn(path)
        return turn


@contextmanager
def database_write() -> Iterator[None]:
    """A turn to write the operational database (nothing to wait for on PostgreSQL)."""
    if connection.vendor != "sqlite":
        yield
        return
    with turn_for(str(connection.settings_dict["NAME"]))():
        yield
