"""``qualitycity users create|list``: platform users and their roles."""

import getpass
import json

from django.core.management.base import BaseCommand, CommandError

from qualitycity.core import context
from qualitycity.core.errors import ApplicationError
from qualitycity.core.models import Role, User
from qualitycity.core.services import department_get, user_create


class Command(BaseCommand):
    help = "Manage users."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create")
        create.add_argument("username")
        create.add_argument("--role", required=True, choices=Role.values)
        create.add_argument("--department")
        create.add_argument("--password", help="prompted for when omitted")
        create.add_argument("--display-name", default="")
        lst = sub.add_parser("list")
        lst.add_argument("--json", action="store_true")

    def handle(self, *args, action, **opts):
        try:
            with context.acting_as(source="cli"):
                getattr(self, f"_{action}")(**opts)
        except ApplicationError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc

    def _create(self, *, username, role, department, password, display_name, **_):
        password = password or getpass.getpass("Password: ")
        user = user_create(
            username=username,
            password=password,
            role=role,
            department=department_get(code=department) if department else None,
            display_name=display_name,
            is_superuser=role == Role.PLATFORM_ADMIN,
        )
        self.stdout.write(f"User {user.username} ({user.get_role_display()}) created.")

    def _list(self, *, json: bool, **_):  # noqa: A002
        rows = [
            {
                "username": u.username,
                "role": u.role,
                "department": u.department.code if u.department else None,
                "active": u.is_active,
            }
            for u in User.objects.select_related("department").order_by("username")
        ]
        if json:
            self.stdout.write(json_dumps(rows))
            return
        for r in rows:
            self.stdout.write(f"{r['username']:<20} {r['role']:<16} {r['department'] or '-'}")


def json_dumps(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2)
