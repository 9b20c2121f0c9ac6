"""``qualitycity subjects search Q``, ``… show CODE``, ``… reindex`` (all with ``--json``).

Natural persons' names and ID numbers are masked unless ``--unmasked`` is given; an unmasked
person shown is recorded in ``PersonalDataAccess`` (source ``cli``).
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.core.serializers.json import DjangoJSONEncoder

from qualitycity.core.context import acting_as
from qualitycity.core.errors import ApplicationError
from qualitycity.subjects import selectors
from qualitycity.subjects.api import search_payload


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2, cls=DjangoJSONEncoder)


class Command(BaseCommand):
    help = "Search the subject registry or show one subject."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        search = sub.add_parser("search", help="search by code, name fragment or former name")
        search.add_argument("q", help="a code or 2+ characters of a name")
        search.add_argument("--limit", type=int, default=20)
        search.add_argument("--offset", type=int, default=0)
        show = sub.add_parser("show", help="one subject by its code")
        show.add_argument("code")
        reindex = sub.add_parser("reindex", help="rebuild the name search index")
        reindex.add_argument("--json", action="store_true", help="one JSON object for scripts")
        for p in (search, show):
            p.add_argument("--json", action="store_true", help="one JSON object for scripts")
            p.add_argument(
                "--unmasked",
                action="store_true",
                help="show persons' names and ID numbers (recorded as personal-data access)",
            )

    def handle(self, *args, action: str, **options):
        with acting_as(source="cli"):
            try:
                if action == "search":
                    self._search(options)
                elif action == "reindex":
                    self._reindex(options)
                else:
                    self._show(options)
            except ApplicationError as exc:
                raise CommandError(f"{exc.code}: {exc.message}") from exc

    def _search(self, options: dict[str, Any]) -> None:
        unmasked = options["unmasked"]
        result = selectors.subject_search(
            q=options["q"], limit=options["limit"], offset=options["offset"]
        )
        if unmasked:
            selectors.personal_data_access_record(
                actor=None, subjects=[h.subject for h in result.items], purpose="cli:search"
            )
        payload = search_payload(result, unmasked=unmasked)
        if options["json"]:
            self.stdout.write(_dumps(payload))
            return
        more = "+" if payload["capped"] else ""
        self.stdout.write(f"{payload['total']}{more} match(es)")
        for item in payload["items"]:
            extra = f"  (former name: {item['matched_name']})" if item["matched_name"] else ""
            self.stdout.write(f"{item['code']}  {item['name']}  [{item['match']}]{extra}")

    def _show(self, options: dict[str, Any]) -> None:
        unmasked = options["unmasked"]
        subject = selectors.subject_get(code=options["code"])
        formers = list(subject.former_names.values_list("name", flat=True))
        data = selectors.subject_public_dict(subject, unmasked=unmasked, former_names=formers)
        if unmasked:
            selectors.personal_data_access_record(
                actor=None, subjects=[subject], purpose="cli:show"
            )
        if options["json"]:
            self.stdout.write(_dumps(data))
            return
        for key in ("code", "name", "kind", "subject_type", "district", "industry"):
            self.stdout.write(f"{key:<22} {data[key]}")
        for key in ("legal_representative", "registered_on", "status"):
            self.stdout.write(f"{key:<22} {data[key] if data[key] is not None else ''}")
        if data["former_names"]:
            self.stdout.write(f"{'former_names':<22} {', '.join(data['former_names'])}")

    def _reindex(self, options: dict[str, Any]) -> None:
        import time

        from qualitycity.subjects.services import subjects_index_rebuild

        started = time.perf_counter()
        count = subjects_index_rebuild()
        payload = {"subjects": count, "seconds": round(time.perf_counter() - started, 2)}
        if options["json"]:
            self.stdout.write(_dumps(payload))
        else:
            self.stdout.write(f"reindexed {count} subject(s) in {payload['seconds']} s")
