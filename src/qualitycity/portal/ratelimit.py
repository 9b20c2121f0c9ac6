"""Per-address rate limit of the public portal pages (a national credit lookup site's habit).

Counted in ``core.ratelimit`` like the API: the public per IP address, signed-in staff per user
with the staff rate.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from qualitycity.core import ratelimit


def _identity(request: HttpRequest) -> tuple[str, str]:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"portal:user{user.pk}", settings.QUALITYCITY_DEFAULT_CLIENT_RATE
    return f"portal:ip{ratelimit.client_ip(request)}", settings.QUALITYCITY_PUBLIC_RATE


def rate_limited(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Answer 429 with a page saying when to come back once the caller exceeds the rate."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        key, rate = _identity(request)
        decision = ratelimit.hit(key, rate)
        if not decision.allowed:
            seconds = math.ceil(decision.retry_after)
            response = render(
                request, "portal/rate_limited.html", {"retry_after": seconds}, status=429
            )
            response["Retry-After"] = str(seconds)
            return response
        return view(request, *args, **kwargs)

    return wrapped
