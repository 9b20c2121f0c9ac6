"""``qualitycity datasets [--json]``: the credit information catalogue."""

from __future__ import annotations

from typing import Any

import orjson
from django.core.management.base import BaseCommand

from qualitycity.records.catalogue import datasets


class Command(BaseCommand):
    help = "List the datasets departments submit (fields, allowed departments, credit meaning)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--json", action="store_true", help="print JSON")

    def handle(self, *args: Any, **opts: Any) -> None:
        items = datasets()
        if opts["json"]:
            payload = [d.as_dict() for d in items]
            self.stdout.write(orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode())
            return
        for d in items:
            self.stdout.write(
                f"{d.code:34} {d.kind:12} {d.polarity:8} sev {d.severity}  {d.name_zh}"
                f"  [{', '.join(d.departments)}]"
            )
            for f in d.fields:
                req = "*" if f.required else " "
                extra = f" ({f.codelist})" if f.codelist else ""
                self.stdout.write(f"    {req} {f.name:24} {f.type:13} {f.label_zh}{extra}")
