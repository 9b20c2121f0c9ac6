"""Writes of the records app: ingestion of departmental files, and the quarantine.

Every entry point (web upload, ``POST /api/v1/ingest/{dataset}``, ``qualitycity ingest``, the
``ingest`` job) ends in :func:`ingest_file`.

Pipeline: keep the original (``FILES_ROOT/<yyyy>/<mm>/<sha256>.<ext>``, hashed while copied)
→ same department + dataset + SHA-256 seen before? return the earlier result, marked
``resubmission`` → open the file with the reader its format needs (refusals: empty, wrong
header, truncated, binary, unknown format) → validate each row's fields → per batch of
``BATCH_SIZE`` rows: check subjects, duplicates and updates against the database, then store
good rows, quarantine bad ones.

Large record files (``PIPELINE_MIN_ROWS`` and more, outside any transaction) run as two
processes: a forked reader reads, validates and decides the rows (with its own read-only
database connection) and sends ready-to-store batches to this process, which stores them
``WRITE_ROWS`` rows per transaction (:mod:`.ingest.pipeline`). Registration files, dry runs,
small files and calls inside a transaction stay in one process. An error in the reader is
re-raised here with the same consequences as in-process.

Crash safety — the *submission* (``SourceFile``) is the unit. Batches are committed one by one
(so that the job's progress is visible while a large file runs, which one long transaction
would hide on SQLite), and the submission is ``processing`` until its last batch is in. If
anything fails mid-way, :func:`~.ingest.engine.source_file_undo` removes what the submission
wrote (inserted records and quarantined rows deleted, updated records restored from their
revisions) and the submission goes back to ``received``; a process killed outright leaves it
``processing``, and the next submission of the same file undoes the leftovers first. Either
way a retry starts clean and gives the same result. Selectors that must never show a
half-ingested file can filter on ``source_file__status="processed"``. Subjects registered by a
registration file are the exception: registration is idempotent, so they stay.

Dry run: the same pipeline inside one transaction that is rolled back (the original file is
not kept). A dry run of a folder runs all its files in one transaction, so records see the
registrations of the same folder.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import os
import re
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from qualitycity.core.errors import ApplicationError, Conflict, PermissionDenied, ValidationFailed
from qualitycity.core.jobs import job_create, job_enqueue, job_kind
from qualitycity.core.models import ApiClient, Department, Job, User

from .catalogue import Dataset, get_dataset, normalize_header
from .ingest import pipeline
from .ingest.engine import (
    BATCH_SIZE,
    LOOKUP_CHUNK,
    Counts,
    Engine,
    Pending,
    SubjectCache,
    _chunks,
    adapt_datetime,
    foreign_keys_checked_by_batch,
    insert_records,
    quarantine_fields,
    record_params,
    source_file_undo,
    write_quarantine,
    write_updates,
)
from .ingest.errors import FileRefused
from .ingest.readers import JsonLinesTable, Table, open_table, scan_file, store_copy
from .ingest.validation import RowValidator
from .models import QuarantinedRow, Record, SourceFile

# Rows stored per transaction (decisions are made per BATCH_SIZE rows, storing per WRITE_ROWS).
WRITE_ROWS = 50_000

log = logging.getLogger(__name__)

__all__ = [
    "IngestResult",
    "ingest_enqueue",
    "ingest_file",
    "ingest_path",
    "parse_received_at",
    "quarantine_discard",
    "quarantine_recheck",
    "quarantine_report_rows",
    "quarantine_resubmit",
    "submission_check",
]

# A submission still "processing" whose last batch is older than this is taken as crashed.
STALE_AFTER = dt.timedelta(minutes=2)
FOLDER_NAME = re.compile(r"^(?P<department>[a-z0-9_]+?)__(?P<dataset>[a-z0-9_]+)\.[A-Za-z0-9]+$")


class Progress:
    """What :func:`ingest_file` reports progress to (``core.jobs.Progress`` fits)."""

    def set_total(self, total: int | None) -> None: ...

    def advance(self, n: int = 1) -> None: ...


@dataclass
class IngestResult:
    file: str
    dataset: str
    department: str
    submission_id: int | None = None
    status: str = ""
    rows: int = 0
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    updated: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    refused: bool = False
    refusal_code: str = ""
    refusal_message: str = ""
    refusal_details: Any = None
    resubmission: bool = False
    dry_run: bool = False
    sha256: str = ""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "accepted": self.accepted,
            "rejected": self.rejected,
            "duplicates": self.duplicates,
            "updated": self.updated,
            "reasons": dict(self.reasons),
            "rows": self.rows,
            "submission_id": self.submission_id,
            "status": self.status,
            "file": self.file,
            "dataset": self.dataset,
            "department": self.department,
            "sha256": self.sha256,
            "resubmission": self.resubmission,
            "dry_run": self.dry_run,
            "refused": self.refused,
        }
        if self.refused:
            out["refusal"] = {
                "code": self.refusal_code,
                "message": self.refusal_message,
                "details": self.refusal_details,
            }
        return out

    @classmethod
    def from_source_file(cls, sf: SourceFile, **extra: Any) -> IngestResult:
        return cls(
            file=sf.original_name,
            dataset=sf.dataset,
            department=sf.department.code,
            submission_id=sf.pk,
            status=sf.status,
            rows=sf.rows,
            accepted=sf.accepted,
            rejected=sf.rejected,
            duplicates=sf.duplicates,
            updated=sf.updated,
            reasons=dict(sf.reasons or {}),
            refused=sf.status == SourceFile.Status.REFUSED,
            refusal_code=sf.refusal_code,
            refusal_message=sf.refusal_message,
            sha256=sf.sha256,
            **extra,
        )


# --------------------------------------------------------------------------------------------
# One file
# --------------------------------------------------------------------------------------------


def _header_problem(ds: Dataset, missing: list[str], unknown: list[str]) -> FileRefused:
    parts = []
    if missing:
        labels = ", ".join(f"{n} ({ds.field(n).label_zh})" for n in missing)
        parts.append(f"missing required columns: {labels}")
    if unknown:
        parts.append(f"unknown columns: {', '.join(unknown)}")
    return FileRefused(
        "wrong_header",
        f"The header does not match dataset {ds.code}: {'; '.join(parts)}.",
        details={"missing": missing, "unknown": unknown},
    )


def _actor_fields(actor: Any) -> dict[str, Any]:
    if isinstance(actor, ApiClient):
        return {"api_client": actor}
    if isinstance(actor, User) and actor.pk:
        return {"submitted_by": actor}
    return {}


# Clocks differ: a receipt time this far ahead of ours is still taken as "now".
RECEIVED_AT_SKEW = dt.timedelta(minutes=5)


def parse_received_at(text: str | None) -> dt.datetime | None:
    """``YYYY-MM-DD``, ``YYYY-MM-DDTHH:MM[:SS]`` or ISO 8601 with an offset → aware datetime.

    Without an offset the time is local (``TIME_ZONE``); a date alone is midnight. Empty → None.
    Raises ValidationFailed ``bad_received_at``.
    """
    if text is None or not str(text).strip():
        return None
    raw = str(text).strip()
    try:
        if len(raw) == 10:
            value = dt.datetime.combine(dt.date.fromisoformat(raw), dt.time.min)
        else:
            value = dt.datetime.fromisoformat(raw.replace(" ", "T", 1))
    except ValueError as exc:
        raise ValidationFailed(
            f"Not a date and time: {raw!r} (expected YYYY-MM-DD or YYYY-MM-DDTHH:MM).",
            code="bad_received_at",
            details={"received_at": raw},
        ) from exc
    if timezone.is_naive(value):
        value = timezone.make_aware(value, timezone.get_current_timezone())
    return value


def submission_check(
    *, actor: Any, received_at: dt.datetime | None = None, backfill: bool = False
) -> None:
    """Whether ``actor`` may state this receipt time and backfill flag for a submission.

    Both are an operator's statements about a submission, not a department's: a backdated
    receipt or a late submission marked as migrated history would hide lateness. Only the
    command line (no actor) and city-wide roles (platform admins, the quality office) may
    make them; anyone else gets 403 ``backfill_not_allowed`` / ``received_at_not_allowed``.
    A receipt time in the future is refused (400 ``received_at_in_future``).
    """
    if received_at is not None:
        if timezone.is_naive(received_at):
            raise ValidationFailed(
                "received_at needs a time zone.", code="bad_received_at", details=None
            )
        if received_at > timezone.now() + RECEIVED_AT_SKEW:
            raise ValidationFailed(
                "The submission cannot have been received in the future.",
                code="received_at_in_future",
                details={"received_at": received_at.isoformat()},
            )
    if actor is None or getattr(actor, "is_citywide", False):
        return
    if backfill:
        raise PermissionDenied(
            "Only city-wide roles may mark a submission as backfill (historical data migrated "
            "into the platform).",
            code="backfill_not_allowed",
        )
    if received_at is not None:
        raise PermissionDenied(
            "Only city-wide roles may state when a submission was received.",
            code="received_at_not_allowed",
        )


def ingest_file(
    *,
    path: Path,
    department: Department,
    dataset: str,
    actor: Any = None,
    channel: str,
    original_name: str | None = None,
    dry_run: bool = False,
    progress: Any = None,
    job: Job | None = None,
    rollback: bool = True,
    received_at: dt.datetime | None = None,
    backfill: bool = False,
    checked: bool = False,
) -> IngestResult:
    """Ingest one departmental file for ``dataset``; return the counts of what happened.

    ``dry_run``: validate and count, store nothing (the original is not kept either); with
    ``rollback=False`` the caller's transaction is the one rolled back (a folder dry run).

    ``received_at``: when the department's submission was received (default: now; never in
    the future); its records take it as their submission time. ``backfill``: historical data
    migrated into the platform, excluded from timeliness. Both are an operator's statements:
    only city-wide roles and the command line (no actor) may make them (see
    :func:`submission_check`; ``checked``: it was run already, when the job was created).

    Raises NotFound (``unknown_dataset``) and PermissionDenied (``department_not_allowed``)
    before anything is kept; a file refused for its content is kept as a refused submission
    and reported in the result (``refused``), not raised.
    """
    ds = get_dataset(dataset)
    if not ds.allowed(department.code):
        raise PermissionDenied(
            f"Department {department.code} may not submit dataset {ds.code}.",
            code="department_not_allowed",
            details={"dataset": ds.code, "allowed": list(ds.departments)},
        )
    if not checked:
        submission_check(actor=actor, received_at=received_at, backfill=backfill)
    sub = {"received_at": received_at, "backfill": backfill}
    path = Path(path)
    name = os.path.basename(original_name or path.name)
    if dry_run and not rollback:
        return _ingest(path, ds, department, actor, channel, name, True, progress, job, **sub)
    if dry_run:
        with transaction.atomic():
            result = _ingest(path, ds, department, actor, channel, name, True, progress, job, **sub)
            transaction.set_rollback(True)
        return result
    return _ingest(path, ds, department, actor, channel, name, False, progress, job, **sub)


def _ingest(
    path: Path,
    ds: Dataset,
    department: Department,
    actor: Any,
    channel: str,
    name: str,
    dry_run: bool,
    progress: Any,
    job: Job | None,
    received_at: dt.datetime | None = None,
    backfill: bool = False,
) -> IngestResult:
    now = timezone.now()
    root = Path(settings.FILES_ROOT)
    if dry_run:
        scan, rel, stored = scan_file(path), "", path
    else:
        scan, rel = store_copy(path, root, when=timezone.localtime(now), name=name)
        stored = root / rel

    sf = (
        SourceFile.objects.select_related("department")
        .filter(department=department, dataset=ds.code, sha256=scan.sha256)
        .first()
    )
    if sf is not None:
        if sf.status in (SourceFile.Status.PROCESSED, SourceFile.Status.REFUSED):
            return IngestResult.from_source_file(sf, resubmission=True, dry_run=dry_run)
        if sf.status == SourceFile.Status.PROCESSING and sf.updated_at > now - STALE_AFTER:
            raise Conflict(
                "This file is being ingested right now.",
                code="submission_in_progress",
                details={"submission_id": sf.pk},
            )
        with transaction.atomic():
            source_file_undo(sf, ds)  # leftovers of an attempt that did not finish
    else:
        sf = SourceFile(department=department, dataset=ds.code, sha256=scan.sha256)
    if received_at is not None or sf.pk is None:  # a retry keeps its first receipt
        sf.received_at = received_at or now
    sf.backfill = backfill
    sf.original_name = name[:255]
    sf.stored_path = rel or sf.stored_path or ""
    sf.size = scan.size
    sf.channel = channel
    sf.status = SourceFile.Status.RECEIVED
    sf.refusal_code = sf.refusal_message = ""
    sf.rows = sf.accepted = sf.rejected = sf.duplicates = sf.updated = 0
    sf.reasons = {}
    sf.job = job
    for k, v in _actor_fields(actor).items():
        setattr(sf, k, v)
    sf.save()

    run: _FileRun | None = None
    table: Table | None = None
    try:
        try:
            table = open_table(stored, name=name, scan=scan)
            sf.file_format, sf.encoding = table.format, table.encoding
            mapping, missing, unknown = ds.match_header(table.header)
            if missing or unknown:
                raise _header_problem(ds, missing, unknown)
            if isinstance(table, JsonLinesTable):
                _widen_jsonl(table, ds, mapping)
                mapping = ds.match_header(table.header)[0]
            sf.status = SourceFile.Status.PROCESSING
            sf.save()
            if progress is not None:
                progress.set_total(table.estimated_rows)
            run = _FileRun(ds, department, sf, table.header, mapping, dry_run)
            if run.forkable(table):
                _run_forked(run, table, progress)
            else:
                for decided in run.decided_batches(table):
                    run.store(decided)
                    if progress is not None:
                        progress.advance(decided.counts.rows)
            run.finish()
            if run.counts.rows == 0:
                raise FileRefused("empty_file", gettext_noop("The file has a header but no rows."))
        except FileRefused as refusal:
            if run is not None:
                run.abandon()
            with transaction.atomic():
                if run is not None and not dry_run:
                    source_file_undo(sf, ds)
                sf.status = SourceFile.Status.REFUSED
                sf.refusal_code = refusal.code
                sf.refusal_message = refusal.message
                sf.rows = sf.accepted = sf.rejected = sf.duplicates = sf.updated = 0
                sf.reasons = {}
                sf.processed_at = timezone.now()
                sf.save()
            result = IngestResult.from_source_file(sf, dry_run=dry_run)
            result.refusal_details = refusal.details
            if dry_run:
                result.submission_id = None
            return result
        c = run.counts
        sf.rows, sf.accepted, sf.rejected = c.rows, c.accepted, c.rejected
        sf.duplicates, sf.updated = c.duplicates, c.updated
        sf.reasons = dict(sorted(c.reasons.items()))
        sf.status = SourceFile.Status.PROCESSED
        sf.processed_at = timezone.now()
        sf.save()
    except BaseException:
        if run is not None:
            run.abandon()
        if not dry_run:
            log.exception("ingestion of submission %s failed; undoing it", sf.pk)
            try:
                with transaction.atomic():
                    source_file_undo(sf, ds)
                    SourceFile.objects.filter(pk=sf.pk).update(
                        status=SourceFile.Status.RECEIVED,
                        rows=0,
                        accepted=0,
                        rejected=0,
                        duplicates=0,
                        updated=0,
                        reasons={},
                    )
            except Exception:  # the database itself is gone: a retry cleans up
                log.exception("could not undo submission %s", sf.pk)
        raise
    finally:
        if table is not None:
            table.close()
    result = IngestResult.from_source_file(sf, dry_run=dry_run)
    if dry_run:
        result.submission_id = None
    return result


def _widen_jsonl(table: JsonLinesTable, ds: Dataset, mapping: list[str | None]) -> None:
    """JSON lines may omit optional keys on the first line: give every field a column."""
    present = {n for n in mapping if n}
    columns = [f.name for f in ds.fields if f.name not in present]
    header = table.header + columns
    positions: dict[str, int] = {}
    for i, h in enumerate(header):
        fname = ds.header_index.get(normalize_header(h))
        if fname is not None:
            for alias in ds.field(fname).headers:
                positions.setdefault(normalize_header(alias), i)
    table.widen(columns, positions)


@dataclass
class _Decided:
    """One batch, decided and ready to store (what the reader process sends the parent)."""

    inserts: list[tuple]
    updates: list[Pending]
    registrations: list[Pending]
    rejects: list[tuple]
    counts: Counts  # this batch's share of the submission's counts


# Files with fewer rows are ingested in-process (forking a reader costs more than it saves).
PIPELINE_MIN_ROWS = 20_000


def _run_forked(run: _FileRun, table: Table, progress: Any) -> None:
    """Read, validate and decide in a forked reader process; store here as batches arrive."""

    def produce(send: Callable[[Any], None]) -> None:
        for decided in run.decided_batches(table):
            send(decided)

    def consume(decided: _Decided) -> None:
        run.store(decided)
        if progress is not None:
            progress.advance(decided.counts.rows)

    pipeline.run_forked(produce, consume)


class _FileRun:
    """The batches of one submission: decide each batch, store the rows in few transactions.

    Deciding (:meth:`decided_batches`: read, validate, check against the database) and storing
    (:meth:`store`) are separate, so that large record files can do the first in a forked
    reader process while this one stores (:func:`_run_forked`); the counts travel with each
    batch.
    """

    def __init__(
        self,
        ds: Dataset,
        department: Department,
        sf: SourceFile,
        header: list[str],
        mapping: list[str | None],
        dry_run: bool,
    ):
        self.ds = ds
        self.department = department
        self.sf = sf
        self.header = [str(h).strip() if h is not None else "" for h in header]
        self.mapping = mapping
        self.dry_run = dry_run
        self.validator = RowValidator(ds, mapping, timezone.localdate())
        self.engine = Engine(dataset=ds, department_id=department.pk)
        self.counts = Counts()
        code_field = ds.keys["subject_code"]
        self.code_index = mapping.index(code_field) if code_field in mapping else None
        self.submitted_at = adapt_datetime(sf.received_at)
        # Decided rows wait here until WRITE_ROWS of them can be stored in one transaction:
        # SQLite rewrites every touched index page at each commit, so few large commits are
        # much cheaper than many small ones (see docs/benchmarks.md).
        self.pending: tuple[list[tuple], list[Pending], list[tuple]] = ([], [], [])

    def forkable(self, table: Table) -> bool:
        """Whether to decide in a forked reader process (large record files, real runs).

        Not for dry runs and calls inside a transaction (the reader could not see the
        caller's uncommitted rows), nor for registration datasets (each batch of
        registrations is re-checked against the quarantine before the next is decided).
        """
        if self.dry_run or self.ds.is_registration or connection.in_atomic_block:
            return False
        if not getattr(settings, "QUALITYCITY_INGEST_PIPELINE", True):
            return False
        estimated = table.estimated_rows
        return pipeline.available() and (estimated is None or estimated >= PIPELINE_MIN_ROWS)

    def finish(self) -> None:
        """Store what is still pending."""
        self._write_pending()

    def abandon(self) -> None:
        """Forget what is pending after a failure (the submission is undone or refused)."""
        self.pending = ([], [], [])

    def decided_batches(self, table: Table) -> Iterator[_Decided]:
        """Read, validate and decide the rows of ``table``, BATCH_SIZE rows at a time."""
        validate = self.validator.validate
        batch: list[Pending] = []
        append = batch.append
        for row_number, cells, extra in table.rows():
            data, reasons = validate(cells, extra)
            append(Pending(row_number, cells, extra, data, reasons))
            if len(batch) >= BATCH_SIZE:
                yield self.decide(batch)
                batch = []
                append = batch.append
        if batch:
            yield self.decide(batch)

    def decide(self, batch: list[Pending]) -> _Decided:
        """Decide each row's fate; turn the batch into what :meth:`store` writes."""
        engine, sf = self.engine, self.sf
        engine.decide(batch)
        counts = Counts()
        reasons = counts.reasons
        inserts, updates, registrations, rejects = [], [], [], []
        insert = inserts.append
        submitted_at = self.submitted_at
        # record_params(engine, p, sf.pk, submitted_at), unrolled: this runs for every row
        ds = self.ds
        derive, code, category, dept_id = (
            ds.derive,
            ds.code,
            ds.category,
            engine.department_id,
        )
        id_field, date_field, sf_id = engine.id_field, ds.keys["decision_date"], sf.pk
        for p in batch:
            action = p.action
            if action == "insert":
                data = p.data
                polarity, severity, public = derive(data)
                insert(
                    (
                        code,
                        dept_id,
                        p.subject_id,
                        data[id_field],
                        category,
                        polarity,
                        severity,
                        data.get(date_field),
                        public,
                        p.version,
                        p.content,
                        sf_id,
                        p.row_number,
                        submitted_at,
                    )
                )
            elif action == "update":
                p.submitted_at = submitted_at
                p.cells = []  # not needed to store it: less to send
                p.extra = None
                updates.append(p)
            elif action == "register":
                registrations.append(p)
            elif action == "duplicate":
                counts.duplicates += 1
            else:
                rejects.append(
                    (sf.pk, p.row_number)
                    + quarantine_fields(p, self.header, engine.code_field, self.code_index)
                )
                for r in p.reasons:
                    reasons[r["code"]] += 1
        counts.rows = len(batch)
        counts.accepted = len(inserts)
        counts.updated = len(updates)
        counts.rejected = len(rejects)
        return _Decided(inserts, updates, registrations, rejects, counts)

    def store(self, decided: _Decided) -> None:
        """Add a decided batch to the counts and store it (now, or with the next ones)."""
        c, d = self.counts, decided.counts
        c.rows += d.rows
        c.accepted += d.accepted
        c.rejected += d.rejected
        c.duplicates += d.duplicates
        c.updated += d.updated
        c.reasons.update(d.reasons)
        if decided.registrations:
            self._write_pending()
            self.write(
                decided.inserts,
                decided.updates,
                decided.registrations,
                decided.rejects,
                None,
            )
            if not self.dry_run:
                code_field = self.engine.code_field
                quarantine_recheck(codes=[p.data[code_field] for p in decided.registrations])
            return
        pending_inserts, pending_updates, pending_rejects = self.pending
        pending_inserts.extend(decided.inserts)
        pending_updates.extend(decided.updates)
        pending_rejects.extend(decided.rejects)
        waiting = len(pending_inserts) + len(pending_updates) + len(pending_rejects)
        if waiting >= WRITE_ROWS:
            self._write_pending()

    def flush(self, batch: list[Pending]) -> None:
        """Decide and store one batch of validated rows."""
        self.store(self.decide(batch))

    def write(
        self,
        inserts: list[tuple],
        updates: list[Pending],
        registrations: list[Pending],
        rejects: list[tuple],
        tally: tuple[int, int, int, int, int] | None,
    ) -> None:
        """Store rows in one transaction, with the submission's counts so far."""
        engine, counts, sf = self.engine, self.counts, self.sf
        now = timezone.now()
        now_db = adapt_datetime(now)
        by_batch = foreign_keys_checked_by_batch(bool(inserts) and not registrations)
        with by_batch as parents_unchecked, transaction.atomic():
            if inserts:
                insert_records(inserts, check_parents=parents_unchecked)
            write_updates(engine, updates, replaced_by=sf.pk, now=now_db, default_sf=sf.pk)
            if registrations:
                from qualitycity.subjects.services import subjects_register

                outcome = subjects_register(
                    rows=[engine.registration_row(p) for p in registrations],
                    department=self.department,
                    source_file=sf,
                )
                counts.accepted += outcome.get("created", 0)
                counts.updated += outcome.get("updated", 0)
                counts.duplicates += outcome.get("unchanged", 0)
            write_quarantine(rejects, now_db)
            if tally is None:
                tally = (
                    counts.rows,
                    counts.accepted,
                    counts.rejected,
                    counts.duplicates,
                    counts.updated,
                )
            SourceFile.objects.filter(pk=sf.pk).update(
                rows=tally[0],
                accepted=tally[1],
                rejected=tally[2],
                duplicates=tally[3],
                updated=tally[4],
                updated_at=now,
            )

    def _write_pending(self) -> None:
        """Store the rows decided so far in one transaction."""
        inserts, updates, rejects = self.pending
        if not (inserts or updates or rejects):
            return
        self.pending = ([], [], [])
        c = self.counts
        tally = (c.rows, c.accepted, c.rejected, c.duplicates, c.updated)
        self.write(inserts, updates, [], rejects, tally)


