"""Per-request id and change context: every change made in a request is logged with both."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from . import context


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.id = uuid.uuid4()
        response = self.get_response(request)
        response["X-Request-ID"] = str(request.id)
        return response


class ChangeContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user if request.user.is_authenticated else None
        source = "api" if request.path.startswith("/api/") else "web"
        with context.acting_as(user=user, source=source, request_id=request.id):
            return self.get_response(request)


class DefaultLanguageMiddleware:
    """Simplified Chinese unless the user chose another language with the language switch.

    Django's LocaleMiddleware would follow the browser's Accept-Language; on a government
    intranet the platform's language is Chinese by default and English only on request.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from django.conf import settings
        from django.utils import translation

        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        valid = {code for code, _ in settings.LANGUAGES}
        language = chosen if chosen in valid else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        response.headers.setdefault("Vary", "Cookie")
        return response
