"""A log filter that keeps personal data out of every log line (PIPL).

Resident ID numbers are replaced wherever they appear; names of natural persons are never passed
to a logger by our code, and this filter is the safety net for ID numbers in messages and args,
in the traceback of a logged exception (a database error may quote a row's values) and in the
web server's access log (credit-file addresses and search queries may carry an ID number).
"""

from __future__ import annotations

import logging
import re

_RESIDENT_ID = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[\dXx])(?![0-9A-Za-z])")
_FORMATTER = logging.Formatter()


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
        # Handlers format a traceback into exc_text only when it is not set yet: set it here,
        # redacted, so that an exception's message never carries an ID number into the log.
        if record.exc_info and not record.exc_text:
            record.exc_text = _FORMATTER.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install_access_log_filter(gunicorn_logger: object) -> None:
    """Add the filter to a gunicorn ``Logger``'s access and error logs (they do not propagate
    to the root logger, so the ``LOGGING`` setting does not reach them)."""
    for name in ("access_log", "error_log"):
        log = getattr(gunicorn_logger, name, None)
        if isinstance(log, logging.Logger) and not any(
            isinstance(f, PersonalDataFilter) for f in log.filters
        ):
            log.addFilter(PersonalDataFilter())