# --------------------------------------------------------------------------------------------
# Files and folders
# --------------------------------------------------------------------------------------------


def _refused_result(
    file: str, dataset: str, department: str, exc: ApplicationError
) -> IngestResult:
    return IngestResult(
        file=file,
        dataset=dataset,
        department=department,
        status=SourceFile.Status.REFUSED,
        refused=True,
        refusal_code=exc.code,
        refusal_message=exc.message,
        refusal_details=exc.details,
    )


def _plan(path: Path, department: str | None, dataset: str | None) -> list[tuple[Path, str, str]]:
    """(file, department code, dataset code) for a file or each file of a drop folder."""
    files = (
        sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        if path.is_dir()
        else [path]
    )
    plan = []
    for f in files:
        m = FOLDER_NAME.match(f.name)
        dept = department or (m["department"] if m else "")
        ds = dataset or (m["dataset"] if m else "")
        plan.append((f, dept, ds))

    def order(item: tuple[Path, str, str]) -> tuple[int, str]:
        try:
            registration = get_dataset(item[2]).is_registration
        except ApplicationError:
            registration = False
        return (0 if registration else 1, item[0].name)

    return sorted(plan, key=order)


def ingest_path(
    *,
    path: Path,
    department: Department | str | None = None,
    dataset: str | None = None,
    actor: Any = None,
    channel: str = SourceFile.Channel.CLI,
    dry_run: bool = False,
    progress_factory: Callable[[Path], Any] | None = None,
    received_at: dt.datetime | None = None,
    backfill: bool = False,
) -> list[IngestResult]:
    """Ingest a file, or every file of a drop folder named ``<department>__<dataset>.<ext>``.

    Registration datasets go first, so that records of the same folder find their subjects.
    ``department``/``dataset`` apply to every file (and are required for files not named
    that way). A file that cannot be attributed or is not allowed is reported as refused.
    ``received_at`` and ``backfill`` apply to every file (see :func:`ingest_file`).
    """
    submission_check(actor=actor, received_at=received_at, backfill=backfill)
    path = Path(path)
    if not path.exists():
        raise ValidationFailed(f"No such file or folder: {path}", code="no_such_path")
    dept_code = department.code if isinstance(department, Department) else department
    results: list[IngestResult] = []

    def run(dry: bool) -> None:
        for f, dept, ds in _plan(path, dept_code, dataset):
            if not dept or not ds:
                results.append(
                    _refused_result(
                        f.name,
                        ds,
                        dept,
                        ValidationFailed(
                            "Name the file <department>__<dataset>.<ext> or give --department "
                            "and --dataset.",
                            code="unattributed_file",
                        ),
                    )
                )
                continue
            try:
                dept_obj = (
                    department
                    if isinstance(department, Department)
                    else Department.objects.filter(code=dept).first()
                )
                if dept_obj is None:
                    raise ValidationFailed(f"Unknown department: {dept}", code="unknown_department")
                progress = progress_factory(f) if progress_factory else None
                results.append(
                    ingest_file(
                        path=f,
                        department=dept_obj,
                        dataset=ds,
                        actor=actor,
                        channel=channel,
                        original_name=f.name,
                        dry_run=dry,
                        progress=progress,
                        rollback=not path.is_dir(),
                        received_at=received_at,
                        backfill=backfill,
                    )
                )
            except ApplicationError as exc:
                results.append(_refused_result(f.name, ds, dept, exc))

    if dry_run and path.is_dir():
        # One transaction for the folder, rolled back: records see the folder's registrations.
        with transaction.atomic():
            run(True)
            transaction.set_rollback(True)
        for r in results:
            r.dry_run, r.submission_id = True, None
    else:
        run(dry_run)
    return results


