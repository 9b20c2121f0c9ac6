"""Request-rate limits shared by every server process: the API's clients and the public portal.

A limit ``N/period`` is enforced as a sliding-window counter: requests are counted per fixed
window of one period, and a request is admitted while
``previous window × (share of it still inside the sliding period) + current window < N``.
Only admitted requests are counted, so a caller over the limit is let through again as soon as
its earlier requests slide out of the period.

Where the counts live:

- embedded default: a small SQLite file of its own under ``QUALITYCITY_HOME``
  (``QUALITYCITY_RATE_COUNTER_PATH``), shared by all processes of the machine. One statement
  per request admits and counts atomically (an ``UPSERT`` guarded by the window's cap), its
  writers taking turns (``core.writeturn``); the file is separate from the operational
  database so counting never waits for a data write;
- several app servers: Redis (``QUALITYCITY_REDIS_URL``), through the Django cache's atomic
  ``incr``.

The previous window's count is read once per window and process (it no longer grows).
"""

from __future__ import annotations

import math
import os
import sqlite3
import threading
import time
from dataclasses import dataclass

from django.conf import settings

from .writeturn import turn_for

_DURATIONS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """``"60/m"`` → ``(60, 60)``: requests allowed per period of seconds."""
    num, _, period = rate.partition("/")
    return int(num), _DURATIONS[period[:1].lower()]


def client_ip(request) -> str:
    """The caller's address: ``REMOTE_ADDR`` only. A forwarded-for header is set by whoever
    sends the request; behind a reverse proxy, the proxy must set ``REMOTE_ADDR`` (gunicorn's
    ``--forwarded-allow-ips``)."""
    return request.META.get("REMOTE_ADDR") or "unknown"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: float = 0.0  # seconds until a request would be admitted (when refused)


def _cap(limit: int, previous: int, elapsed_share: float) -> int:
    """How many requests the current window may hold given the previous window's count."""
    return limit - math.floor(previous * (1.0 - elapsed_share))


def _retry_after(limit: int, previous: int, current: int, start: float, duration: int) -> float:
    """Seconds from now until the weighted count falls below the limit (at least 1)."""
    now = time.time()
    if current >= limit or previous == 0:
        wait = start + duration - now  # the current window alone is full: wait for the next
    else:
        # previous × (1 − f) + current < limit  ⇔  f > 1 − (limit − current) / previous
        share = 1.0 - (limit - current) / previous
        wait = start + duration * share - now
    return max(1.0, wait)


class SqliteCounter:
    """Window counts in a SQLite file; one connection per thread and process."""

    _PRUNE_EVERY = 5000

    def __init__(self) -> None:
        self._local = threading.local()
        self._previous: dict[tuple[str, int], int] = {}
        self._hits = 0

    @staticmethod
    def _path() -> str:
        return str(settings.QUALITYCITY_RATE_COUNTER_PATH)

    def _connection(self) -> sqlite3.Connection:
        path = self._path()
        local = self._local
        if getattr(local, "key", None) != (os.getpid(), path):
            conn = sqlite3.connect(path, timeout=10, isolation_level=None)
            # Switching a new file to WAL needs it alone: two processes doing so at once get
            # "database is locked" at once (SQLite does not wait there), so they take turns.
            with turn_for(path)():
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS window_count (key TEXT NOT NULL, window INTEGER"
                    " NOT NULL, n INTEGER NOT NULL, expires REAL NOT NULL,"
                    " PRIMARY KEY (key, window)) WITHOUT ROWID"
                )
            conn.execute("PRAGMA synchronous=OFF")  # counts, not records: a crash may lose some
            local.conn, local.key = conn, (os.getpid(), path)
        return local.conn

    def hit(self, key: str, limit: int, duration: int) -> Decision:
        conn = self._connection()
        now = time.time()
        window = int(now // duration)
        start = window * duration
        previous = self._previous_count(conn, key, window - 1)
        cap = _cap(limit, previous, (now - start) / duration)
        row = None
        if cap >= 1:
            with turn_for(self._path())():
                row = conn.execute(
                    "INSERT INTO window_count (key, window, n, expires) VALUES (?1, ?2, 1, ?3)"
                    " ON CONFLICT (key, window) DO UPDATE SET n = n + 1 WHERE n < ?4 RETURNING n",
                    (key, window, start + 2 * duration, cap),
                ).fetchone()
        self._hits += 1
        if self._hits % self._PRUNE_EVERY == 0:
            with turn_for(self._path())():
                conn.execute("DELETE FROM window_count WHERE expires < ?", (now,))
        if row is not None and row[0] <= cap:
            return Decision(True)
        current = conn.execute(
            "SELECT n FROM window_count WHERE key = ? AND window = ?", (key, window)
        ).fetchone()
        count = current[0] if current else 0
        return Decision(False, _retry_after(limit, previous, count, start, duration))

    def _previous_count(self, conn: sqlite3.Connection, key: str, window: int) -> int:
        cache_key = (f"{settings.QUALITYCITY_RATE_COUNTER_PATH}:{key}", window)
        count = self._previous.get(cache_key)
        if count is None:
            row = conn.execute(
                "SELECT n FROM window_count WHERE key = ? AND window = ?", (key, window)
            ).fetchone()
            count = row[0] if row else 0
            if len(self._previous) > 100_000:
                self._previous.clear()
            self._previous[cache_key] = count
        return count


class CacheCounter:
    """Window counts in the Django cache (Redis: ``incr`` is atomic across servers)."""

    def hit(self, key: str, limit: int, duration: int) -> Decision:
        from django.core.cache import cache

        now = time.time()
        window = int(now // duration)
        start = window * duration
        name = f"rate:{key}:{window}"
        previous = cache.get(f"rate:{key}:{window - 1}", 0)
        cap = _cap(limit, previous, (now - start) / duration)
        cache.add(name, 0, 2 * duration)
        current = cache.incr(name)
        if current <= cap:
            return Decision(True)
        current = cache.decr(name)  # refused requests are not counted
        return Decision(False, _retry_after(limit, previous, current, start, duration))


_sqlite_counter = SqliteCounter()
_cache_counter = CacheCounter()


def hit(key: str, rate: str) -> Decision:
    """Count one request of ``key`` against ``rate`` (``"600/m"``); refuse it when over."""
    limit, duration = parse_rate(rate)
    counter = _cache_counter if settings.QUALITYCITY_REDIS_URL else _sqlite_counter
    return counter.hit(key, limit, duration)
