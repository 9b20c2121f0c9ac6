"""Reasons of rejected rows and refused files as the reader's language shows them.

A reason is stored as ``{"field", "code", "message"}`` with its message in English (the
error report and the API give it as it is). Pages translate it when they show it: the message
itself where the catalogue has it, else, outside English, the generic message of its code
(a message with values in it, such as a number's allowed range, has no entry of its own).
"""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import get_language, gettext

from qualitycity.records.ingest.errors import REFUSAL_CODES
from qualitycity.records.ingest.validation import REASON_MESSAGES

register = template.Library()


def _field(reason: Any, name: str) -> str:
    value = reason.get(name) if isinstance(reason, dict) else getattr(reason, name, "")
    return str(value or "")


@register.filter
def reason_text(reason: Any) -> str:
    """The message of a reason (a dict, or an error with ``code`` and ``message``)."""
    code, message = _field(reason, "code"), _field(reason, "message")
    if message:
        translated = gettext(message)
        if translated != message or (get_language() or "").startswith("en"):
            return translated
    generic = REASON_MESSAGES.get(code)
    return gettext(generic) if generic else message or code


@register.filter
def reason_label(code: str) -> str:
    """What a reason code means, in the reader's language (the code itself if unknown)."""
    generic = REASON_MESSAGES.get(code)
    return gettext(generic) if generic else code


@register.filter
def refusal_text(code: str, message: str) -> str:
    """Why a file was refused: ``{{ sf.refusal_code|refusal_text:sf.refusal_message }}``.

    A message with particulars in it (the missing columns, a line number) has no translation
    of its own: outside English it follows its code's translated meaning, as it is.
    """
    code, message = str(code or ""), str(message or "")
    if message:
        translated = gettext(message)
        if translated != message or (get_language() or "").startswith("en"):
            return translated
    generic = REFUSAL_CODES.get(code)
    if generic is None:
        return message or code
    return f"{gettext(generic)}（{message}）" if message else gettext(generic)