def results_totals(results: list[IngestResult]) -> dict[str, Any]:
    reasons: dict[str, int] = defaultdict(int)
    for r in results:
        for k, v in r.reasons.items():
            reasons[k] += v
    return {
        "files": len(results),
        "refused": sum(r.refused for r in results),
        "rows": sum(r.rows for r in results),
        "accepted": sum(r.accepted for r in results),
        "rejected": sum(r.rejected for r in results),
        "duplicates": sum(r.duplicates for r in results),
        "updated": sum(r.updated for r in results),
        "reasons": dict(sorted(reasons.items())),
    }


# --------------------------------------------------------------------------------------------
# Jobs: uploads run in the worker
# --------------------------------------------------------------------------------------------


def incoming_path(original_name: str) -> Path:
    """Where an upload waits for its job (under FILES_ROOT/incoming)."""
    ext = os.path.splitext(original_name)[1].lower()[:10]
    folder = Path(settings.FILES_ROOT) / "incoming"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{uuid.uuid4().hex}{ext}"


def ingest_enqueue(
    *,
    path: Path,
    department: Department,
    dataset: str,
    actor: Any = None,
    channel: str,
    original_name: str,
    dry_run: bool = False,
    delete_after: bool = True,
    received_at: dt.datetime | None = None,
    backfill: bool = False,
) -> Job:
    """Hand a file (usually an upload saved by :func:`incoming_path`) to the worker.

    The submission is received now (or at ``received_at``), not when the worker gets to it.
    """
    submission_check(actor=actor, received_at=received_at, backfill=backfill)
    received_at = received_at or timezone.now()
    ds = get_dataset(dataset)
    if not ds.allowed(department.code):
        raise PermissionDenied(
            f"Department {department.code} may not submit dataset {ds.code}.",
            code="department_not_allowed",
            details={"dataset": ds.code, "allowed": list(ds.departments)},
        )
    job = job_create(
        kind="ingest",
        title=f"{ds.name_zh} · {original_name}",
        params={
            "path": str(path),
            "department": department.code,
            "dataset": ds.code,
            "channel": channel,
            "original_name": original_name,
            "dry_run": dry_run,
            "delete_after": delete_after,
            "received_at": received_at.isoformat(),
            "backfill": backfill,
        },
        user=actor,
        department=department,
    )
    return job_enqueue(job)


