"""``qualitycity ingest PATH [--dataset D --department X] [--received-at WHEN] [--backfill]
[--dry-run] [--json]``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson
from django.core.management.base import BaseCommand, CommandError

from qualitycity.core import context
from qualitycity.core.errors import ApplicationError
from qualitycity.records.models import SourceFile
from qualitycity.records.services import (
    IngestResult,
    ingest_path,
    parse_received_at,
    results_totals,
)


class _Bar:
    """A tqdm bar on stderr fed by the ingestion's progress calls."""

    def __init__(self, name: str):
        from tqdm import tqdm

        self.bar = tqdm(desc=name[:40], unit=" rows", file=sys.stderr, dynamic_ncols=True)

    def set_total(self, total: int | None) -> None:
        self.bar.total = total
        self.bar.refresh()

    def advance(self, n: int = 1) -> None:
        self.bar.update(n)

    def close(self) -> None:
        self.bar.close()


class Command(BaseCommand):
    help = (
        "Ingest a departmental file, or every file of a drop folder named "
        "<department>__<dataset>.<ext> (registration datasets first). Exits non-zero only "
        "when a file itself is refused."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--dataset", help="dataset code (see `qualitycity datasets`)")
        parser.add_argument("--department", help="submitting department code")
        parser.add_argument(
            "--received-at",
            metavar="YYYY-MM-DD[THH:MM]",
            help="when the department's submission was received (local time; default: now). "
            "Its records count as submitted then.",
        )
        parser.add_argument(
            "--backfill",
            action="store_true",
            help="historical data migrated into the platform: stored, but left out of timeliness",
        )
        parser.add_argument("--dry-run", action="store_true", help="validate, store nothing")
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **opts: Any) -> None:
        path: Path = opts["path"]
        bars: list[_Bar] = []

        def progress_factory(f: Path) -> _Bar | None:
            if opts["no_progress"]:
                return None
            for old in bars:
                old.close()
            bar = _Bar(f.name)
            bars.append(bar)
            return bar

        try:
            received_at = parse_received_at(opts["received_at"])
            with context.acting_as(source="cli"):
                results = ingest_path(
                    path=path,
                    department=opts["department"],
                    dataset=opts["dataset"],
                    channel=SourceFile.Channel.CLI,
                    dry_run=opts["dry_run"],
                    progress_factory=progress_factory,
                    received_at=received_at,
                    backfill=opts["backfill"],
                )
        except ApplicationError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        finally:
            for bar in bars:
                bar.close()

        if opts["json"]:
            if path.is_dir():
                payload: dict[str, Any] = {
                    "files": [r.as_dict() for r in results],
                    "totals": results_totals(results),
                }
            else:
                payload = results[0].as_dict()
            self.stdout.write(orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode())
        else:
            for r in results:
                self.stdout.write(self._line(r))
            if len(results) > 1:
                t = results_totals(results)
                self.stdout.write(
                    f"total: {t['files']} files, {t['accepted']} accepted, {t['rejected']} "
                    f"rejected, {t['duplicates']} duplicates, {t['updated']} updated, "
                    f"{t['refused']} refused"
                )
        if any(r.refused for r in results):
            sys.exit(1)

    def _line(self, r: IngestResult) -> str:
        head = f"{r.file} [{r.department}/{r.dataset}]"
        if r.refused:
            return self.style.ERROR(f"{head}: REFUSED {r.refusal_code}: {r.refusal_message}")
        parts = [
            f"{r.rows} rows",
            f"{r.accepted} accepted",
            f"{r.rejected} rejected",
            f"{r.duplicates} duplicates",
            f"{r.updated} updated",
        ]
        if r.reasons:
            parts.append("reasons: " + ", ".join(f"{k}={v}" for k, v in r.reasons.items()))
        flags = []
        if r.resubmission:
            flags.append("resubmission, nothing changed")
        if r.dry_run:
            flags.append("dry run, nothing stored")
        if r.submission_id:
            flags.append(f"submission {r.submission_id}")
        tail = f" ({'; '.join(flags)})" if flags else ""
        return f"{head}: {', '.join(parts)}{tail}"
