"""The staff dashboard: panels that apps register, plus what core itself knows (jobs, changes).

An app adds its panels in its ``AppConfig.ready()``::

    from qualitycity.core.dashboard import register_panel

    register_panel(
        key="records.by_department",
        template="records/_panel_by_department.html",
        context=lambda request: {"rows": ...},
        order=20,
        roles={"platform_admin", "quality_office"},
    )

The panel's template is rendered with the page's context plus ``panel`` (the dict returned by
``context``). A panel whose context function fails is shown as unavailable and logged; it never
takes the dashboard down with it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Panel:
    key: str
    template: str
    context: Callable[[HttpRequest], dict[str, Any]]
    order: int = 100
    roles: frozenset[str] | None = None  # None: every signed-in user

    def visible_to(self, user: Any) -> bool:
        if not getattr(user, "is_authenticated", False):
            return False
        if self.roles is None:
            return True
        if getattr(user, "is_superuser", False) and "platform_admin" in self.roles:
            return True
        return getattr(user, "role", None) in self.roles


_PANELS: dict[str, Panel] = {}


def register_panel(
    *,
    key: str,
    template: str,
    context: Callable[[HttpRequest], dict[str, Any]],
    order: int = 100,
    roles: set[str] | None = None,
) -> None:
    """Register (or replace, by ``key``) a dashboard panel.

    ``roles`` limits the panel to users with one of those roles (``core.models.Role`` values);
    ``None`` shows it to every signed-in user. Panels are shown by ``order``, then ``key``.
    """
    _PANELS[key] = Panel(
        key=key,
        template=template,
        context=context,
        order=order,
        roles=frozenset(str(r) for r in roles) if roles is not None else None,
    )


def unregister_panel(key: str) -> None:
    """Remove a panel (used by tests)."""
    _PANELS.pop(key, None)


def registered_panels() -> list[Panel]:
    return sorted(_PANELS.values(), key=lambda p: (p.order, p.key))


def panels_for(request: HttpRequest) -> list[dict[str, Any]]:
    """The panels the request's user may see, each with its rendered context or an error flag."""
    shown = []
    for panel in registered_panels():
        if not panel.visible_to(request.user):
            continue
        try:
            data = panel.context(request) or {}
            failed = False
        except Exception:  # one broken panel must not hide the others
            log.exception("dashboard panel %s failed", panel.key)
            data, failed = {}, True
        shown.append({"key": panel.key, "template": panel.template, "data": data, "failed": failed})
    return shown


# --- landing pages ------------------------------------------------------------------------------

_LANDINGS: dict[str, str] = {}


def register_landing(*, roles: set[str], url_name: str) -> None:
    """Make ``url_name`` the page users of ``roles`` land on after logging in (and the brand
    link's target), instead of the dashboard. The plan app makes its dashboard the quality
    office's top page this way."""
    for role in roles:
        _LANDINGS[str(role)] = url_name


def landing_url(user: Any) -> str:
    """Where ``user`` lands: the page registered for the role, else the staff dashboard."""
    from django.urls import NoReverseMatch, reverse

    role = "platform_admin" if getattr(user, "is_superuser", False) else None
    name = _LANDINGS.get(getattr(user, "role", None) or "") or (role and _LANDINGS.get(role))
    if name:
        try:
            return reverse(name)
        except NoReverseMatch:
            pass
    return reverse("core:dashboard")