# Uploads up to this size may be ingested within the request (the API); larger ones run as a
# job. The setting QUALITYCITY_INGEST_SYNC_MAX_BYTES overrides it.
SYNC_MAX_BYTES = 2 * 1024 * 1024


def ingest_upload(
    *,
    upload: Any,
    department: Department,
    dataset: str,
    actor: Any = None,
    channel: str,
    original_name: str | None = None,
    dry_run: bool = False,
    received_at: dt.datetime | None = None,
    backfill: bool = False,
    allow_sync: bool = False,
) -> IngestResult | Job:
    """Save an uploaded file (anything with ``name`` and ``chunks()``) and ingest it.

    With ``allow_sync`` a file up to ``SYNC_MAX_BYTES`` is ingested at once and the
    :class:`IngestResult` returned; otherwise the file goes to the worker and the queued
    :class:`~qualitycity.core.models.Job` is returned (the job removes the saved file when done).
    The saved file is removed at once after a synchronous ingestion or when queuing fails.
    """
    name = original_name or upload.name or f"{dataset}.csv"
    path = incoming_path(name)
    with path.open("wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    options: dict[str, Any] = {
        "path": path,
        "department": department,
        "dataset": dataset,
        "actor": actor,
        "channel": channel,
        "original_name": name,
        "dry_run": dry_run,
        "received_at": received_at,
        "backfill": backfill,
    }
    limit = getattr(settings, "QUALITYCITY_INGEST_SYNC_MAX_BYTES", SYNC_MAX_BYTES)
    if allow_sync and path.stat().st_size <= limit:
        try:
            return ingest_file(**options)
        finally:
            path.unlink(missing_ok=True)
    try:
        return ingest_enqueue(**options)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


