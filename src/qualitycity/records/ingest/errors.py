"""Why a file is refused as a whole. Codes are stable: clients and the UI branch on them."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_noop

# code → what it means (English; the UI translates the message it shows).
REFUSAL_CODES: dict[str, str] = {
    "empty_file": gettext_noop("The file is empty or has a header but no rows."),
    "wrong_header": gettext_noop(
        "The header does not match the dataset: columns are missing or unknown."
    ),
    "truncated_file": gettext_noop("The file is incomplete (cut off while being written or sent)."),
    "malformed_file": gettext_noop("The file cannot be parsed in its format."),
    "binary_file": gettext_noop("The file is not text (NUL bytes or no known encoding)."),
    "unknown_format": gettext_noop("The file format is not one of CSV, XLSX or JSON Lines."),
    "department_not_allowed": gettext_noop("The department may not submit this dataset."),
}


class FileRefused(Exception):
    """The file as a whole cannot be ingested; nothing of it is stored but the file itself."""

    def __init__(self, code: str, message: str, details: Any = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details
