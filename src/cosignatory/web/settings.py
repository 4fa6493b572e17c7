"""Django settings for Cosignatory, read from the environment.

Everything a deployment changes is an environment variable (see docs/configuration.md):

* ``COSIGNATORY_DATA_DIR``: folder for the embedded database, keys and secrets
  (default ``./data``).
* ``COSIGNATORY_DATABASE_URL``: ``postgres://user:password@host:port/name`` for
  PostgreSQL, or ``sqlite:////absolute/path.sqlite3``; unset means SQLite in the data
  folder.
* ``COSIGNATORY_LOG_ORIGIN``: the log's origin line and key name.
* ``COSIGNATORY_SECRET_KEY``, ``COSIGNATORY_DEBUG``, ``COSIGNATORY_ALLOWED_HOSTS``.
* ``COSIGNATORY_EMAIL_HOST``, ``_PORT``, ``_USER``, ``_PASSWORD``, ``_TLS``, ``_FROM``:
  the SMTP server that email notices go through, and their sender.
* ``COSIGNATORY_WITNESSES``: the witnesses that cosign the log's checkpoints,
  ``URL|VKEY`` entries separated by semicolons (see docs/witness.md).
* ``COSIGNATORY_API_WRITES_PER_MINUTE``: the JSON API's writes per client per minute
  (docs/api.md).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

from cosignatory.core import limits

DATA_DIR = Path(os.environ.get("COSIGNATORY_DATA_DIR", "data")).resolve()


def _secret_key() -> str:
    if key := os.environ.get("COSIGNATORY_SECRET_KEY"):
        return key
    # A key of our own, made once per data folder and kept there (never in the repo).
    path = DATA_DIR / "secret_key"
    if not path.exists():
        import secrets

        DATA_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


def database_from_url(url: str | None) -> dict[str, Any]:
    """Return a Django DATABASES entry for ``url``; SQLite in the data folder if None."""
    if not url or url.startswith("sqlite:"):
        path = Path(url[len("sqlite://") :]) if url else DATA_DIR / "cosignatory.sqlite3"
        return {
            # Django's SQLite backend; its writers queue on a file lock (web/sqlite).
            "ENGINE": "cosignatory.web.sqlite",
            "NAME": str(path),
            "OPTIONS": {
                # BEGIN IMMEDIATE: a write transaction takes SQLite's write lock at once,
                # which makes the log's single writer hold from its first read.
                "transaction_mode": "IMMEDIATE",
                "timeout": 60,
                # WAL for readers beside the writer; FULL so a commit survives power loss.
                "init_command": "PRAGMA journal_mode=WAL;PRAGMA synchronous=FULL",
            },
            # A file, not memory: tests start servers and commands in other processes.
            # One per test run (process id), so runs side by side never share it.
            "TEST": {"NAME": str(path.with_name(f"test-{os.getpid()}-{path.name}"))},
            # Keep a thread's connection between requests, as for PostgreSQL: opening
            # one (and setting its pragmas) cost more than a small request's queries.
            "CONN_MAX_AGE": 60,
        }
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ImproperlyConfigured(f"COSIGNATORY_DATABASE_URL: unsupported scheme {parts.scheme!r}")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        "CONN_MAX_AGE": 60,
    }


SECRET_KEY = _secret_key()
DEBUG = os.environ.get("COSIGNATORY_DEBUG", "") == "1"
ALLOWED_HOSTS = os.environ.get("COSIGNATORY_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",")

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.syndication",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "csp",
    "cosignatory.web.ui",
    "cosignatory.web.accounts",
    "cosignatory.web.log",
    "cosignatory.web.register",
    "cosignatory.web.notices",
    "cosignatory.web.api",
    "cosignatory.web.public",
    "cosignatory.web.desk",
    "cosignatory.web.signing",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "cosignatory.web.public.pagecache.PageCacheMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "cosignatory.web.csp.CSPMiddleware",  # django-csp's, the header built once
]

ROOT_URLCONF = "cosignatory.web.urls"
WSGI_APPLICATION = "cosignatory.web.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [Path(__file__).resolve().parent / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "cosignatory.web.ui.context.site",
            ],
        },
    },
]

DATABASES = {"default": database_from_url(os.environ.get("COSIGNATORY_DATABASE_URL"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# A cache every server process shares (the login lockout counts failed attempts in it),
# in the data folder: no extra service to run.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(DATA_DIR / "cache"),
    }
}

# The six UN languages; the interface's messages live in web/locale. The language a
# reader picks is kept in a cookie (django.views.i18n.set_language).
LANGUAGE_CODE = "en"
LANGUAGES = [
    ("ar", "العربية"),
    ("zh-hans", "中文"),
    ("en", "English"),
    ("fr", "Français"),
    ("ru", "Русский"),
    ("es", "Español"),
]
LOCALE_PATHS = [Path(__file__).resolve().parent / "locale"]
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Accounts: passwords hashed with Argon2; registrars must also pass a TOTP second factor.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:home"
LOGOUT_REDIRECT_URL = "home"
OTP_TOTP_ISSUER = "Cosignatory"
SESSION_COOKIE_AGE = 8 * 3600  # a working day; registrars sign in again after it
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True

# A strict Content Security Policy: no inline script or style, nothing from elsewhere.
# The browser signer's script and every stylesheet are files served from 'self'.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise serves from it; collectstatic fills it
# Whitenoise also serves the apps' static folders directly, so no collectstatic step
# is needed before `cosignatory serve`.
WHITENOISE_USE_FINDERS = True

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = not DEBUG and os.environ.get("COSIGNATORY_INSECURE_COOKIES") != "1"
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

COSIGNATORY_SITE_URL = os.environ.get("COSIGNATORY_SITE_URL", "http://127.0.0.1:8000").rstrip("/")
COSIGNATORY_REGISTRAR_EMAIL = os.environ.get("COSIGNATORY_REGISTRAR_EMAIL", "")
COSIGNATORY_LOG_ORIGIN = os.environ.get("COSIGNATORY_LOG_ORIGIN", "cosignatory.localhost/log")
COSIGNATORY_KEY_DIR = Path(os.environ.get("COSIGNATORY_KEY_DIR", str(DATA_DIR / "keys")))


def witnesses_from_env(value: str) -> list[tuple[str, str]]:
    """Parse ``URL|VKEY;URL|VKEY...`` into (submission URL, witness vkey) pairs.

    The vkeys are parsed where they are used (cosignatory.web.log.witnesses).
    """
    found = []
    for entry in filter(None, (part.strip() for part in value.split(";"))):
        url, sep, vkey = entry.partition("|")
        if not sep or not url.strip() or not vkey.strip():
            raise ImproperlyConfigured(f"COSIGNATORY_WITNESSES: {entry!r} is not URL|VKEY")
        found.append((url.strip(), vkey.strip()))
    return found


# The witnesses each new checkpoint is submitted to (C2SP tlog-witness).
COSIGNATORY_WITNESSES = witnesses_from_env(os.environ.get("COSIGNATORY_WITNESSES", ""))

# The JSON API (docs/api.md): writes a client may make per minute, per process (0: no
# limit), and the largest request body it accepts.
COSIGNATORY_API_WRITES_PER_MINUTE = int(os.environ.get("COSIGNATORY_API_WRITES_PER_MINUTE", "60"))
COSIGNATORY_API_MAX_BODY_BYTES = limits.API_BODY_BYTES

# Group commit (cosignatory.web.register.sequencer): self-signed statements arriving at
# the same time are recorded in one transaction with one checkpoint. "0" records each
# statement in its own transaction (the benchmarks compare the two).
COSIGNATORY_GROUP_COMMIT = os.environ.get("COSIGNATORY_GROUP_COMMIT", "1") != "0"
# "1": with group commit, `cosignatory serve` records the statements of all its workers in
# one process of its own (cosignatory.web.register.hub): more signatures a second, but
# readers get less of the CPU (docs/performance.md). Default: each worker records its own.
COSIGNATORY_SEQUENCER_HUB = os.environ.get("COSIGNATORY_SEQUENCER_HUB", "0") == "1"

# Public letter pages and their API reads are kept whole for anonymous readers
# (cosignatory.web.public.pagecache): served as they are for this many seconds after
# being made or checked, then only while the log's head is unchanged. 0: always checked.
# COSIGNATORY_PAGE_CACHE=0 turns the cache off (the benchmarks compare the two).
COSIGNATORY_PAGE_CACHE = os.environ.get("COSIGNATORY_PAGE_CACHE", "1") != "0"
COSIGNATORY_PAGE_CACHE_SECONDS = float(os.environ.get("COSIGNATORY_PAGE_CACHE_SECONDS", "1"))

# What a request may carry before anything is judged (cosignatory.core.limits, listed in
# docs/reliability.md): a form's fields, their number, the files of one upload, and the
# size past which an upload waits on disk rather than in memory. Over them Django answers
# 400 and nothing is read further.
DATA_UPLOAD_MAX_MEMORY_SIZE = limits.FORM_BODY_BYTES
DATA_UPLOAD_MAX_NUMBER_FIELDS = limits.FORM_FIELDS_MAX
DATA_UPLOAD_MAX_NUMBER_FILES = limits.UPLOAD_FILES_MAX
FILE_UPLOAD_MAX_MEMORY_SIZE = limits.UPLOAD_MEMORY_BYTES

# Email notices (cosignatory.web.notices) go out through this SMTP server.
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = os.environ.get("COSIGNATORY_EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("COSIGNATORY_EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("COSIGNATORY_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("COSIGNATORY_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = os.environ.get("COSIGNATORY_EMAIL_TLS", "1") == "1"  # STARTTLS
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = os.environ.get("COSIGNATORY_EMAIL_FROM", "cosignatory@localhost")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("COSIGNATORY_LOG_LEVEL", "INFO")},
}
