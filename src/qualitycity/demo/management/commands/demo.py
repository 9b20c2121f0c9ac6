"""``qualitycity demo``: build the synthetic Qingdao from nothing, print the logins, serve it.

Steps: migrate → departments → generate the files into ``$QUALITYCITY_HOME/demo-files/``
(exactly what ``qualitycity generate`` writes with the same options) → ingest them through
the real ingestion service → one login per role → marker → ``serve``. Run again on a built
home, it skips straight to serving; ``--rebuild`` starts over.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from qualitycity.core.errors import ApplicationError
from qualitycity.demo import services
from qualitycity.demo.management.commands.generate import (
    add_generator_arguments,
    generate_with_progress,
    parse_options,
)


class _Bar:
    """One tqdm bar for the whole ingestion, fed by every file's progress calls."""

    def __init__(self, total: int, show: bool):
        self.bar = None
        if show:
            from tqdm import tqdm

            self.bar = tqdm(
                total=total, desc="Ingesting", unit=" rows", file=sys.stderr, dynamic_ncols=True
            )

    def factory(self, path: Path) -> Any:
        if self.bar is not None:
            self.bar.set_postfix_str(path.name[:40])
        return self

    def set_total(self, total: int | None) -> None:  # the per-file total; ours is global
        pass

    def advance(self, n: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class Command(BaseCommand):
    help = (
        "Build the demo city (a deterministic synthetic Qingdao) in QUALITYCITY_HOME: generate "
        "departmental files, ingest them, create one login per role, then serve the UI."
    )

    def add_arguments(self, parser: Any) -> None:
        add_generator_arguments(parser)
        parser.add_argument("--no-serve", action="store_true", help="build only, do not serve")
        parser.add_argument("--rebuild", action="store_true", help="start over from nothing")
        parser.add_argument(
            "--force",
            action="store_true",
            help="with --rebuild on a database other than the embedded SQLite: flush it",
        )
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--json", action="store_true", help="print the summary as JSON")
        parser.add_argument("--no-progress", action="store_true", help="no progress bars")

    def handle(self, *args: Any, **opts: Any) -> None:
        options = parse_options(opts)
        show = not opts["no_progress"] and not opts["json"]
        say = self._say(opts["json"])
        if opts["rebuild"]:
            try:
                removed = services.demo_reset(force=opts["force"])
            except ApplicationError as exc:
                raise CommandError(exc.message) from exc
            say(f"Rebuild: removed {len(removed)} item(s) from {services.demo_home()}.")

        call_command("migrate", interactive=False, verbosity=0)
        from qualitycity.core.services import department_sync

        department_sync()

        marker = services.demo_marker()
        if marker is not None and self._has_data():
            built = marker.get("options", {})
            if {k: built.get(k) for k in ("scale", "seed")} != {
                "scale": options.scale,
                "seed": options.seed,
            }:
                say(
                    f"This home already holds a demo city built with {built}; reusing it. "
                    "Use --rebuild to build another."
                )
            else:
                say(f"Reusing the demo city built in {services.demo_home()} ({built}).")
            logins = services.demo_users_ensure(reset_passwords=False)
            summary = marker.get("summary", {})
            reused = True
        else:
            summary = self._build(options, show, say)
            logins = services.demo_users_ensure()
            services.demo_marker_write(options=options.as_dict(), summary=summary)
            reused = False

        url = f"http://{opts['host']}:{opts['port']}/"
        if opts["json"]:
            payload = {
                "home": str(services.demo_home()),
                "reused": reused,
                "options": options.as_dict(),
                "summary": summary,
                "logins": logins,
                "url": url,
            }
            self.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2))
        else:
            self._print_logins(logins, url, opts["no_serve"])
        if not opts["no_serve"]:
            call_command("serve", host=opts["host"], port=opts["port"])

    # -- steps -----------------------------------------------------------------------------

    def _build(self, options: Any, show: bool, say: Any) -> dict[str, Any]:
        from qualitycity.records.services import results_totals

        folder = services.demo_files_dir()
        started = time.monotonic()
        say(
            f"Generating a city of {options.scale:,} subjects (seed {options.seed}) into {folder} …"
        )
        manifest = generate_with_progress(folder, options, show)
        generated = time.monotonic()
        say(f"Ingesting {len(manifest['files'])} files ({manifest['rows']:,} rows) …")
        bar = _Bar(manifest["rows"], show)
        try:
            results = services.demo_ingest(
                folder=folder, manifest=manifest, progress_factory=bar.factory
            )
        finally:
            bar.close()
        totals = results_totals(results)
        refused = [r for r in results if r.refused]
        for r in refused:
            say(f"  REFUSED {r.file}: {r.refusal_code}: {r.refusal_message}")
        summary = {
            "files": totals["files"],
            "refused": totals["refused"],
            "rows": totals["rows"],
            "accepted": totals["accepted"],
            "rejected": totals["rejected"],
            "duplicates": totals["duplicates"],
            "updated": totals["updated"],
            "reasons": totals["reasons"],
            "generate_seconds": round(generated - started, 1),
            "ingest_seconds": round(time.monotonic() - generated, 1),
        }
        from qualitycity.records.models import QuarantinedRow

        summary["quarantine_open"] = QuarantinedRow.objects.filter(status="open").count()
        say(
            f"Ingested {summary['rows']:,} rows: {summary['accepted']:,} accepted, "
            f"{summary['rejected']:,} quarantined, {summary['duplicates']:,} duplicates, "
            f"{summary['updated']:,} updated ({summary['quarantine_open']:,} still open after "
            "re-checks)."
        )
        if refused:
            raise CommandError(f"{len(refused)} demo file(s) were refused; see above.")
        say("Evaluating credit-risk classes (a quarter ago and today) …")
        runs = services.demo_evaluate(today=options.today)
        summary["evaluations"] = runs
        for run in runs:
            counts = ", ".join(f"{k} {v:,}" for k, v in run["class_counts"].items())
            say(f"  as of {run['as_of']}: {run['subjects_evaluated']:,} subjects ({counts})")
        if not runs:
            say("  no scorecard was in force on the demo's dates; no classes.")
        say(
            "Deciding red and black list entries (proposals, notices, publications, objections, "
            "credit repair, expiry) …"
        )
        started_lists = time.monotonic()
        lists_summary = services.demo_lists(today=options.today)
        lists_summary["seconds"] = round(time.monotonic() - started_lists, 1)
        summary["lists"] = lists_summary
        states = ", ".join(f"{k} {v:,}" for k, v in lists_summary["entries"].items() if v)
        say(
            f"  entries: {states}; black-listed {lists_summary['black_listed']}, red-listed "
            f"{lists_summary['red_listed']}, clean {lists_summary['clean']} "
            f"({lists_summary['seconds']} s)"
        )
        say("Supervision: a joint random inspection, commitments, spot checks, incidents …")
        from qualitycity.demo.supervision_demo import demo_supervision

        started_sup = time.monotonic()
        sup = demo_supervision(today=options.today)
        sup["seconds"] = round(time.monotonic() - started_sup, 1)
        summary["supervision"] = sup
        say(
            f"  joint plan {sup['plan']['id']}: {sup['plan']['tasks']} tasks drawn from "
            f"{sup['plan']['pool']} subjects (draw {sup['plan']['draws']}, verified "
            f"{sup['plan']['verified']}), {sup['plan']['results']} results; commitments "
            f"{sup['commitments']['signed']} ({sup['commitments']['broken']} broken); spot-check "
            f"samples {sup['spot_checks']['samples']} ({sup['spot_checks']['failed']} failed); "
            f"incidents {sup['incidents']} ({sup['seconds']} s)"
        )
        say("Running the quality improvement plan (registries, quarterly reports, assessment) …")
        from qualitycity.demo.plan_demo import demo_plan

        started_plan = time.monotonic()
        # The registry files are written to a scratch folder: the loader keeps each original
        # under FILES_ROOT with its SHA-256, and demo-files/ stays what `generate` writes.
        with tempfile.TemporaryDirectory() as scratch:
            plan_summary = demo_plan(
                today=options.today, seed=options.seed, folder=Path(scratch) / "plan"
            )
        plan_summary["seconds"] = round(time.monotonic() - started_plan, 1)
        summary["plan"] = plan_summary
        reports, targets = plan_summary["reports"], plan_summary["targets"]
        say(
            f"  reports: {reports['filed']:,} filed ({reports['late']} late, "
            f"{reports['returned']} returned and refiled), {reports['flagged']} not filed; "
            f"targets: {', '.join(f'{k} {v}' for k, v in targets.items())}; "
            f"{plan_summary['notices']} notices ({plan_summary['seconds']} s)"
        )
        return summary

    @staticmethod
    def _has_data() -> bool:
        from qualitycity.subjects.models import Subject

        return Subject.objects.exists()

    def _say(self, quiet: bool):
        def say(message: str) -> None:
            if not quiet:
                self.stdout.write(message)

        return say

    def _print_logins(self, logins: list[dict[str, str]], url: str, no_serve: bool) -> None:
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS("Demo logins (demo passwords, never for production):"))
        width = max(len(x["username"]) for x in logins)
        for x in logins:
            extra = x["department"] or x["subject"]
            self.stdout.write(
                f"  {x['role']:<15} {x['username']:<{width}}  {x['password']:<16} {extra}"
            )
        if no_serve:
            self.stdout.write(f"Built. Serve it with: qualitycity demo   (then open {url})")
        else:
            self.stdout.write("Open the address below and log in with one of these; Ctrl-C stops.")
