"""Navigation of the UI shell: one place for every pillar of the plan.

A pillar whose app is not installed yet (its URL cannot be reversed) is shown as a label, so the
shape of the whole platform is visible from the first day.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from .dashboard import landing_url

# Audiences: "staff" = any signed-in user, "submitters" = city-wide roles and data officers,
# "citywide" = platform admin and quality office, None = everyone (also the public).
# (section label, [(item label, url name, audience), ...])
NAVIGATION = [
    (
        _("Workbench"),
        [
            (_("Dashboard"), "core:dashboard", "staff"),
            (_("Jobs"), "core:jobs", "staff"),
            (_("Change log"), "core:changes", "citywide"),
        ],
    ),
    (
        _("Credit guarantees"),
        [
            (_("Subjects"), "subjects:search", "staff"),
            (_("Submissions"), "records:submissions", "staff"),
            (_("Upload"), "records:upload", "submitters"),
            (_("Quarantine"), "records:quarantine", "staff"),
            (_("Timeliness"), "records:timeliness", "staff"),
            (_("Credit evaluation"), "credit:index", "staff"),
            (_("Red and black lists"), "lists:index", "staff"),
            (_("Joint reward and punishment"), "discipline:index", "staff"),
        ],
    ),
    (
        _("Quality first"),
        [
            (_("Supervision and spot checks"), "supervision:index", "staff"),
            (_("Traceability"), "trace:index", "staff"),
            (_("Quality indices"), "indices:index", "staff"),
            (_("Quality reports"), "reports:index", "staff"),
        ],
    ),
    (_("Standards lead"), [(_("Standards"), "plan:standards", "staff")]),
    (_("Brands drive"), [(_("Brands"), "plan:brands", "staff")]),
    (_("Policy support"), [(_("Plan targets and tasks"), "plan:index", "staff")]),
    (_("Public"), [(_("Public portal"), "portal:home", None)]),
]


def _admitted(user: Any, audience: str | None) -> bool:
    if audience is None:
        return True
    if not user.is_authenticated:
        return False
    if audience == "citywide":
        return user.is_citywide
    if audience == "submitters":
        return user.is_citywide or user.role == "data_officer"
    return True


def navigation(request: HttpRequest) -> dict[str, Any]:
    """``navigation``: sections of ``{"label", "items": [{"label", "url", "active"}]}``;
    ``home_url``: the signed-in user's top page (``core.dashboard.landing_url``)."""
    user = getattr(request, "user", None)
    if user is None:
        return {"navigation": [], "home_url": None}
    sections = []
    best: dict[str, Any] | None = None
    for section_label, entries in NAVIGATION:
        items = []
        for label, name, audience in entries:
            if not _admitted(user, audience):
                continue
            try:
                url = reverse(name)
            except NoReverseMatch:
                url = None  # the pillar is in the plan; its module is not installed yet
            item = {"label": label, "url": url, "active": False}
            items.append(item)
            # The most specific matching link is the current one (/staff/jobs/ over /staff/).
            matches = bool(url) and url != "/" and request.path.startswith(url)
            if matches and (best is None or len(url) > len(best["url"])):
                best = item
        if items:
            sections.append({"label": section_label, "items": items})
    if best is not None:
        best["active"] = True
    home = landing_url(user) if getattr(user, "is_authenticated", False) else None
    return {"navigation": sections, "home_url": home}
