"""A log filter that keeps personal data out of every log line (PIPL).

Resident ID numbers are replaced wherever they appear; names of natural persons are never passed
to a logger by our code, and this filter is the safety net for ID numbers in messages and args.
"""

from __future__ import annotations

import logging
import re

_RESIDENT_ID = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[\dXx])(?![0-9A-Za-z])")


def redact(text: str) -> str:
    return _RESIDENT_ID.sub(r"\1********\2", text)


class PersonalDataFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string must not stop logging
            return True
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True
