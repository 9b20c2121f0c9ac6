"""Evaluation runs: check the request, read, compute on the chosen engine, store the results.

``evaluation_start`` queues a run as a job (UI, API); ``qualitycity evaluate`` runs the same job
in the foreground with a progress bar. ``evaluate`` is the work itself.

A run either completes or leaves nothing but its failed run row: results are written and the run
marked done in one transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

import pyarrow as pa
from django.db import connection, transaction
from django.utils import timezone

from qualitycity.core.errors import ApplicationError, ValidationFailed
from qualitycity.core.jobs import job_create, job_enqueue, job_kind
from qualitycity.core.models import Job

from . import compiler, engines
from .models import EvaluationRun
from .scorecard import Scorecard, in_force

log = logging.getLogger(__name__)

STORE_CHUNK = 20_000


class NothingToEvaluate(ApplicationError):
    status = 409
    code = "nothing_to_evaluate"


def parse_as_of(text: str | dt.date | None) -> dt.date:
    """The as-of date (default: today); a date in the future is refused."""
    today = timezone.localdate()
    if text in (None, ""):
        return today
    if isinstance(text, dt.date):
        day = text
    else:
        try:
            day = dt.date.fromisoformat(str(text))
        except ValueError:
            raise ValidationFailed(
                f"--as-of must be a date YYYY-MM-DD, not {text!r}", code="bad_as_of"
            ) from None
    if day > today:
        raise ValidationFailed(
            f"The as-of date {day} is in the future; evaluations use what is known up to a day "
            f"that has passed (today is {today}).",
            code="as_of_in_future",
            details={"as_of": day.isoformat(), "today": today.isoformat()},
        )
    return day


def _candidates(cards: list[Scorecard], as_of: dt.date) -> int:
    """How many subjects the scorecards would evaluate; refuses when there are none."""
    types = sorted({t for card in cards for t in card.subject_types})
    from qualitycity.subjects.models import Subject

    registry = Subject.objects.filter(subject_type__in=types).exclude(status="cancelled")
    count = registry.filter(registered_by_q(as_of)).count()
    if count:
        return count
    if not Subject.objects.exists():
        raise NothingToEvaluate(
            "The subject registry is empty: register subjects (or ingest registration data) "
            "before evaluating.",
            details={"as_of": as_of.isoformat()},
        )
    earliest = registry.order_by("registered_on").values_list("registered_on", flat=True).first()
    raise NothingToEvaluate(
        f"No subject of the types {', '.join(types)} was registered on or before {as_of}"
        + (f"; the earliest was registered on {earliest}." if earliest else "."),
        details={
            "as_of": as_of.isoformat(),
            "subject_types": types,
            "earliest_registration": earliest.isoformat() if earliest else None,
        },
    )


def registered_by_q(as_of: dt.date) -> Any:
    from django.db.models import Q

    return Q(registered_on__isnull=True) | Q(registered_on__lte=as_of)


def evaluation_check(
    *, engine: str = "duckdb", as_of: Any = None, scorecard: str | None = None
) -> tuple[list[Scorecard], dt.date, int]:
    """Validate a request before any work: engine, date, scorecards in force, subjects."""
    if engine not in engines.ENGINES:
        raise ValidationFailed(
            f"Unknown engine {engine!r}; use one of {', '.join(engines.ENGINES)}.",
            code="unknown_engine",
            details={"engines": list(engines.ENGINES)},
        )
    engines.check_available(engine)
    day = parse_as_of(as_of)
    cards = in_force(day, scorecard)
    return cards, day, _candidates(cards, day)


def evaluation_job(
    *, engine: str = "duckdb", as_of: Any = None, scorecard: str | None = None, user: Any = None
) -> Job:
    """Check the request and create the evaluation job (progress in percent), not yet run."""
    _cards, day, _count = evaluation_check(engine=engine, as_of=as_of, scorecard=scorecard)
    job = job_create(
        kind="evaluate",
        title=f"Credit evaluation as of {day} ({engine})",
        params={"engine": engine, "as_of": day.isoformat(), "scorecard": scorecard},
        user=user,
    )
    Job.objects.filter(pk=job.pk).update(unit="%")
    job.unit = "%"
    return job


def evaluation_start(
    *, engine: str = "duckdb", as_of: Any = None, scorecard: str | None = None, user: Any = None
) -> Job:
    """Check the request and queue the evaluation job."""
    return job_enqueue(evaluation_job(engine=engine, as_of=as_of, scorecard=scorecard, user=user))


@job_kind("evaluate")
def _evaluate_job(job: Job, progress: Any) -> dict[str, Any]:
    p = job.params
    run = evaluate(
        engine=p.get("engine") or "duckdb",
        as_of=p.get("as_of"),
        scorecard=p.get("scorecard"),
        user=job.created_by,
        job=job,
        progress=progress,
    )
    return run_summary(run)


def run_summary(run: EvaluationRun) -> dict[str, Any]:
    return {
        "run_id": run.pk,
        "engine": run.engine,
        "as_of": run.as_of.isoformat(),
        "status": str(run.status),
        "scorecards": [f"{c['id']}@{c['version']}" for c in run.scorecards],
        "subjects_evaluated": run.subjects_evaluated,
        "class_counts": {k: run.class_counts.get(k, 0) for k in "ABCD"},
        "override_counts": run.override_counts,
        "records_read": run.records_read,
        "latest_record_at": run.latest_record_at.isoformat() if run.latest_record_at else None,
        "previous_run_id": run.previous_run_id,
        "timings": run.timings,
    }


class _Steps:
    """Progress in percent across read (15), compute (35) and store (50)."""

    def __init__(self, progress: Any):
        self.progress = progress
        self.done = 0
        if progress is not None:
            progress.set_total(100)

    def to(self, percent: float) -> None:
        target = min(100, int(percent))
        if self.progress is not None and target > self.done:
            self.progress.advance(target - self.done)
        self.done = max(self.done, target)


def evaluate(
    *,
    engine: str = "duckdb",
    as_of: Any = None,
    scorecard: str | None = None,
    user: Any = None,
    job: Job | None = None,
    progress: Any = None,
    tables: tuple[pa.Table, pa.Table] | None = None,
) -> EvaluationRun:
    """Evaluate every subject the scorecards in force cover; returns the finished run.

    ``tables`` (subjects, records as Arrow) skips the export for the duckdb and spark engines
    (benchmarks use it to time the steps apart).
    """
    cards, day, _count = evaluation_check(engine=engine, as_of=as_of, scorecard=scorecard)
    steps = _Steps(progress)
    previous = (
        EvaluationRun.objects.filter(status=EvaluationRun.Status.DONE).order_by("-id").first()
    )
    run = EvaluationRun.objects.create(
        engine=engine,
        as_of=day,
        scorecards=[c.summary() for c in cards],
        job=job,
        created_by=user if getattr(user, "pk", None) and not _is_client(user) else None,
        previous_run=previous,
    )
    timings: dict[str, float] = {}
    try:
        kwargs = {"tables": tables} if tables is not None and engine != "sqlite" else {}
        results: list[tuple[Scorecard, pa.Table]] = []
        with engines.engine_for(engine, cards, day, **kwargs) as eng:
            t0 = time.perf_counter()
            eng.prepare()
            timings["read"] = round(time.perf_counter() - t0, 3)
            read_info = (eng.records_read, _latest_submission(cards), eng.latest_decision_date)
            steps.to(15)
            columns = compiler.record_columns(cards)
            t0 = time.perf_counter()
            for i, card in enumerate(cards, 1):
                expr = compiler.compile_scorecard(card, day, columns)
                results.append((card, eng.execute(expr)))
                steps.to(15 + 35 * i / len(cards))
            timings["compute"] = round(time.perf_counter() - t0, 3)
        t0 = time.perf_counter()
        with transaction.atomic():
            counts, overrides, evaluated = _store(run, results, previous, steps)
            run.status = EvaluationRun.Status.DONE
            run.finished_at = timezone.now()
            run.subjects_evaluated = evaluated
            run.class_counts = counts
            run.override_counts = overrides
            run.records_read, run.latest_record_at, run.latest_decision_date = read_info
            timings["store"] = round(time.perf_counter() - t0, 3)
            run.timings = timings
            run.save()
        steps.to(100)
    except BaseException as exc:
        EvaluationRun.objects.filter(pk=run.pk).update(
            status=EvaluationRun.Status.FAILED,
            finished_at=timezone.now(),
            error=f"{type(exc).__name__}: {exc}"[:2000],
            timings=timings,
        )
        raise
    log.info("evaluation run %s: %s subjects, %s", run.pk, evaluated, counts)
    return run


def _is_client(actor: Any) -> bool:
    from qualitycity.core.models import ApiClient

    return isinstance(actor, ApiClient)


def _latest_submission(cards: list[Scorecard]) -> Any:
    """When the newest processed submission of the datasets the scorecards read came in."""
    from django.db.models import Max

    from qualitycity.records.models import SourceFile

    return SourceFile.objects.filter(
        dataset__in=sorted(compiler.record_datasets(cards)),
        status=SourceFile.Status.PROCESSED,
    ).aggregate(latest=Max("received_at"))["latest"]


def _previous_classes(previous: EvaluationRun | None) -> pa.Table:
    ids: list[int] = []
    classes: list[str] = []
    if previous is not None:
        with connection.cursor() as cur:
            cur.execute(
                "SELECT subject_id, risk_class FROM credit_evaluationresult WHERE run_id = %s",
                [previous.pk],
            )
            for subject_id, risk_class in cur.fetchall():
                ids.append(subject_id)
                classes.append(risk_class)
    return pa.table(
        {"subject_id": pa.array(ids, pa.int64()), "risk_class": pa.array(classes, pa.string())}
    )


def _contribution_sql(card: Scorecard) -> str:
    """DuckDB SQL building the JSON ``{indicator: [value, points]}`` of one result row."""
    parts = []
    for ind in card.indicators:
        v, p = f"v_{ind.id}", f"p_{ind.id}"
        pts = f"CAST({p} / 100.0 AS VARCHAR)"
        if ind.kind == "count":
            value = f"CAST({v} / {compiler.FACTOR_SCALE}.0 AS VARCHAR)"
            shown = f"{v} <> 0 OR {p} <> 0"
        elif ind.kind in ("exists", "sum"):
            value = f"CAST({v} AS VARCHAR)"
            shown = f"{v} <> 0 OR {p} <> 0"
        elif ind.kind == "age":
            value = f"COALESCE(CAST({v} AS VARCHAR), 'null')"
            shown = f"{p} <> 0"
        else:
            value = f"to_json({v})::VARCHAR"
            shown = f"{p} <> 0"
        parts.append(
            f"CASE WHEN {shown} THEN '\"{ind.id}\": [' || {value} || ', ' || {pts} || ']' END"
        )
    if not parts:
        return "'{}'"
    items = f"list_filter([{', '.join(parts)}], lambda x: x IS NOT NULL)"
    return f"'{{' || array_to_string({items}, ', ') || '}}'"


def _store(
    run: EvaluationRun,
    results: list[tuple[Scorecard, pa.Table]],
    previous: EvaluationRun | None,
    steps: _Steps,
) -> tuple[dict[str, int], dict[str, int], int]:
    """Write the results of every scorecard; returns class counts, override counts, total."""
    import duckdb

    counts = dict.fromkeys("ABCD", 0)
    overrides: dict[str, int] = {}
    total_rows = sum(t.num_rows for _, t in results) or 1
    written = 0
    db = duckdb.connect()
    try:
        db.register("prev", _previous_classes(previous))
        for card, table in results:
            db.register("res", table)
            rows = db.execute(
                f"""
                SELECT {run.pk}, res.subject_id, '{card.id}', '{card.version}',
                       CAST(res.score_cp AS DECIMAL(12, 0)) / 100,
                       res.risk_class, COALESCE(prev.risk_class, ''),
                       COALESCE(res.override, ''), {_contribution_sql(card)}
                FROM res LEFT JOIN prev USING (subject_id)
                ORDER BY res.subject_id
                """
            ).fetchall()
            for risk_class, n in db.execute(
                "SELECT risk_class, count(*) FROM res GROUP BY 1"
            ).fetchall():
                counts[risk_class] += n
            for ov, n in db.execute(
                "SELECT override, count(*) FROM res WHERE override IS NOT NULL GROUP BY 1"
            ).fetchall():
                overrides[ov] = overrides.get(ov, 0) + n
            for start in range(0, len(rows), STORE_CHUNK):
                chunk = rows[start : start + STORE_CHUNK]
                _insert(chunk)
                written += len(chunk)
                steps.to(50 + 50 * written / total_rows)
            db.unregister("res")
    finally:
        db.close()
    return counts, overrides, written


_COLUMNS = (
    "run_id, subject_id, scorecard, scorecard_version, score, risk_class, previous_class, "
    "override, contributions"
)


def _insert(rows: list[tuple]) -> None:
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            with cur.cursor.copy(f"COPY credit_evaluationresult ({_COLUMNS}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * 9)
            cur.executemany(
                f"INSERT INTO credit_evaluationresult ({_COLUMNS}) VALUES ({marks})", rows
            )
