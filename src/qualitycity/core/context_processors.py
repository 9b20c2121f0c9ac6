"""Navigation of the UI shell: one place for every pillar of the plan."""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

# (label, url name or None while the pillar's app is not installed, roles that see it or None=all)
NAVIGATION = [
    (_("Dashboard"), "core:dashboard", "staff"),
    (_("Subjects"), "subjects:search", "staff"),
    (_("Credit records"), "records:submissions", "staff"),
    (_("Upload"), "records:upload", "submitters"),
    (_("Quarantine"), "records:quarantine", "staff"),
    (_("Timeliness"), "records:timeliness", "staff"),
    (_("Credit evaluation"), "credit:index", "staff"),
    (_("Red and black lists"), "lists:index", "staff"),
    (_("Supervision"), "supervision:index", "staff"),
    (_("Traceability"), "trace:index", "staff"),
    (_("Plan, standards and brands"), "plan:index", "staff"),
    (_("Quality indices"), "indices:index", "staff"),
    (_("Reports"), "reports:index", "staff"),
    (_("Jobs"), "core:jobs", "staff"),
    (_("Public portal"), "portal:home", None),
]


def navigation(request):
    user = request.user
    items = []
    for label, name, audience in NAVIGATION:
        if audience == "staff" and not user.is_authenticated:
            continue
        if audience == "submitters" and not (
            user.is_authenticated and (user.is_citywide or user.role == "data_officer")
        ):
            continue
        try:
            url = reverse(name)
        except NoReverseMatch:
            url = None  # the pillar exists in the plan; its module is not installed yet
        items.append({"label": label, "url": url, "active": bool(url) and request.path.startswith(url) and url != "/"})
    return {"navigation": items}
