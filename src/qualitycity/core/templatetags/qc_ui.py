"""Template helpers of the UI shell: durations, job outcomes, change-log actors and links."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django import template
from django.urls import reverse
from django.utils.translation import gettext as _

from ..ui_selectors import outcome_rows as _outcome_rows

register = template.Library()


@register.filter
def duration(value: Any) -> str:
    """Seconds (or a timedelta) as "2 h 05 min", "3 min 07 s" or "12 s"; empty for None."""
    if value is None or value == "":
        return ""
    seconds = value.total_seconds() if isinstance(value, dt.timedelta) else float(value)
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return _("%(h)d h %(m)02d min") % {"h": hours, "m": minutes}
    if minutes:
        return _("%(m)d min %(s)02d s") % {"m": minutes, "s": secs}
    return _("%(s)d s") % {"s": secs}


@register.filter
def outcome_rows(outcome: Any) -> list[dict[str, Any]]:
    """A job outcome as table rows ``{"key", "value", "block", "number"}``, values formatted."""
    from django.contrib.humanize.templatetags.humanize import intcomma

    rows = []
    for key, value, block in _outcome_rows(outcome):
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if number:
            text = intcomma(value)
        elif value is None or value == "":
            text = "—"
        elif isinstance(value, bool):
            text = _("yes") if value else _("no")
        else:
            text = str(value)
        rows.append({"key": key, "value": text, "block": block, "number": number})
    return rows


@register.filter
def changed_value(value: Any) -> str:
    """A value of a change-log snapshot, readable: JSON for structures, "—" for nothing."""
    if value is None:
        return "—"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    return str(value)


@register.filter
def change_actor(change: Any) -> str:
    """Who made a change: the user, the API client, or the process (CLI, job, system)."""
    if change.user_id:
        user = change.user
        return user.display_name or user.get_username()
    if change.user_name:
        return change.user_name
    if change.api_client_id:
        return _("API client %(name)s") % {"name": change.api_client.name}
    return _sources().get(change.source, change.source)


def _sources() -> dict[str, str]:
    return {
        "web": _("web"),
        "api": _("API"),
        "cli": _("command line"),
        "job": _("background job"),
        "system": _("system"),
    }


@register.filter
def change_source(change: Any) -> str:
    """Through which channel a change was made (web, API, command line, job, system)."""
    return _sources().get(change.source, change.source)


@register.simple_tag
def changelog_url(obj: Any) -> str:
    """The change-log page of a model instance."""
    meta = obj._meta
    return reverse("core:changes", args=[meta.app_label, meta.model_name, obj.pk])
