"""``qualitycity evaluate [--engine duckdb|sqlite|spark] [--as-of YYYY-MM-DD] [--scorecard ID]
[--json]``: run a credit evaluation as a tracked job, in the foreground, with a progress bar."""

from __future__ import annotations

import sys
from typing import Any

import orjson
from django.core.management.base import BaseCommand, CommandError

from qualitycity.core.errors import ApplicationError
from qualitycity.core.jobs import job_run
from qualitycity.core.models import Job
from qualitycity.credit import engines
from qualitycity.credit.models import EvaluationRun
from qualitycity.credit.services import evaluation_job, run_summary


class Command(BaseCommand):
    help = (
        "Evaluate every subject the scorecards in force cover into credit-risk classes A-D and "
        "store the run. Exits non-zero when the request is refused or the run fails."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--engine", default="duckdb", choices=engines.ENGINES)
        parser.add_argument("--as-of", metavar="YYYY-MM-DD", help="default: today")
        parser.add_argument(
            "--scorecard", metavar="ID", help="only this scorecard (its version in force)"
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            job = evaluation_job(
                engine=opts["engine"], as_of=opts["as_of"], scorecard=opts["scorecard"]
            )
        except ApplicationError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        bar = None
        if not opts["no_progress"]:
            from tqdm import tqdm

            bar = tqdm(desc="evaluate", unit="%", total=100, file=sys.stderr, dynamic_ncols=True)
        try:
            job = job_run(job, bar=bar)
        finally:
            if bar is not None:
                bar.close()
        if job.status != Job.Status.SUCCEEDED:
            raise CommandError(f"evaluation failed: {job.error}")
        run = EvaluationRun.objects.get(pk=job.outcome["run_id"])
        summary = run_summary(run)
        if opts["json"]:
            self.stdout.write(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode())
            return
        counts = summary["class_counts"]
        total = summary["subjects_evaluated"] or 1
        self.stdout.write(
            f"run {run.pk}: {summary['subjects_evaluated']} subjects as of {run.as_of} on "
            f"{run.engine} ({', '.join(summary['scorecards'])}); {summary['records_read']} "
            "records read"
        )
        for cls in "ABCD":
            self.stdout.write(f"  {cls}  {counts[cls]:>9}  {100 * counts[cls] / total:5.1f}%")
        if summary["override_counts"]:
            self.stdout.write(
                "  overrides: "
                + ", ".join(f"{k}={v}" for k, v in sorted(summary["override_counts"].items()))
            )
        t = summary["timings"]
        self.stdout.write(
            f"  read {t.get('read', 0):.2f} s, compute {t.get('compute', 0):.2f} s, "
            f"store {t.get('store', 0):.2f} s"
        )
