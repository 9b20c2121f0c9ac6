"""The versioned JSON API: authentication, rate limits and the one error envelope.

Each app contributes a ``Router`` (``<app>/api.py``); ``qualitycity.urls`` mounts them here.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import Http404, HttpRequest
from django.utils import timezone
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.errors import AuthorizationError as NinjaAuthorizationError
from ninja.security import APIKeyCookie, HttpBearer
from ninja.throttling import SimpleRateThrottle

from . import context
from .errors import ApplicationError
from .models import ApiClient, hash_key


class BearerKey(HttpBearer):
    """``Authorization: Bearer <key>`` for department business systems."""

    def authenticate(self, request: HttpRequest, token: str) -> ApiClient | None:
        client = (
            ApiClient.objects.select_related("department")
            .filter(key_hash=hash_key(token), active=True)
            .first()
        )
        if client is None:
            return None
        # Touch at most once a minute: this is on every request's path.
        now = timezone.now()
        if client.last_used_at is None or (now - client.last_used_at).total_seconds() > 60:
            ApiClient.objects.filter(pk=client.pk).update(last_used_at=now)
        context.bind_api_client(client)
        return client


class SessionUser(APIKeyCookie):
    """The web UI's signed-in user (CSRF-checked for unsafe methods)."""

    param_name = settings.SESSION_COOKIE_NAME

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


class ActorRateThrottle(SimpleRateThrottle):
    """Per API client (its own rate), per signed-in user, per address for the public."""

    scope = "actor"
    rate = "60/m"

    def __init__(self) -> None:
        super().__init__(rate=self.rate)

    def _rate_for(self, request: HttpRequest) -> str:
        actor = getattr(request, "auth", None)
        if isinstance(actor, ApiClient):
            return actor.rate_limit or settings.QUALITYCITY_DEFAULT_CLIENT_RATE
        if actor is not None and getattr(actor, "is_authenticated", False):
            return settings.QUALITYCITY_DEFAULT_CLIENT_RATE
        return settings.QUALITYCITY_PUBLIC_RATE

    def get_cache_key(self, request: HttpRequest) -> str:
        actor = getattr(request, "auth", None)
        if isinstance(actor, ApiClient):
            ident = f"client{actor.pk}"
        elif actor is not None and getattr(actor, "is_authenticated", False):
            ident = f"user{actor.pk}"
        else:
            ident = f"ip{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def allow_request(self, request: HttpRequest) -> bool:
        # Instances are shared between requests: compute the limit into locals, not self.
        num, duration = self.parse_rate(self._rate_for(request))
        key = self.get_cache_key(request)
        now = time.time()
        history = [t for t in self.cache.get(key, []) if t > now - duration]
        if len(history) >= num:
            self.history, self.now, self.num_requests, self.duration = history, now, num, duration
            return False
        history.insert(0, now)
        self.cache.set(key, history, duration)
        return True


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
