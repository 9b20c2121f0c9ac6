"""``qualitycity apiclient create|list|revoke``: API clients of department business systems."""

from django.core.management.base import BaseCommand, CommandError

from qualitycity.core import context
from qualitycity.core.cli import json_text
from qualitycity.core.errors import ApplicationError
from qualitycity.core.selectors import apiclient_list
from qualitycity.core.services import apiclient_create, apiclient_revoke, department_get


class Command(BaseCommand):
    help = "Manage API clients. The key is printed once, at creation."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a client and print its key once")
        create.add_argument("name")
        create.add_argument("--department", required=True)
        create.add_argument("--scopes", required=True, help="comma-separated, e.g. subjects.read")
        create.add_argument("--rate-limit", default="600/m")
        create.add_argument("--json", action="store_true")
        lst = sub.add_parser("list", help="list clients (never their keys)")
        lst.add_argument("--json", action="store_true")
        revoke = sub.add_parser("revoke", help="disable a client's key")
        revoke.add_argument("name")

    def handle(self, *args, action, **opts):
        try:
            with context.acting_as(source="cli"):
                getattr(self, f"_{action}")(**opts)
        except ApplicationError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc

    def _create(self, *, name, department, scopes, rate_limit, json: bool, **_):  # noqa: A002
        client, key = apiclient_create(
            name=name,
            department=department_get(code=department),
            scopes=[s.strip() for s in scopes.split(",") if s.strip()],
            rate_limit=rate_limit,
        )
        if json:
            self.stdout.write(json_text({"name": client.name, "key": key, "scopes": client.scopes}))
        else:
            self.stdout.write(f"API client {client.name} created for {client.department.code}.")
            self.stdout.write(f"Key (shown once; send as 'Authorization: Bearer <key>'):\n{key}")

    def _list(self, *, json: bool, **_):  # noqa: A002
        rows = apiclient_list()
        if json:
            self.stdout.write(json_text(rows))
            return
        for r in rows:
            state = "active" if r["active"] else "revoked"
            self.stdout.write(
                f"{r['name']:<24} {r['department']:<14} {state:<8} {r['rate_limit']:<8} "
                f"{','.join(r['scopes'])}"
            )

    def _revoke(self, *, name, **_):
        apiclient_revoke(name=name)
        self.stdout.write(f"API client {name} revoked.")
