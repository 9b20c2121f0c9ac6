"""Shared fixtures. Departments exist in every test database (synced after migrate)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from qualitycity.core.models import Department, Role, User

PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="session", autouse=True)
def _no_lock_file_left():
    """The SQLite test database is deleted at the end; so is its write-turn lock file."""
    yield
    from django.conf import settings

    name = settings.DATABASES["default"].get("TEST", {}).get("NAME")
    if name and settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        Path(f"{name}.writelock").unlink(missing_ok=True)


@pytest.fixture(autouse=True)
def _isolated_home(settings, tmp_path):
    """Kept files, caches and rate counts go to a temporary folder; jobs run at once."""
    settings.FILES_ROOT = tmp_path / "files"
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    settings.QUALITYCITY_RATE_COUNTER_PATH = tmp_path / "ratelimit.sqlite3"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": str(tmp_path),
        }
    }


@pytest.fixture
def department(db) -> Callable[[str], Department]:
    return lambda code: Department.objects.get(code=code)


@pytest.fixture
def make_user(db) -> Callable[..., User]:
    from qualitycity.core.services import user_create

    def make(username: str, role: str = Role.QUALITY_OFFICE, department: str | None = None):
        return user_create(
            username=username,
            password=PASSWORD,
            role=role,
            department=Department.objects.get(code=department) if department else None,
            is_superuser=role == Role.PLATFORM_ADMIN,
        )

    return make


@pytest.fixture
def api_key(db) -> Callable[..., str]:
    """Create an API client and return its bearer key."""
    from qualitycity.core.services import apiclient_create

    counter = {"n": 0}

    def make(scopes: list[str], department: str = "market", rate_limit: str = "600/m") -> str:
        counter["n"] += 1
        _, key = apiclient_create(
            name=f"client-{department}-{counter['n']}",
            department=Department.objects.get(code=department),
            scopes=scopes,
            rate_limit=rate_limit,
        )
        return key

    return make


def bearer(key: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


@pytest.fixture
def register_subjects(db) -> Callable[..., list[str]]:
    """Register legal subjects through the registry's service; return their codes.

    ``register({1: "青岛甲有限公司", 2: ...})`` registers ``uscc(1)``, ``uscc(2)``, ... (see
    ``tests/subjects/factories.py``); ``former_names`` maps a number to its former names.
    """
    from qualitycity.subjects.services import subjects_register
    from tests.subjects.factories import legal_row

    def register(
        names: dict[int, str],
        *,
        former_names: dict[int, list[str]] | None = None,
        department: str = "market",
    ) -> list[str]:
        former_names = former_names or {}
        rows = [
            legal_row(n, name, former_names=former_names.get(n, [])) for n, name in names.items()
        ]
        subjects_register(
            rows=rows, department=Department.objects.get(code=department), source_file=None
        )
        return [r["code"] for r in rows]

    return register


# --- a real browser (Playwright driving Debian's Chromium) ----------------------------------

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str | None:
    for candidate in (
        os.environ.get("QUALITYCITY_CHROMIUM"),
        "/usr/bin/chromium",
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
    ):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@pytest.fixture
def browser_page(monkeypatch):
    executable = _chromium()
    if executable is None:
        pytest.skip(
            "No Chromium found: install one with `apt-get install chromium` "
            "(or set QUALITYCITY_CHROMIUM to its path) to run the browser test."
        )
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    # Playwright's sync API runs an event loop in this thread; Django's ORM calls made by the
    # test around it are still synchronous and safe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as pw:
        # launch() gives every run a fresh, temporary user-data dir of its own.
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(locale="zh-CN")
            page = context.new_page()
            page.set_default_timeout(15_000)
            yield page
        finally:
            browser.close()