@job_kind("ingest")
def _ingest_job(job: Job, progress: Any) -> dict[str, Any]:
    p = job.params
    path = Path(p["path"])
    department = Department.objects.get(code=p["department"])
    result = ingest_file(
        path=path,
        department=department,
        dataset=p["dataset"],
        actor=job.api_client or job.created_by,
        channel=p.get("channel", SourceFile.Channel.WEB),
        original_name=p.get("original_name"),
        dry_run=bool(p.get("dry_run")),
        progress=progress,
        job=job,
        received_at=dt.datetime.fromisoformat(p["received_at"]) if p.get("received_at") else None,
        backfill=bool(p.get("backfill")),
        checked=True,  # by ingest_enqueue, for the same actor
    )
    if p.get("delete_after"):
        path.unlink(missing_ok=True)
    return result.as_dict()


# --------------------------------------------------------------------------------------------
# Quarantine
# --------------------------------------------------------------------------------------------


def _row_cells(raw: dict[str, Any]) -> tuple[list[str], list[Any]]:
    header = [k for k in raw if k != "_line"]
    return header, [raw[k] for k in header]


def _resolve(
    rows: list[QuarantinedRow],
    *,
    raws: dict[int, dict[str, Any]] | None = None,
    corrected_now: bool = False,
) -> dict[str, int]:
    """Re-validate quarantined rows (with corrected cells) and store those that now pass."""
    raws = raws or {}
    outcome = {"resolved": 0, "open": 0}
    today = timezone.localdate()
    groups: dict[int, list[QuarantinedRow]] = defaultdict(list)
    for q in rows:
        groups[q.source_file_id].append(q)
    for group in groups.values():
        sf = group[0].source_file
        ds = get_dataset(sf.dataset)
        engine = Engine(dataset=ds, department_id=sf.department_id, subjects=SubjectCache())
        submitted_at = adapt_datetime(timezone.now() if corrected_now else sf.received_at)
        validators: dict[tuple[str, ...], RowValidator] = {}
        batch: list[Pending] = []
        for q in group:
            raw = raws.get(q.pk, q.raw)
            header, cells = _row_cells(raw)
            key = tuple(header)
            if key not in validators:
                validators[key] = RowValidator(ds, ds.match_header(header)[0], today)
            data, reasons = validators[key].validate(cells)
            p = Pending(q.row_number, cells, None, data, reasons, header=header, quarantine=q)
            p.source_file_id = sf.pk
            p.submitted_at = submitted_at
            batch.append(p)
        engine.decide(batch)
        now = timezone.now()
        with transaction.atomic():
            inserts = [p for p in batch if p.action == "insert"]
            if inserts:
                insert_records(
                    [record_params(engine, p, sf.pk, p.submitted_at) for p in inserts],
                    check_parents=False,
                )
                ids = _record_ids(ds, sf.department_id, [p.data[engine.id_field] for p in inserts])
                for p in inserts:
                    p.existing_id = ids.get(p.data[engine.id_field])
            updates = [p for p in batch if p.action == "update"]
            write_updates(
                engine, updates, replaced_by=sf.pk, now=adapt_datetime(now), default_sf=sf.pk
            )
            registrations = [p for p in batch if p.action == "register"]
            if registrations:
                from qualitycity.subjects.services import subjects_register

                subjects_register(
                    rows=[engine.registration_row(p) for p in registrations],
                    department=sf.department,
                    source_file=sf,
                )
            changed = []
            for p in batch:
                q = p.quarantine
                if q.pk in raws:
                    q.raw = raws[q.pk]
                if p.action in ("insert", "update", "duplicate", "register"):
                    q.status = QuarantinedRow.Status.RESOLVED
                    q.resolved_at = now
                    q.resolved_record_id = p.existing_id
                    outcome["resolved"] += 1
                else:
                    raw_, reasons, primary, code = quarantine_fields(
                        p, header=p.header or [], code_field=engine.code_field, code_index=None
                    )
                    q.reasons, q.primary_reason = reasons, primary
                    if code:
                        q.subject_code = code
                    outcome["open"] += 1
                changed.append(q)
            QuarantinedRow.objects.bulk_update(
                changed,
                [
                    "raw",
                    "reasons",
                    "primary_reason",
                    "subject_code",
                    "status",
                    "resolved_at",
                    "resolved_record",
                ],
                batch_size=500,
            )
        if registrations:
            quarantine_recheck(codes=[p.data[engine.code_field] for p in registrations])
    return outcome


