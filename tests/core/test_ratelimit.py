"""Sliding-window rate counts shared by server processes (``core.ratelimit``)."""

from __future__ import annotations

import multiprocessing

import pytest

from qualitycity.core import ratelimit

T0 = 1_800_000_000.0  # a window boundary for 60-second windows (divisible by 60)


@pytest.fixture
def clock(monkeypatch):
    now = {"t": T0}
    monkeypatch.setattr(ratelimit.time, "time", lambda: now["t"])
    return now


@pytest.fixture(params=["sqlite", "cache"])
def counter(request, settings, tmp_path):
    settings.QUALITYCITY_RATE_COUNTER_PATH = tmp_path / "counts.sqlite3"
    return ratelimit.SqliteCounter() if request.param == "sqlite" else ratelimit.CacheCounter()


def test_admits_up_to_the_limit_then_refuses_with_the_wait(counter, clock):
    clock["t"] = T0 + 15
    assert [counter.hit("k", 3, 60).allowed for _ in range(5)] == [True, True, True, False, False]
    refused = counter.hit("k", 3, 60)
    assert refused.retry_after == pytest.approx(45)  # the window ends 45 s later
    assert counter.hit("other", 3, 60).allowed  # each key has its own budget


def test_the_previous_window_counts_by_the_share_still_inside_the_period(counter, clock):
    clock["t"] = T0 + 50
    assert all(counter.hit("k", 4, 60).allowed for _ in range(4))
    # 15 s into the next window, 3/4 of the previous window still counts: 4 × 0.75 = 3
    # requests, so one more is admitted.
    clock["t"] = T0 + 75
    assert [counter.hit("k", 4, 60).allowed for _ in range(2)] == [True, False]
    # Refused requests are not counted: when enough of the previous window has slid out
    # (45 s in: 4 × 0.25 = 1, plus the one admitted), two more are admitted.
    clock["t"] = T0 + 105
    assert [counter.hit("k", 4, 60).allowed for _ in range(3)] == [True, True, False]


def test_a_refused_request_is_told_when_the_previous_window_has_slid_out_enough(counter, clock):
    clock["t"] = T0 + 30
    assert all(counter.hit("k", 2, 60).allowed for _ in range(2))
    clock["t"] = T0 + 60
    refused = counter.hit("k", 2, 60)
    # 2 × (1 − f) < 2 needs f > 0: any moment after the boundary admits one (at least 1 s).
    assert not refused.allowed and refused.retry_after == pytest.approx(1)


def _hammer(path: str, n: int, queue, barrier) -> None:
    import django
    from django.conf import settings

    django.setup()
    settings.QUALITYCITY_RATE_COUNTER_PATH = path
    counter = ratelimit.SqliteCounter()
    barrier.wait()  # all open the new counter file at once
    try:
        queue.put(sum(counter.hit("shared", 150, 3600).allowed for _ in range(n)))
    except Exception as exc:  # the parent reports it instead of waiting for a count
        queue.put(repr(exc))


def test_processes_share_one_budget(tmp_path):
    """Eight processes, 40 requests each, one limit of 150: exactly 150 are admitted."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    path = str(tmp_path / "shared.sqlite3")
    barrier = ctx.Barrier(8)
    procs = [ctx.Process(target=_hammer, args=(path, 40, queue, barrier)) for _ in range(8)]
    for p in procs:
        p.start()
    admitted = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert all(isinstance(n, int) for n in admitted), admitted
    assert sum(admitted) == 150


def test_old_windows_are_pruned(settings, tmp_path, clock):
    settings.QUALITYCITY_RATE_COUNTER_PATH = tmp_path / "counts.sqlite3"
    counter = ratelimit.SqliteCounter()
    counter._PRUNE_EVERY = 3
    counter.hit("a", 10, 60)
    clock["t"] = T0 + 600
    counter.hit("b", 10, 60)
    counter.hit("b", 10, 60)  # the third hit prunes windows that ended over a period ago
    rows = counter._connection().execute("SELECT key FROM window_count").fetchall()
    assert rows == [("b",)]
