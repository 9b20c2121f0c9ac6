"""Small helpers every management command shares: JSON for scripts and date arguments."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
from django.core.management.base import CommandError


def json_text(obj: Any) -> str:
    """``--json`` output: indented UTF-8 JSON; dates in ISO form, anything else as text."""
    return orjson.dumps(
        obj, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS, default=str
    ).decode()


def date_arg(text: str) -> dt.date:
    """A ``YYYY-MM-DD`` command-line argument, or a command error naming it."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"not a date (YYYY-MM-DD): {text}") from None
