"""Daily work the platform does by itself, started by the job worker.

Apps register a daily job with ``@daily(name)``: a function ``(day) -> Job`` that queues it
(ending list publications whose period has run out, flagging missed deadlines, …). Every job
worker checks once a minute; from ``QUALITYCITY_DAILY_AT`` (local time, default 01:00) a job
that has not run that day is started. ``ScheduledRun`` has one row per name and day under a
unique constraint, so with several workers exactly one starts it, and a worker that was down
at that hour catches up when it starts.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable

from django.conf import settings
from django.db import IntegrityError, close_old_connections, transaction
from django.utils import timezone

from .models import Job, ScheduledRun

log = logging.getLogger(__name__)

DAILY: dict[str, tuple[str, Callable[[dt.date], Job]]] = {}


def daily(name: str, description: str):
    """Register ``fn(day) -> Job`` to be started once a day."""

    def register(fn: Callable[[dt.date], Job]) -> Callable[[dt.date], Job]:
        DAILY[name] = (description, fn)
        return fn

    return register


def _start_time() -> dt.time:
    return dt.time.fromisoformat(settings.QUALITYCITY_DAILY_AT)


def run_due(now: dt.datetime | None = None) -> list[ScheduledRun]:
    """Start every daily job whose time has come today and that has not run today."""
    local = timezone.localtime(now or timezone.now())
    if local.time() < _start_time():
        return []
    started = []
    for name, (_, start) in sorted(DAILY.items()):
        if ScheduledRun.objects.filter(name=name, day=local.date()).exists():
            continue
        try:
            with transaction.atomic():
                run = ScheduledRun.objects.create(name=name, day=local.date())
                run.job = start(local.date())
                run.save(update_fields=["job"])
        except IntegrityError:
            continue  # another worker started it
        except Exception:
            log.exception("daily job %s could not be started", name)
            continue
        log.info("started daily job %s for %s", name, local.date())
        started.append(run)
    return started


def schedule_status(now: dt.datetime | None = None) -> list[dict]:
    """Each daily job with its last run and when it runs next."""
    local = timezone.localtime(now or timezone.now())
    at = _start_time()
    rows = []
    for name, (description, _) in sorted(DAILY.items()):
        last = ScheduledRun.objects.filter(name=name).select_related("job").first()
        ran_today = last is not None and last.day == local.date()
        next_day = local.date() + dt.timedelta(days=1) if ran_today else local.date()
        next_at = timezone.make_aware(dt.datetime.combine(next_day, at))
        if not ran_today:
            next_at = max(next_at, local)  # overdue today: at the worker's next check
        rows.append(
            {
                "name": name,
                "description": description,
                "at": at.isoformat(timespec="minutes"),
                "last_day": last.day if last else None,
                "last_job": str(last.job_id) if last and last.job_id else None,
                "last_status": last.job.status if last and last.job else None,
                "next": next_at,
            }
        )
    return rows


def start_scheduler(interval: float = 60.0) -> threading.Thread:
    """Check for due daily jobs now and every ``interval`` seconds, in a daemon thread."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                run_due()
            except Exception:  # the database may be briefly unavailable: try again later
                log.exception("the daily schedule could not be checked")
            finally:
                close_old_connections()
            stop.wait(interval)

    thread = threading.Thread(target=loop, name="daily-schedule", daemon=True)
    thread.stop = stop  # type: ignore[attr-defined]
    thread.start()
    return thread
