"""Settings for the KSeF portal.

Every value comes from the environment (or `.env`), read here and nowhere else. Malformed
values fail loudly at start-up; there are no production-only branches: the embedded defaults
(SQLite, a server-less Celery broker, e-mail to files, the built-in KSeF simulator) and the
production services differ only by environment variables. `.env.example` lists them all.
"""

from __future__ import annotations

from datetime import timedelta
from email.utils import parseaddr
from pathlib import Path

import django_stubs_ext
import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

# Generic Django classes (ModelAdmin[Office], ModelChoiceField[User]) for the type checker.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}


def env_flag(name: str, default: bool) -> bool:
    """A strict boolean: django-environ reads any unknown word as False, we refuse it."""
    raw = env.str(name, default=str(default)).strip().lower()
    if raw not in _TRUE | _FALSE:
        raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}.")
    return raw in _TRUE


def env_count(name: str, default: int, *, minimum: int) -> int:
    """An integer setting with a floor: 0 failed logins or -5 minutes stop the start-up."""
    value = env.int(name, default=default)
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}.")
    return value


DEBUG = env_flag("DEBUG", default=False)
# A fixed development key is acceptable only when DEBUG is on; otherwise it must be given.
SECRET_KEY = env.str("SECRET_KEY", default="dev-only-insecure-secret-key" if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set (or DEBUG=true for local development).")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "django_celery_beat",
    "django_cryptography",
    "axes",
    "csp",
    "portal",
    "clients",
    "certificates",
    "grants",
    "invoices",
    "demo",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "portal.middleware.NoStoreMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "portal.middleware.ChosenLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "portal.middleware.SessionIdleMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns a refused login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.membership",
            ],
        },
    }
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'portal.sqlite3'}")
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the Celery worker processes write to one SQLite file. A deferred
    # transaction that turns into a write fails at once with "database is locked" (SQLite
    # cannot wait there, whatever the timeout); IMMEDIATE takes the write lock at BEGIN,
    # where the busy timeout waits, and WAL lets readers go on while one process writes.
    # https://docs.djangoproject.com/en/5.2/ref/databases/#sqlite-transaction-behavior
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"}
    )

