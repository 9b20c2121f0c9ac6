"""Writes of the core app: departments, users, API clients, jobs."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import yaml
from django.db import transaction

from .errors import NotFound, ValidationFailed
from .models import ApiClient, Department, Role, User, hash_key
from .permissions import validate_scopes

DEPARTMENTS_FILE = Path(__file__).parent / "config" / "departments.yaml"


def department_sync(*, path: Path = DEPARTMENTS_FILE) -> int:
    """Create or update the departments listed in the configuration file; return how many."""
    entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    count = 0
    with transaction.atomic():
        for sort, entry in enumerate(entries):
            fields = {
                "name_zh": entry["name_zh"],
                "name_en": entry["name_en"],
                "uscc": entry.get("uscc") or "",
                "data_holding": bool(entry.get("data_holding")),
                "sort": sort,
            }
            dept = Department.objects.filter(code=entry["code"]).first()
            if dept is None:
                Department(code=entry["code"], **fields).save()
            elif any(getattr(dept, k) != v for k, v in fields.items()):
                for k, v in fields.items():
                    setattr(dept, k, v)
                dept.save()
            count += 1
    return count


def department_get(*, code: str) -> Department:
    dept = Department.objects.filter(code=code).first()
    if dept is None:
        raise NotFound(
            f"Unknown department: {code}",
            code="unknown_department",
            details={"valid": list(Department.objects.values_list("code", flat=True))},
        )
    return dept


def user_create(
    *,
    username: str,
    password: str,
    role: str,
    department: Department | None = None,
    display_name: str = "",
    is_superuser: bool = False,
) -> User:
    """Create a user with a role; data officers and inspectors belong to a department."""
    if role not in Role.values:
        raise ValidationFailed(f"Unknown role: {role}", code="unknown_role")
    if role == Role.DATA_OFFICER and department is None:
        raise ValidationFailed("A data officer needs a department.", code="department_required")
    user = User(
        username=username,
        role=role,
        department=department,
        display_name=display_name,
        is_superuser=is_superuser,
        is_staff=is_superuser,
    )
    user.set_password(password)
    user.full_clean()
    user.save()
    return user


def apiclient_create(
    *, name: str, department: Department, scopes: list[str], rate_limit: str = "600/m"
) -> tuple[ApiClient, str]:
    """Create an API client; return it with its key, which is never stored nor shown again."""
    validate_scopes(scopes)
    if ApiClient.objects.filter(name=name).exists():
        raise ValidationFailed(f"An API client named {name} exists.", code="duplicate_name")
    _check_rate(rate_limit)
    key = "qc_" + secrets.token_urlsafe(32)
    client = ApiClient(
        name=name,
        department=department,
        key_prefix=key[:11],
        key_hash=hash_key(key),
        scopes=sorted(set(scopes)),
        rate_limit=rate_limit,
    )
    client.save()
    return client, key


def apiclient_revoke(*, name: str) -> ApiClient:
    client = ApiClient.objects.filter(name=name).first()
    if client is None:
        raise NotFound(f"No API client named {name}.", code="unknown_client")
    client.active = False
    client.save()
    return client


def _check_rate(rate: str) -> None:
    import re

    if not re.fullmatch(r"\d+/(s|m|h|d)", rate):
        raise ValidationFailed(
            f"Rate limit {rate!r} is not of the form N/s, N/m, N/h or N/d.", code="bad_rate"
        )


def describe_actor(actor: Any) -> str:
    if isinstance(actor, ApiClient):
        return f"client:{actor.name}"
    if actor is not None and getattr(actor, "is_authenticated", False):
        return f"user:{actor.get_username()}"
    return "public"
