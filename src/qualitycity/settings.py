"""Settings, read from the environment.

``QUALITYCITY_HOME`` (default ``./var``) holds everything the platform writes: the embedded SQLite
database, kept original files, compiled translations, collected static files.
``DATABASE_URL`` selects another database (``postgres://…`` in production).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url

PACKAGE_DIR = Path(__file__).resolve().parent
HOME = Path(os.environ.get("QUALITYCITY_HOME", "var")).resolve()
HOME.mkdir(parents=True, exist_ok=True)
(HOME / "tmp").mkdir(exist_ok=True)


def _secret_key() -> str:
    if key := os.environ.get("QUALITYCITY_SECRET_KEY"):
        return key
    path = HOME / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = os.environ.get("QUALITYCITY_DEBUG", "") == "1"
ALLOWED_HOSTS = [h for h in os.environ.get("QUALITYCITY_ALLOWED_HOSTS", "*").split(",") if h]
CSRF_TRUSTED_ORIGINS = [
    o for o in os.environ.get("QUALITYCITY_CSRF_TRUSTED_ORIGINS", "").split(",") if o
]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "django_tasks",
    "django_tasks_db",
    "qualitycity.core",
    "qualitycity.subjects",
    "qualitycity.records",
    "qualitycity.credit",
    "qualitycity.lists",
    "qualitycity.discipline",
    "qualitycity.supervision",
    "qualitycity.plan",
    "qualitycity.portal",
    "qualitycity.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "qualitycity.core.middleware.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "qualitycity.core.middleware.DefaultLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "qualitycity.core.middleware.ChangeContextMiddleware",
]

ROOT_URLCONF = "qualitycity.urls"
WSGI_APPLICATION = "qualitycity.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "qualitycity.core.context_processors.navigation",
            ],
        },
    },
]

# --- database -------------------------------------------------------------------------------
SQLITE_PATH = HOME / "qualitycity.sqlite3"
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{SQLITE_PATH}", conn_max_age=60
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Connections persist across requests (each server thread keeps its own): opening one costs
    # more than most API requests (docs/benchmarks.md, check-before-act API).
    DATABASES["default"]["CONN_MAX_AGE"] = 600
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets the web server read while an ingestion job writes.
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;"
            " PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY;"
        ),
        "transaction_mode": "IMMEDIATE",
    }
    # Tests use a file, not memory: the analytics engines read the database through their own
    # connections (an in-memory database is private to one connection). One file per test
    # process, so concurrent test runs never share it; Django deletes it at the end.
    DATABASES["default"]["TEST"] = {
        "NAME": str(HOME / "tmp" / f"test_qualitycity_{os.getpid()}.sqlite3")
    }
else:
    DATABASES["default"]["TEST"] = {
        "NAME": os.environ.get("QUALITYCITY_TEST_DB", "test_qualitycity")
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "core.User"
LOGIN_URL = "core:login"
LOGIN_REDIRECT_URL = "core:dashboard"
LOGOUT_REDIRECT_URL = "portal:home"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

# --- i18n -----------------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
USE_I18N = True
TIME_ZONE = "Asia/Shanghai"
USE_TZ = True
# Translations are compiled from the package's .po files into HOME at start-up
# (qualitycity.core.i18n); the compiled .mo files are never committed.
LOCALE_SOURCE = PACKAGE_DIR / "locale"
LOCALE_PATHS = [HOME / "locale"]

# --- files ----------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = HOME / "static"
STATIC_ROOT.mkdir(exist_ok=True)
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
FILES_ROOT = HOME / "files"
DATA_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- jobs -----------------------------------------------------------------------------------
# Jobs are stored in the operational database; `qualitycity serve` starts a worker beside the
# web server (embedded default), production runs `qualitycity worker` as its own process.
# Daily jobs (core/schedule.py) start from this local time, once a day, in the job worker.
QUALITYCITY_DAILY_AT = os.environ.get("QUALITYCITY_DAILY_AT", "01:00")
TASKS = {
    "default": {
        "BACKEND": os.environ.get("QUALITYCITY_TASK_BACKEND", "django_tasks_db.DatabaseBackend"),
    }
}

# --- API ------------------------------------------------------------------------------------
NINJA_PAGINATION_PER_PAGE = 50
QUALITYCITY_PUBLIC_RATE = os.environ.get("QUALITYCITY_PUBLIC_RATE", "60/m")
QUALITYCITY_DEFAULT_CLIENT_RATE = os.environ.get("QUALITYCITY_DEFAULT_CLIENT_RATE", "600/m")
# How long a server process may reuse an API client it read (revocations made elsewhere take
# effect within this time; in the same process at once).
QUALITYCITY_API_CLIENT_CACHE_SECONDS = float(
    os.environ.get("QUALITYCITY_API_CLIENT_CACHE_SECONDS", "5")
)

SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"personal_data": {"()": "qualitycity.core.logging.PersonalDataFilter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["personal_data"]},
    },
    "root": {"handlers": ["console"], "level": os.environ.get("QUALITYCITY_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# Rate-limit counters (``core/ratelimit.py``) are shared by all server processes: a SQLite file
# of their own under HOME on one machine; set QUALITYCITY_REDIS_URL when several app servers
# share the load (the counters and the cache then live in Redis).
QUALITYCITY_REDIS_URL = os.environ.get("QUALITYCITY_REDIS_URL", "")
QUALITYCITY_RATE_COUNTER_PATH = HOME / "ratelimit.sqlite3"
if QUALITYCITY_REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": QUALITYCITY_REDIS_URL,
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(HOME / "cache"),
        }
    }