def _record_ids(ds: Dataset, department_id: int, rids: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for chunk in _chunks(rids, LOOKUP_CHUNK):
        out.update(
            Record.objects.filter(
                department_id=department_id, dataset=ds.code, source_record_id__in=chunk
            ).values_list("source_record_id", "id")
        )
    return out


def quarantine_recheck(*, codes: Iterable[str] | None = None) -> dict[str, int]:
    """Re-check open ``unknown_subject`` rows (of the given subject codes, or all).

    Called after every batch of registrations; rows whose subject is now registered are
    stored (status ``resolved``), the others keep their (possibly new) reasons.
    """
    qs = QuarantinedRow.objects.filter(
        status=QuarantinedRow.Status.OPEN, primary_reason="unknown_subject"
    ).select_related("source_file")
    total = {"resolved": 0, "open": 0}
    if codes is None:
        chunks: Iterable[Any] = [None]
    else:
        chunks = _chunks(sorted(set(codes)), LOOKUP_CHUNK)
    for chunk in chunks:
        rows = list(qs if chunk is None else qs.filter(subject_code__in=chunk))
        if rows:
            for k, v in _resolve(rows).items():
                total[k] += v
    return total


def _check_row_actor(row: QuarantinedRow, actor: Any) -> None:
    if actor is None:
        return
    if not QuarantinedRow.objects.restrict(actor, "change").filter(pk=row.pk).exists():
        raise PermissionDenied("You may not change this row.", code="forbidden")
    if row.status != QuarantinedRow.Status.OPEN:
        raise Conflict("This row is no longer open.", code="row_not_open")


def quarantine_resubmit(
    *, row: QuarantinedRow, corrected: dict[str, str], actor: Any = None
) -> QuarantinedRow:
    """Re-validate a quarantined row with corrected cells; store it if it now passes.

    ``corrected`` maps a column (its header as in the file, the field name or its Chinese
    label) to the new value. The row keeps its new reasons if it still fails.
    """
    _check_row_actor(row, actor)
    if row.status != QuarantinedRow.Status.OPEN:
        raise Conflict("This row is no longer open.", code="row_not_open")
    ds = get_dataset(row.source_file.dataset)
    raw = {k: v for k, v in row.raw.items() if k != "_line"}
    by_field = {}
    for key in raw:
        fname = ds.header_index.get(normalize_header(key))
        if fname:
            by_field.setdefault(fname, key)
    for key, value in corrected.items():
        fname = ds.header_index.get(normalize_header(key))
        if fname is None:
            raise ValidationFailed(
                f"Dataset {ds.code} has no field {key!r}.",
                code="unknown_field",
                details={"field": key},
            )
        raw[by_field.get(fname, fname)] = "" if value is None else str(value)
    _resolve([row], raws={row.pk: raw}, corrected_now=True)
    row.refresh_from_db()
    return row


def quarantine_discard(*, row: QuarantinedRow, actor: Any = None) -> QuarantinedRow:
    """Close a quarantined row without storing it (the department gave it up)."""
    _check_row_actor(row, actor)
    if row.status != QuarantinedRow.Status.OPEN:
        raise Conflict("This row is no longer open.", code="row_not_open")
    row.status = QuarantinedRow.Status.DISCARDED
    row.resolved_at = timezone.now()
    row.save(update_fields=["status", "resolved_at"])
    return row


REPORT_COLUMNS = ["row", "field", "code", "message", "status"]


def quarantine_report_rows(source_file: SourceFile) -> Iterator[list[str]]:
    """Rows of the per-row error report of a submission, header first.

    One line per reason: row number, field, reason code, message, status, then the row's
    original cells under the file's own headers (cells a row has beyond the first row's
    headers go, as JSON, into a last column ``other``).
    """
    qs = QuarantinedRow.objects.filter(source_file=source_file).order_by("row_number", "pk")
    first = qs.first()
    keys = list(first.raw) if first else []
    yield REPORT_COLUMNS + keys + ["other"]
    for q in qs.iterator(chunk_size=2000):
        cells = [_cell_text(q.raw.get(k)) for k in keys]
        other = {k: v for k, v in q.raw.items() if k not in keys}
        tail = [orjson.dumps(other).decode() if other else ""]
        for r in q.reasons or [{"field": "", "code": q.primary_reason, "message": ""}]:
            yield [
                str(q.row_number),
                r.get("field", ""),
                r.get("code", ""),
                r.get("message", ""),
                q.status,
                *cells,
                *tail,
            ]


def _cell_text(value: Any) -> str:
    return "" if value is None else str(value)


def quarantine_report_csv(source_file: SourceFile) -> Iterator[str]:
    """The error report as CSV text chunks (UTF-8 with BOM, so that Excel opens it right)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    yield "\ufeff"
    for i, row in enumerate(quarantine_report_rows(source_file)):
        writer.writerow(row)
        if i % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _recheck_after_registration(sender: Any, codes: list[str], source_file: Any = None, **kw: Any):
    # Registrations made outside the pipeline (one at a time, in the UI or API) also release
    # quarantined rows; the pipeline re-checks its own batches itself.
    if source_file is None and codes:
        quarantine_recheck(codes=codes)


def connect_signals() -> None:
    from qualitycity.subjects.services import subjects_registered

    subjects_registered.connect(_recheck_after_registration, dispatch_uid="records_recheck")
