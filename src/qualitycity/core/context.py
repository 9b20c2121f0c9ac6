"""Who is acting, under which request id: shared by requests, CLI commands and jobs."""

from __future__ import annotations

import contextlib
import contextvars
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ChangeContext:
    request_id: uuid.UUID = field(default_factory=uuid.uuid4)
    user: Any = None  # core.User or None
    api_client: Any = None  # core.ApiClient or None
    source: str = "system"  # web, api, cli, job, system


_current: contextvars.ContextVar[ChangeContext | None] = contextvars.ContextVar(
    "qualitycity_change_context", default=None
)


def current() -> ChangeContext:
    ctx = _current.get()
    return ctx if ctx is not None else ChangeContext()


@contextlib.contextmanager
def acting_as(
    *,
    user: Any = None,
    api_client: Any = None,
    source: str = "system",
    request_id: uuid.UUID | None = None,
) -> Iterator[ChangeContext]:
    """Run a block on behalf of an actor; changes made inside are logged with it."""
    ctx = ChangeContext(
        request_id=request_id or uuid.uuid4(), user=user, api_client=api_client, source=source
    )
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)


def bind_api_client(client: Any) -> None:
    """Attach an authenticated API client to the current request's context."""
    ctx = current()
    _current.set(
        ChangeContext(request_id=ctx.request_id, user=None, api_client=client, source="api")
    )
