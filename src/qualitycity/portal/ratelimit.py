"""Per-address rate limit of the public portal pages (a national credit lookup site's habit).

Counters live in the Django cache, shared by every server process (the file cache under HOME on
one machine, Redis for several), like ``core.api.ActorRateThrottle`` does for the API: the public
is counted per IP address, signed-in staff per user with the staff rate.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

_DURATIONS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """``"60/m"`` → ``(60, 60)``: requests allowed per window of seconds."""
    num, _, period = rate.partition("/")
    return int(num), _DURATIONS[period[:1].lower()]


def client_ip(request: HttpRequest) -> str:
    # REMOTE_ADDR only: a forwarded-for header is set by whoever sends the request. Behind a
    # reverse proxy, the proxy must set REMOTE_ADDR (gunicorn's --forwarded-allow-ips).
    return request.META.get("REMOTE_ADDR") or "unknown"


def _identity(request: HttpRequest) -> tuple[str, str]:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user{user.pk}", settings.QUALITYCITY_DEFAULT_CLIENT_RATE
    return f"ip{client_ip(request)}", settings.QUALITYCITY_PUBLIC_RATE


def check_rate(request: HttpRequest) -> float | None:
    """Count this request; return ``None`` when allowed, else the seconds until a slot frees."""
    ident, rate = _identity(request)
    num, window = parse_rate(rate)
    key = f"portal-rate:{ident}"
    now = time.time()
    history = [t for t in cache.get(key, []) if t > now - window]
    if len(history) >= num:
        return max(1.0, history[-1] + window - now)
    history.insert(0, now)
    cache.set(key, history, window)
    return None


def rate_limited(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Answer 429 with a page saying when to come back once the caller exceeds the rate."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        wait = check_rate(request)
        if wait is not None:
            seconds = math.ceil(wait)
            response = render(
                request, "portal/rate_limited.html", {"retry_after": seconds}, status=429
            )
            response["Retry-After"] = str(seconds)
            return response
        return view(request, *args, **kwargs)

    return wrapped
