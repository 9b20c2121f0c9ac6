"""The web server's worker: gunicorn's threaded worker, sharing connections fairly.

Every worker process waits on the same listening socket, and the one that wakes first takes
the next connection. When a client opens its pool of keep-alive connections at once, one worker
often takes all of them: that process (one core: its threads share the interpreter lock) then
serves all the client's requests while the other idles. Measured with 16 connections and 2
workers: splits of 16/0 and 13/3 left checks queueing (p50 0.3–1.7 s at 1,000 requests/s)
where a 9/7 split served them in 3 ms (docs/benchmarks.md).

So each worker publishes how many connections it holds in a small table shared by the workers
(created by the server process before it forks them), and stops taking new ones while it holds
more than the least-loaded live sibling plus ``SLACK``; a sibling takes them instead. A worker
whose siblings are gone accepts as before.
"""

from __future__ import annotations

import multiprocessing
import os
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

from qualitycity.core.processes import alive as _alive

SLACK = 1
_table: dict[str, Any] = {}


def prepare(workers: int) -> None:
    """In the server process, before the workers are forked: the shared table of
    (pid, connections), with room for replacements of workers that died."""
    slots = 2 * workers + 2
    _table["pids"] = multiprocessing.RawArray("q", slots)
    _table["conns"] = multiprocessing.RawArray("q", slots)
    _table["lock"] = multiprocessing.Lock()


def may_accept(mine: int, siblings: list[int], slack: int = SLACK) -> bool:
    """Take a new connection unless this worker holds more than the least-loaded live sibling
    plus ``slack`` (no live sibling: always)."""
    return not siblings or mine <= min(siblings) + slack


class FairThreadWorker(ThreadWorker):
    """``gthread`` worker that leaves new connections to a sibling holding fewer."""

    _slot: int | None = None

    @property
    def worker_connections(self) -> int:
        # Read by the worker's loop before each wait: at its limit, it stops polling the
        # listening socket. Publish our count here and lower the limit while we hold more
        # than our share.
        limit = self._limit
        if self._slot is None:
            return limit
        pids, conns = _table["pids"], _table["conns"]
        conns[self._slot] = self.nr_conns
        siblings = [
            conns[i] for i in range(len(pids)) if i != self._slot and pids[i] and _alive(pids[i])
        ]
        return limit if may_accept(self.nr_conns, siblings) else min(limit, self.nr_conns)

    @worker_connections.setter
    def worker_connections(self, value: int) -> None:
        self._limit = value

    def init_process(self) -> None:
        if _table:
            with _table["lock"]:
                pids = _table["pids"]
                for i in range(len(pids)):
                    if not pids[i] or not _alive(pids[i]):
                        pids[i], _table["conns"][i] = os.getpid(), 0
                        self._slot = i
                        break
        super().init_process()
