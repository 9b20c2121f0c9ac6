"""The versioned JSON API: authentication, rate limits and the one error envelope.

Each app contributes a ``Router`` (``<app>/api.py``); ``qualitycity.urls`` mounts them here.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http import Http404, HttpRequest
from django.utils import timezone
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.errors import AuthorizationError as NinjaAuthorizationError
from ninja.security import APIKeyCookie, HttpBearer
from ninja.throttling import BaseThrottle

from . import context, ratelimit
from .errors import ApplicationError
from .models import ApiClient, hash_key


class BearerKey(HttpBearer):
    """``Authorization: Bearer <key>`` for department business systems."""

    def authenticate(self, request: HttpRequest, token: str) -> ApiClient | None:
        client = _clients.get(hash_key(token))
        if client is None:
            return None
        # Touch at most once a minute: this is on every request's path.
        now = timezone.now()
        if client.last_used_at is None or (now - client.last_used_at).total_seconds() > 60:
            ApiClient.objects.filter(pk=client.pk).update(last_used_at=now)
            client.last_used_at = now  # the cached object too, or every request would write
        context.bind_api_client(client)
        return client


class _ClientCache:
    """Active API clients by key hash, kept per process for a few seconds.

    Every API request authenticates; reading the client (and its department) each time costs
    as much as a simple endpoint. A change to a client in this process (revocation, new scopes)
    takes effect at once; in the other server processes within
    ``QUALITYCITY_API_CLIENT_CACHE_SECONDS``. Unknown keys are not kept, so a new key works at
    once everywhere.
    """

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, ApiClient]] = {}
        self._lock = threading.Lock()

    def get(self, key_hash: str) -> ApiClient | None:
        now = time.monotonic()
        entry = self._entries.get(key_hash)
        if entry is not None and entry[0] > now:
            return entry[1]
        client = (
            ApiClient.objects.select_related("department")
            .filter(key_hash=key_hash, active=True)
            .first()
        )
        with self._lock:
            if client is None:
                self._entries.pop(key_hash, None)
            else:
                ttl = settings.QUALITYCITY_API_CLIENT_CACHE_SECONDS
                self._entries[key_hash] = (now + ttl, client)
        return client

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_clients = _ClientCache()


@receiver([post_save, post_delete], sender=ApiClient)
def _forget_clients(**_: Any) -> None:
    _clients.clear()


class SessionUser(APIKeyCookie):
    """The web UI's signed-in user (CSRF-checked for unsafe methods)."""

    param_name = settings.SESSION_COOKIE_NAME

    def _get_key(self, request: HttpRequest) -> str | None:
        # The CSRF check guards a browser's session; a request without the session cookie (a
        # script without a key) must get 401, not a CSRF 403.
        if self.param_name not in request.COOKIES:
            return None
        return super()._get_key(request)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return user
        return None


class Anonymous:
    """Lets the public through; endpoints that allow it then show the public view only."""

    def __call__(self, request: HttpRequest) -> Any:
        if request.headers.get("Authorization"):
            return None  # a bad key is an error, never a silent downgrade to public
        return AnonymousUser()


staff_auth = [BearerKey(), SessionUser()]
public_auth = [BearerKey(), SessionUser(), Anonymous()]


class ActorRateThrottle(BaseThrottle):
    """Per API client (its own rate), per signed-in user, per address for the public.

    Counted in ``core.ratelimit`` (shared by every server process). The instance is shared by
    concurrent requests: the refused request's wait is kept per thread for ``wait()``.
    """

    def __init__(self) -> None:
        self._waits = threading.local()

    def _rate_and_key(self, request: HttpRequest) -> tuple[str, str]:
        actor = getattr(request, "auth", None)
        if isinstance(actor, ApiClient):
            rate = actor.rate_limit or settings.QUALITYCITY_DEFAULT_CLIENT_RATE
            return rate, f"api:client{actor.pk}"
        if actor is not None and getattr(actor, "is_authenticated", False):
            return settings.QUALITYCITY_DEFAULT_CLIENT_RATE, f"api:user{actor.pk}"
        return settings.QUALITYCITY_PUBLIC_RATE, f"api:ip{ratelimit.client_ip(request)}"

    def allow_request(self, request: HttpRequest) -> bool:
        rate, key = self._rate_and_key(request)
        decision = ratelimit.hit(key, rate)
        self._waits.seconds = decision.retry_after
        return decision.allowed

    def wait(self) -> float | None:
        return getattr(self._waits, "seconds", None)


api = NinjaAPI(
    title="Quality City Platform API",
    version="1",
    urls_namespace="api-1",
    auth=staff_auth,
    throttle=[ActorRateThrottle()],
    docs_url="/docs",
    openapi_url="/openapi.json",
    description=(
        "Credit information platform of the city's quality-improvement programme. "
        "Department systems authenticate with `Authorization: Bearer <key>`; keys carry scopes "
        "named `<app>.<action>`. Every error has the body "
        '`{"code": …, "message": …, "details": …}`.'
    ),
)


def _envelope(request: HttpRequest, status: int, code: str, message: str, details: Any = None):
    return api.create_response(
        request, {"code": code, "message": message, "details": details}, status=status
    )


@api.exception_handler(ApplicationError)
def _application_error(request: HttpRequest, exc: ApplicationError):
    return _envelope(request, exc.status, exc.code, exc.message, exc.details)


@api.exception_handler(ValidationError)
def _validation_error(request: HttpRequest, exc: ValidationError):
    return _envelope(request, 422, "invalid_request", "The request is not valid.", exc.errors)


@api.exception_handler(AuthenticationError)
def _authentication_error(request: HttpRequest, exc: AuthenticationError):
    if request.headers.get("Authorization"):
        return _envelope(request, 401, "invalid_key", "The API key is not valid or is disabled.")
    return _envelope(request, 401, "unauthenticated", "Authentication required.")


@api.exception_handler(NinjaAuthorizationError)
def _authorization_error(request: HttpRequest, exc: NinjaAuthorizationError):
    return _envelope(request, 403, "forbidden", "Not allowed.")


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404):
    return _envelope(request, 404, "not_found", str(exc) or "Not found.")


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError):
    if exc.status_code == 429:
        return _envelope(request, 429, "rate_limited", "Too many requests; slow down.")
    return _envelope(request, exc.status_code, f"http_{exc.status_code}", str(exc))


# --- core endpoints -------------------------------------------------------------------------
from ninja import Schema  # noqa: E402


class DepartmentOut(Schema):
    code: str
    name_zh: str
    name_en: str
    uscc: str
    data_holding: bool


class WhoAmIOut(Schema):
    kind: str
    name: str
    department: str | None
    scopes: list[str]


class ErrorOut(Schema):
    code: str
    message: str
    details: Any = None


@api.get(
    "/departments",
    auth=public_auth,
    response=list[DepartmentOut],
    operation_id="departments_list",
    tags=["core"],
)
def departments_list(request: HttpRequest):
    from .selectors import department_list

    return department_list()


@api.get(
    "/me",
    response={200: WhoAmIOut, 401: ErrorOut},
    operation_id="whoami",
    tags=["core"],
    summary="Who the caller is and what it may do",
)
def whoami(request: HttpRequest):
    actor = request.auth
    if isinstance(actor, ApiClient):
        return {
            "kind": "api_client",
            "name": actor.name,
            "department": actor.department.code,
            "scopes": sorted(actor.scopes),
        }
    return {
        "kind": "user",
        "name": actor.get_username(),
        "department": actor.department.code if actor.department_id else None,
        "scopes": sorted(actor.scopes()),
    }
