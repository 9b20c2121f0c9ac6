"""``qualitycity generate --out DIR [--scale N] [--seed S]``: write the demo city's files."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from qualitycity.demo.generator import (
    DEFAULT_SCALE,
    DEFAULT_SEED,
    GeneratorOptions,
    estimate_rows,
    generate,
)


def parse_options(opts: dict[str, Any]) -> GeneratorOptions:
    """GeneratorOptions from the command line (shared by ``generate`` and ``demo``)."""
    today = opts.get("today")
    try:
        day = dt.date.fromisoformat(today) if today else timezone.localdate()
        return GeneratorOptions(scale=opts["scale"], seed=opts["seed"], today=day)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc


def add_generator_arguments(parser: Any) -> None:
    parser.add_argument(
        "--scale", type=int, default=DEFAULT_SCALE, help="number of subjects (50 to 1,000,000)"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed")
    parser.add_argument(
        "--today",
        help="the date the city is generated for (YYYY-MM-DD; default: today). Part of the "
        "options: the same options give the same files.",
    )


def generate_with_progress(out: Path, options: GeneratorOptions, show: bool) -> dict[str, Any]:
    """Run the generator with a tqdm bar on stderr (unless ``show`` is false)."""
    if not show:
        return generate(out=out, options=options)
    from tqdm import tqdm

    with tqdm(
        total=estimate_rows(options),
        desc="Generating",
        unit=" rows",
        file=sys.stderr,
        dynamic_ncols=True,
    ) as bar:
        manifest = generate(out=out, options=options, progress=bar.update)
        bar.total = bar.n
        bar.refresh()
    return manifest


class Command(BaseCommand):
    help = (
        "Write the demo city's departmental files (<department>__<dataset>.<ext>) and "
        "manifest.json into a folder, without ingesting them."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--out", type=Path, required=True, help="output folder")
        add_generator_arguments(parser)
        parser.add_argument("--json", action="store_true", help="print the manifest summary")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **opts: Any) -> None:
        options = parse_options(opts)
        out: Path = opts["out"]
        manifest = generate_with_progress(out, options, not opts["no_progress"])
        summary = {
            "out": str(out.resolve()),
            "options": manifest["options"],
            "files": len(manifest["files"]),
            "departments": len(manifest["departments"]),
            "datasets": len(manifest["datasets"]),
            "rows": manifest["rows"],
            "dirty": manifest["dirty"],
            "expected_reasons": manifest["expected_reasons"],
        }
        if opts["json"]:
            self.stdout.write(json.dumps(summary, ensure_ascii=False, indent=2))
            return
        self.stdout.write(
            f"Wrote {summary['files']} files ({summary['rows']:,} rows, "
            f"{sum(manifest['dirty'].values()):,} dirty on purpose) from "
            f"{summary['departments']} departments covering {summary['datasets']} datasets "
            f"to {summary['out']} (seed {options.seed}, scale {options.scale:,}, "
            f"today {options.today})."
        )
