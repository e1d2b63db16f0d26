"""Settings for cuishou, read from environment variables with safe defaults.

- ``DATABASE_URL``: ``postgres://user@host:5432/name``; default an SQLite file under ``var/``.
- ``CUISHOU_SECRET_KEY``: required when ``CUISHOU_DEBUG`` is off.
- ``CUISHOU_DEBUG``: ``1`` (default) for development, ``0`` in production.
- ``CUISHOU_ALLOWED_HOSTS``: comma-separated host names.
- ``CUISHOU_VAR_DIR``: where the SQLite file and uploaded files live (default ``./var``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent
VAR_DIR = Path(os.environ.get("CUISHOU_VAR_DIR", Path.cwd() / "var")).resolve()


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = _env_bool("CUISHOU_DEBUG", True)
SECRET_KEY = os.environ.get("CUISHOU_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise RuntimeError("CUISHOU_SECRET_KEY must be set when CUISHOU_DEBUG=0")
    SECRET_KEY = "cuishou-development-key-not-for-production"

ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("CUISHOU_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")
    if h.strip()
]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("CUISHOU_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "ninja",  # serves Swagger UI from /static/ninja/, not a CDN
    "django_filters",
    "django_htmx",
    "axes",
    "cuishou.core",
    "cuishou.accounts",
    "cuishou.audit",
    "cuishou.portfolio",
    "cuishou.cases",
    "cuishou.engine",
    "cuishou.payments",
    "cuishou.compliance",
    "cuishou.notices",
    "cuishou.visits",
    "cuishou.web",
    "cuishou.api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # AxesMiddleware last: it turns a lock-out into its response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "cuishou.urls"
WSGI_APPLICATION = "cuishou.wsgi.application"
ASGI_APPLICATION = "cuishou.asgi.application"

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
            ],
        },
    },
]

VAR_DIR.mkdir(parents=True, exist_ok=True)
_default_db = f"sqlite:///{VAR_DIR / 'cuishou.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", _default_db), conn_max_age=60, conn_health_checks=True
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # WAL and a busy timeout let several workers share the file; IMMEDIATE avoids
        # deadlocking upgrades from read to write locks.
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
            " PRAGMA temp_store=MEMORY;"
        ),
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
else:
    # Several test runs on one server (e.g. parallel sessions) each need their own name.
    DATABASES["default"]["TEST"] = {
        "NAME": os.environ.get("CUISHOU_TEST_DB_NAME", f"test_{DATABASES['default']['NAME']}")
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "web:case-list"
LOGOUT_REDIRECT_URL = "login"

# Login throttling (django-axes): lock a username+IP after repeated failures.
AXES_FAILURE_LIMIT = int(os.environ.get("CUISHOU_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = float(os.environ.get("CUISHOU_LOGIN_COOLOFF_HOURS", "0.25"))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "Asia/Shanghai"
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG

# Background work: Django's Tasks API (django.tasks). CUISHOU_TASKS picks the backend:
#   db        django-tasks-db, the embedded default: tasks are rows in this database, run by
#             `cuishou db_worker --queue-name QUEUE`;
#   rq        RQ over Redis (django-tasks-rq) for work spread over machines, run by
#             `cuishou rqworker --job-class django_tasks_rq.Job QUEUE`;
#   immediate in the calling process (the default under pytest).
# Every task goes to CUISHOU_TASKS_QUEUE (tests give each run its own); RQ jobs may run for
# CUISHOU_TASKS_TIMEOUT seconds (a shard of a national portfolio is not a 3-minute job).
_UNDER_PYTEST = "pytest" in sys.modules
CUISHOU_TASKS = os.environ.get("CUISHOU_TASKS") or ("immediate" if _UNDER_PYTEST else "db")
CUISHOU_TASKS_QUEUE = os.environ.get("CUISHOU_TASKS_QUEUE", "default")
CUISHOU_TASKS_TIMEOUT = int(os.environ.get("CUISHOU_TASKS_TIMEOUT", "21600"))
CUISHOU_REDIS_URL = os.environ.get("CUISHOU_REDIS_URL", "redis://127.0.0.1:6379/0")
_TASK_BACKENDS = {
    "immediate": "django.tasks.backends.immediate.ImmediateBackend",
    "db": "django_tasks_db.DatabaseBackend",
    "rq": "django_tasks_rq.RQBackend",
}
if CUISHOU_TASKS not in _TASK_BACKENDS:
    raise RuntimeError(f"CUISHOU_TASKS must be one of {', '.join(_TASK_BACKENDS)}")
TASKS = {"default": {"BACKEND": _TASK_BACKENDS[CUISHOU_TASKS], "QUEUES": [CUISHOU_TASKS_QUEUE]}}
INSTALLED_APPS += ["django_tasks_db"]  # its table exists whichever backend runs
if CUISHOU_TASKS == "rq":
    INSTALLED_APPS += ["django_rq", "django_tasks_rq"]
# django-rq looks up its connection under "default" whatever the queue's name.
RQ_QUEUES = {
    name: {"URL": CUISHOU_REDIS_URL, "DEFAULT_TIMEOUT": CUISHOU_TASKS_TIMEOUT}
    for name in {"default", CUISHOU_TASKS_QUEUE}
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("CUISHOU_LOG_LEVEL", "WARNING")},
    # Each task would log two INFO lines; keep cron output to what matters.
    "loggers": {"django.tasks": {"level": "WARNING"}},
}

# Product settings
# The nightly run's SQLite page cache, in MiB, for its connection only and only while it
# runs (freed afterwards): a run reads the installments more than once, and a page cache
# that holds them spares it re-reading them through the operating system. PostgreSQL has
# its own shared buffers.
CUISHOU_BATCH_SQLITE_CACHE_MB = int(os.environ.get("CUISHOU_BATCH_SQLITE_CACHE_MB", "1024"))
# How much of the SQLite file a bank statement's import may read through a memory map
# (MiB; 0: none), while it runs: it reads a million loans and then the pages of tens of
# thousands of them at random, which a map serves without copying each page into the
# page cache. SQLite caps it at its compiled limit (2 GiB in Debian's build).
CUISHOU_STATEMENT_SQLITE_MMAP_MB = int(os.environ.get("CUISHOU_STATEMENT_SQLITE_MMAP_MB", "2048"))

CUISHOU_DEFAULT_CLIENT_TIMEZONE = "Asia/Shanghai"

# Days after a repayment plan installment's date before it breaks the plan (fixed on each
# plan when it is agreed; docs/payments.md).
CUISHOU_PLAN_GRACE_DAYS = int(os.environ.get("CUISHOU_PLAN_GRACE_DAYS", "3"))

# Written collection (cuishou.notices; docs/notices.md).
# The address the QR code of a document points to (its verification page).
CUISHOU_PUBLIC_URL = os.environ.get("CUISHOU_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
# The office block of a client without a notice profile (ClientNoticeProfile).
CUISHOU_NOTICE_OFFICE = {
    "name": os.environ.get("CUISHOU_OFFICE_NAME", "cuishou"),
    "address": os.environ.get("CUISHOU_OFFICE_ADDRESS", ""),
    "phone": os.environ.get("CUISHOU_OFFICE_PHONE", ""),
    "email": os.environ.get("CUISHOU_OFFICE_EMAIL", ""),
    "hours": os.environ.get("CUISHOU_OFFICE_HOURS", "09:00-18:00"),
    "how_to_pay": os.environ.get("CUISHOU_HOW_TO_PAY", ""),
    "how_to_dispute": os.environ.get("CUISHOU_HOW_TO_DISPUTE", ""),
    "deadline_days": 14,
    "dispute_days": 35,
}
# E-mail goes out over SMTP through Django's mailers (the "default" one).
MAILERS = {
    "default": {
        "BACKEND": os.environ.get(
            "CUISHOU_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend"
        ),
        "OPTIONS": {
            "host": os.environ.get("CUISHOU_EMAIL_HOST", "127.0.0.1"),
            "port": int(os.environ.get("CUISHOU_EMAIL_PORT", "25")),
            "username": os.environ.get("CUISHOU_EMAIL_USER", ""),
            "password": os.environ.get("CUISHOU_EMAIL_PASSWORD", ""),
            "use_tls": _env_bool("CUISHOU_EMAIL_TLS", False),
            "timeout": int(os.environ.get("CUISHOU_EMAIL_TIMEOUT", "20")),
        },
    }
}
DEFAULT_FROM_EMAIL = os.environ.get("CUISHOU_EMAIL_FROM", "notices@cuishou.localhost")
# SMS: "outbox" (kept in the database, for the demo) or "http" (the HTTP provider: POST to
# CUISHOU_SMS_URL, signed with HMAC-SHA256 of CUISHOU_SMS_SECRET).
CUISHOU_SMS_BACKEND = os.environ.get("CUISHOU_SMS_BACKEND", "outbox")
CUISHOU_SMS_URL = os.environ.get("CUISHOU_SMS_URL", "")
CUISHOU_SMS_SECRET = os.environ.get("CUISHOU_SMS_SECRET", "")
CUISHOU_SMS_TIMEOUT = float(os.environ.get("CUISHOU_SMS_TIMEOUT", "10"))
# A send that fails for a passing reason (a provider's 5xx, a refused connection) is tried
# again this many times, waiting BACKOFF seconds, then twice that, and so on.
CUISHOU_SEND_RETRIES = int(os.environ.get("CUISHOU_SEND_RETRIES", "3"))
CUISHOU_SEND_BACKOFF = float(os.environ.get("CUISHOU_SEND_BACKOFF", "1.0"))
