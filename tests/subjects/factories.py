"""Valid codes and registration rows for the subject tests."""

from __future__ import annotations

from typing import Any

from qualitycity.subjects.identifiers import (
    org_code_check_digit,
    resident_id_check_char,
    uscc_check_char,
)


def uscc(n: int, *, division: str = "370202", prefix: str = "91") -> str:
    """The n-th valid unified social credit code of a division."""
    org8 = f"{n:08d}"
    first17 = prefix + division + org8 + org_code_check_digit(org8)
    return first17 + uscc_check_char(first17)


def resident_id(n: int, *, division: str = "370202", birth: str = "19800101") -> str:
    """The n-th valid resident ID number born on ``birth`` in ``division``."""
    first17 = f"{division}{birth}{n % 1000:03d}"
    return first17 + resident_id_check_char(first17)


def legal_row(n: int, name: str, **extra: Any) -> dict[str, Any]:
    row = {
        "code": uscc(n),
        "kind": "legal",
        "name": name,
        "subject_type": "enterprise",
        "district": "370202",
        "industry": "13",
        "legal_representative": "王五",
        "registered_on": None,
        "status": "active",
        "former_names": [],
    }
    row.update(extra)
    return row


def person_row(n: int, name: str, **extra: Any) -> dict[str, Any]:
    row = {
        "code": resident_id(n),
        "kind": "person",
        "name": name,
        "subject_type": "natural_person",
        "district": "370202",
        "industry": "",
        "legal_representative": "",
        "registered_on": None,
        "status": "active",
        "former_names": [],
    }
    row.update(extra)
    return row
