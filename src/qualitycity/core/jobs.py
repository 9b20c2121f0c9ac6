"""Tracked jobs: long work with progress, run by the task worker or in the foreground.

A job's function receives a ``Progress``; it calls ``progress.advance(n)`` as it goes. Progress is
written to the database at most every half second, so the UI can poll it and the CLI can draw a
bar from the same object.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from typing import Any

from django.utils import timezone
from django_tasks import task

from . import context
from .models import Job

log = logging.getLogger(__name__)

# kind → function(job, progress) -> outcome dict. Apps register their job kinds here.
JOB_KINDS: dict[str, Callable[[Job, Progress], dict[str, Any]]] = {}


def job_kind(name: str):
    def register(fn: Callable[[Job, Progress], dict[str, Any]]):
        JOB_KINDS[name] = fn
        return fn

    return register


class Progress:
    def __init__(self, job: Job, *, bar: Any = None, interval: float = 0.5):
        self.job = job
        self.bar = bar
        self.interval = interval
        self._last = 0.0

    def set_total(self, total: int | None) -> None:
        self.job.total = total
        Job.objects.filter(pk=self.job.pk).update(total=total)
        if self.bar is not None and total is not None:
            self.bar.total = total
            self.bar.refresh()

    def advance(self, n: int = 1) -> None:
        self.job.done += n
        if self.bar is not None:
            self.bar.update(n)
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            Job.objects.filter(pk=self.job.pk).update(done=self.job.done)


def job_create(
    *, kind: str, title: str, params: dict[str, Any], user: Any = None, department: Any = None
) -> Job:
    from .models import ApiClient

    if kind not in JOB_KINDS:
        raise ValueError(f"unknown job kind {kind}")
    return Job.objects.create(
        kind=kind,
        title=title[:200],
        params=params,
        created_by=user
        if user is not None and not isinstance(user, ApiClient) and user.pk
        else None,
        api_client=user if isinstance(user, ApiClient) else None,
        department=department,
    )


def job_run(job: Job, *, bar: Any = None) -> Job:
    """Run a queued job in this process; its changes are logged as made by its creator.

    The queued → running transition is a conditional update, so a job delivered twice (a worker
    retry, two workers) runs once.
    """
    claimed = Job.objects.filter(pk=job.pk, status=Job.Status.QUEUED).update(
        status=Job.Status.RUNNING, started_at=timezone.now()
    )
    job.refresh_from_db()
    if not claimed:
        return job
    progress = Progress(job, bar=bar)
    try:
        with context.acting_as(
            user=job.created_by, api_client=job.api_client, source="job", request_id=job.pk
        ):
            outcome = JOB_KINDS[job.kind](job, progress)
    except Exception as exc:  # the job's outcome is the error; the worker keeps going
        log.exception("job %s (%s) failed", job.pk, job.kind)
        Job.objects.filter(pk=job.pk).update(
            status=Job.Status.FAILED,
            finished_at=timezone.now(),
            done=progress.job.done,
            error=f"{type(exc).__name__}: {exc}",
            outcome={"traceback": traceback.format_exc(limit=5)},
        )
    else:
        Job.objects.filter(pk=job.pk).update(
            status=Job.Status.SUCCEEDED,
            finished_at=timezone.now(),
            done=progress.job.done,
            outcome=outcome,
        )
    job.refresh_from_db()
    return job


@task()
def run_job_task(job_id: str) -> str:
    return job_run(Job.objects.get(pk=job_id)).status


def job_enqueue(job: Job) -> Job:
    """Hand a job to the worker (or run it at once when the immediate backend is configured)."""
    run_job_task.enqueue(str(job.pk))
    job.refresh_from_db()
    return job