# The cache holds rate-limit counters (public upload links): per process by default, shared
# by every web process in production (CACHE_URL=redis://127.0.0.1:6379/1).
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}
# How many reverse proxies in front of the portal append to X-Forwarded-For. 0 trusts only
# the socket address (REMOTE_ADDR); behind one proxy set 1, or every client shares its IP.
TRUSTED_PROXY_COUNT = env_count("TRUSTED_PROXY_COUNT", default=0, minimum=0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Login throttling (django-axes): failures are counted per account and, separately, per IP
# address in the cache above (shared by every web process when CACHE_URL points at Redis),
# so a lockout holds whichever worker answers the next try. A correct password during the
# lockout is refused too; an office admin (staff list) or `manage.py axes_reset_username`
# lifts it early.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "portal.throttling.AxesSharedCacheHandler"
AXES_FAILURE_LIMIT = env_count("LOGIN_FAILURE_LIMIT", default=10, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_count("LOGIN_LOCKOUT_MINUTES", default=15, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_LOCKOUT_CALLABLE = "portal.throttling.lockout_response"
AXES_CLIENT_IP_CALLABLE = "portal.ratelimit.client_ip"
AXES_RESET_ON_SUCCESS = True
# The cache handler keeps no rows, so axes' admin pages would always be empty.
AXES_ENABLE_ADMIN = False
# Password-reset e-mails: at most this many per address and per IP address an hour.
PASSWORD_RESET_EMAILS_PER_HOUR = env_count("PASSWORD_RESET_EMAILS_PER_HOUR", default=5, minimum=1)

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# Polish by default, English available; dates in Europe/Warsaw.
LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="pl")
LANGUAGES = [("pl", _("Polski")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Warsaw"
USE_I18N = True
USE_TZ = True
USE_THOUSAND_SEPARATOR = True
FORMAT_MODULE_PATH = ["portal.formats"]

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "var" / "static")
STATICFILES_DIRS = [BASE_DIR / "static"]

# Secrets at rest: django-cryptography derives its key from CRYPTOGRAPHY_KEY (kept apart from
# SECRET_KEY so that rotating one does not silently change the other).
CRYPTOGRAPHY_KEY = env.str("CRYPTOGRAPHY_KEY", default=SECRET_KEY)
CRYPTOGRAPHY_SALT = env.str("CRYPTOGRAPHY_SALT", default="ksef-portal")

# E-mail: files on a laptop, SMTP in production (EMAIL_URL=smtp://user:pass@host:587?tls=True).
# filemail://PATH writes one file per message under PATH (relative to the project folder).
_email_url = env.str("EMAIL_URL", default="filemail://var/mail")
if _email_url.startswith("filemail://"):
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(BASE_DIR / (_email_url.removeprefix("filemail://") or "var/mail"))
else:
    vars().update(env.email_url_config(_email_url))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="KSeF Portal <portal@localhost>")
PORTAL_BASE_URL = env.str("PORTAL_BASE_URL", default="http://127.0.0.1:8000")

# Bulk invoice exports (ZIP, registers) prepared in the background: files are written under
# EXPORTS_ROOT, served only through the portal to the member who asked, and removed with
# their job EXPORTS_KEEP_DAYS after they were made.
EXPORTS_ROOT = env.path("EXPORTS_ROOT", default=BASE_DIR / "var" / "exports")
EXPORTS_KEEP_DAYS = env.int("EXPORTS_KEEP_DAYS", default=7)
if EXPORTS_KEEP_DAYS < 1:
    raise ImproperlyConfigured("EXPORTS_KEEP_DAYS must be at least 1.")

# Celery: a broker that needs no server by default (files under var/), Redis in production.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=None)
if CELERY_BROKER_URL == "filesystem://":
    _queue = BASE_DIR / "var" / "celery"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue),
        "data_folder_out": str(_queue),
        "processed_folder": str(_queue / "processed"),
        "control_folder": str(_queue / "control"),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = env_flag("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# The KSeF rate-limit counters every Celery worker spends from (invoices/sync/limiter.py):
# an SQLite file shared by the processes of one machine by default, Redis shared by every
# machine in production (KSEF_RATE_LIMIT_URL=redis://127.0.0.1:6379/2). Checked when the
# invoices app starts, so a malformed URL stops every process at once.
KSEF_RATE_LIMIT_URL = env.str(
    "KSEF_RATE_LIMIT_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'ksef_rate_limits.sqlite3'}"
)

# KSeF: the built-in simulator by default; "test", "demo", "production" or any base URL.
KSEF_ENVIRONMENT = env.str("KSEF_ENVIRONMENT", default="simulator")
KSEF_BASE_URL = env.str("KSEF_BASE_URL", default="http://127.0.0.1:8765/v2")
# Batch sessions (invoices/sending/batch.py): plain bytes per package part and invoices per
# session, KSeF's maxima by default (100 MB, 10,000); larger values are capped to them.
KSEF_BATCH_PART_BYTES = env_count("KSEF_BATCH_PART_BYTES", default=100_000_000, minimum=1_000)
KSEF_BATCH_MAX_INVOICES = env_count("KSEF_BATCH_MAX_INVOICES", default=10_000, minimum=1)

# Error reports: who gets the e-mail about a server error, "Name <address>" or an address,
# comma-separated. Empty: nobody (the error is still logged).
ADMINS = []
for _entry in env.list("ADMINS", default=[]):
    _name, _address = parseaddr(_entry)
    if "@" not in _address:
        raise ImproperlyConfigured(f"ADMINS: {_entry!r} is not an e-mail address.")
    ADMINS.append((_name or _address, _address))
SERVER_EMAIL = env.str("SERVER_EMAIL", default="") or DEFAULT_FROM_EMAIL
# Error pages and e-mails hide passwords, tokens and key files even with DEBUG on (Django's
# own filter steps aside in DEBUG), and every log handler drops them from its records.
DEFAULT_EXCEPTION_REPORTER = "portal.errorreports.SecretSafeExceptionReporter"
DEFAULT_EXCEPTION_REPORTER_FILTER = "portal.errorreports.SecretSafeExceptionReporterFilter"

# Every handler carries the redacting filter: Django's own loggers are re-pointed at these
# handlers, because handlers from Django's default configuration would bypass it.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact_secrets": {"()": "portal.errorreports.RedactSecretsFilter"},
        "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_secrets"],
        },
        "django.server": {
            "class": "logging.StreamHandler",
            "formatter": "django.server",
            "filters": ["redact_secrets"],
        },
        "mail_admins": {
            "class": "django.utils.log.AdminEmailHandler",
            "filters": ["require_debug_false", "redact_secrets"],
        },
    },
    "loggers": {
        "django": {"handlers": ["mail_admins"], "level": "INFO"},
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# --- Transport security (all off by default for http://127.0.0.1; see README, Production) --
SECURE_SSL_REDIRECT = env_flag("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env_count("SECURE_HSTS_SECONDS", default=0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_flag("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env_flag("SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = env_flag("SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE = env_flag("CSRF_COOKIE_SECURE", default=False)
# X-Forwarded-Proto is a header anyone can send: believe it only when a proxy of ours sits in
# front (and overwrites it); otherwise a plain-http request could pass for https.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if TRUSTED_PROXY_COUNT > 0 else None

# Sessions end when the browser closes, and after SESSION_IDLE_MINUTES without a request
# (requests move the expiry on, at most once a minute: portal.middleware.SessionIdleMiddleware,
# so only idleness ends a working session).
SESSION_EXPIRE_AT_BROWSER_CLOSE = env_flag("SESSION_EXPIRE_AT_BROWSER_CLOSE", default=True)
SESSION_IDLE_MINUTES = env_count("SESSION_IDLE_MINUTES", default=30, minimum=1)
SESSION_COOKIE_AGE = SESSION_IDLE_MINUTES * 60

# Content-Security-Policy (django-csp): scripts and styles only from our own static files
# (htmx is vendored by django-htmx), no inline script, no framing.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# Pages that show credential data are never kept by the browser or a proxy cache: these URL
# namespaces answer with Cache-Control: no-store (portal.middleware.NoStoreMiddleware).
NO_STORE_URL_NAMESPACES = ["certificates", "expiry", "admin"]
