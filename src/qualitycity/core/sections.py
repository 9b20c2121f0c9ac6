"""Sections that apps add to a subject's credit file page, which ``records`` owns.

A later app (credit classes, list entries) cannot be imported by ``records`` (the dependency
direction is ``core`` ← ``subjects`` ← ``records`` ← everything else), so it registers a section
from its ``AppConfig.ready()``::

    from qualitycity.core.sections import register_file_section

    register_file_section(
        key="credit.class",
        template="credit/_file_section.html",
        context=lambda request, *, subject, file: {...},
        order=10,
        scope="credit.read",
    )

The credit file view calls ``file_sections_for`` and the page includes each section's template
with ``section`` (the dict returned by ``context``). A section is shown only to users holding its
``scope``; a ``context`` that returns ``None`` hides the section; one that fails is shown as
unavailable and logged, never taking the page down with it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from .permissions import has_scope

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileSection:
    key: str
    template: str
    context: Callable[..., dict[str, Any] | None]
    order: int = 100
    scope: str | None = None  # None: every user who may open the credit file


_SECTIONS: dict[str, FileSection] = {}


def register_file_section(
    *,
    key: str,
    template: str,
    context: Callable[..., dict[str, Any] | None],
    order: int = 100,
    scope: str | None = None,
) -> None:
    """Register (or replace, by ``key``) a section of the staff credit file page.

    ``context(request, *, subject, file)`` receives the subject and the credit file as the page
    shows it (``records.selectors.CreditFile``). Sections are shown by ``order``, then ``key``.
    """
    _SECTIONS[key] = FileSection(
        key=key, template=template, context=context, order=order, scope=scope
    )


def unregister_file_section(key: str) -> None:
    """Remove a section (used by tests)."""
    _SECTIONS.pop(key, None)


def registered_file_sections() -> list[FileSection]:
    return sorted(_SECTIONS.values(), key=lambda s: (s.order, s.key))


def file_sections_for(request: HttpRequest, *, subject: Any, file: Any) -> list[dict[str, Any]]:
    """The sections the request's user may see: ``{"key", "template", "data", "failed"}``."""
    shown = []
    for section in registered_file_sections():
        if section.scope is not None and not has_scope(request.user, section.scope):
            continue
        try:
            data = section.context(request, subject=subject, file=file)
            failed = False
        except Exception:  # one broken section must not hide the credit file
            log.exception("credit file section %s failed", section.key)
            data, failed = {}, True
        if data is None:
            continue
        shown.append(
            {"key": section.key, "template": section.template, "data": data, "failed": failed}
        )
    return shown
