"""``qualitycity scorecards [--as-of D] [--json]`` lists the scorecards;
``qualitycity scorecards --check FILE ...`` validates scorecard files (exit 1 on a problem)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import orjson
from django.core.management.base import BaseCommand, CommandError

from qualitycity.credit.scorecard import ScorecardError, parse_scorecard, scorecards


class Command(BaseCommand):
    help = "List the shipped scorecards, or validate scorecard files with --check."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--check", nargs="+", type=Path, metavar="FILE")
        parser.add_argument("--as-of", metavar="YYYY-MM-DD", help="only those in force that day")
        parser.add_argument("--json", action="store_true", help="print one JSON array")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["check"]:
            failed = False
            for path in opts["check"]:
                try:
                    card = parse_scorecard(path)
                except ScorecardError as exc:
                    failed = True
                    self.stderr.write(str(exc))
                except OSError as exc:
                    failed = True
                    self.stderr.write(f"{path}: {exc.strerror}")
                else:
                    self.stdout.write(
                        f"{path}: ok ({card.key}, {len(card.indicators)} indicators, "
                        f"{len(card.overrides)} overrides)"
                    )
            if failed:
                raise CommandError("scorecard check failed")
            return
        cards = list(scorecards())
        if opts["as_of"]:
            try:
                day = dt.date.fromisoformat(opts["as_of"])
            except ValueError:
                raise CommandError(f"--as-of must be YYYY-MM-DD, not {opts['as_of']!r}") from None
            cards = [c for c in cards if c.in_force(day)]
        rows = [
            {
                **c.summary(),
                "indicators": [i.id for i in c.indicators],
                "overrides": [o.id for o in c.overrides],
                "file": Path(c.path).name,
            }
            for c in cards
        ]
        if opts["json"]:
            self.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
            return
        for r in rows:
            until = r["effective_to"] or "…"
            self.stdout.write(
                f"{r['id']}@{r['version']}  {r['effective_from']} – {until}  "
                f"{','.join(r['subject_types'])}  {len(r['indicators'])} indicators  "
                f"{r['title_zh']}"
            )
