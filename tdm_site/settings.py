"""eTDM settings, read from the environment (docs/configuration.md).

With no environment variable set this is the embedded installation of `make run`: debug on,
SQLite, kombu's filesystem broker and e-mail written to files, all under `var/`. Production sets
`DJANGO_DEBUG=false`, which switches the secure defaults on and makes the secret key mandatory.
"""

import datetime
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

VAR_DIR = Path(env.str("TDM_VAR_DIR", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DJANGO_DEBUG", default=True)

if DEBUG:
    SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="embedded-installation-not-for-production")
else:
    # No default on purpose: a production process without its secret must not start.
    SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
    if not SECRET_KEY:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY is required when DJANGO_DEBUG is false")

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])

TIME_ZONE = env.str("TDM_TIME_ZONE", default="Europe/Amsterdam")
USE_TZ = True
LANGUAGE_CODE = "en"
USE_I18N = True

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "axes",
    "csp",
    "cases",
    "advice",
    "reports",
    "notifications",
    "study",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "tdm_site.middleware.RefuseNulCharactersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "tdm_site.middleware.SessionLifetimeMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last: turns a sign-in refused for an account locked out into the 429 answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "tdm_site.urls"
WSGI_APPLICATION = "tdm_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'etdm.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one SQLite file: WAL lets readers run beside the writer, and
    # IMMEDIATE transactions take the write lock up front instead of failing half-way.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DJANGO_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The lockout backend first, so a locked-out account is refused before its password is checked;
# then Django's model backend, reading the role's permissions in the query that reads the user's
# roles and sites (cases/access.py).
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "cases.access.RoleModelBackend"]

# Sign-in lockout (docs/access.md): 5 failed logins of an account within the cool-off period
# lock it, on the login page and the token endpoint alike, until the period has passed since
# the last failure or an administrator resets it (`manage.py axes_reset_username`).
AXES_FAILURE_LIMIT = env.int("TDM_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = datetime.timedelta(minutes=env.int("TDM_LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "tdm_site.lockout.locked_out"
AXES_VERBOSE = False
# Per account, not per address: behind a hospital's proxy or NAT a whole ward shares one
# address, and locking it would lock them all out after one person's mistakes.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]

# An API token lasts this long from its issue (docs/access.md).
API_TOKEN_LIFETIME = datetime.timedelta(hours=env.int("TDM_API_TOKEN_HOURS", default=8))
# A page session ends after this long without a request, and at the latest this long after the
# login (tdm_site.middleware.SessionLifetimeMiddleware).
SESSION_COOKIE_AGE = 60 * env.int("TDM_SESSION_IDLE_MINUTES", default=30)
SESSION_MAX_LIFETIME = datetime.timedelta(hours=env.int("TDM_SESSION_MAX_HOURS", default=12))

# Content-Security-Policy on every response (docs/access.md): scripts, styles, images, embedded
# documents and requests from eTDM itself only. Inline style attributes stay allowed for the
# plots, inline SVG that matplotlib styles with them (a style attribute cannot run code), and so
# does the one style element matplotlib puts in every SVG, by its hash.
MATPLOTLIB_SVG_STYLE = "'sha256-2Iqu4MW0P4n79bqVmTDfLWhO8TS7MxwRJn7HVNDr7EQ='"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "style-src-elem": ["'self'", MATPLOTLIB_SVG_STYLE],
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        # The advice page embeds its PDF report.
        "object-src": ["'self'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        # Never framed; the PDF report alone by eTDM's own pages (reports.views).
        "frame-ancestors": ["'none'"],
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "/media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

EMAIL_URL = env.str("EMAIL_URL", default="")
if EMAIL_URL:
    vars().update(env.email_url_config(EMAIL_URL))
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = VAR_DIR / "mail"
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="eTDM <etdm@localhost>")
# Key (32 bytes or more) for exports that leave the study: study numbers re-pseudonymised
# with HMAC-SHA256 and every date of a patient shifted by one keyed offset.
TDM_EXPORT_KEY_FILE = env.str("TDM_EXPORT_KEY_FILE", default="")
# Links in e-mails point here.
TDM_BASE_URL = env.str("TDM_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")

# Celery: JSON messages, tasks acknowledged after they ran (each task is idempotent), one beat
# process scheduling in UTC (django-celery-beat has daylight-saving bugs in local time).
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = 5
# The hour (UTC) of the daily reminder scan; the schedule itself is tdm_site/periodic.py.
TDM_REMINDER_HOUR_UTC = env.int("TDM_REMINDER_HOUR_UTC", default=6)

REST_FRAMEWORK = {
    # The token first: a request with neither answers 401 with `WWW-Authenticate: Token`.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tdm_site.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "cases.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "COERCE_DECIMAL_TO_STRING": False,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "cases.api.errors.exception_handler",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "eTDM API",
    "DESCRIPTION": "Therapeutic drug monitoring of oral kinase inhibitors: patients, treatments, "
    "samples, adverse events, dosing advice and sign-off.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # The schema maps every endpoint and field: not for whoever reaches the server.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
}

# Tests that need PostgreSQL or Redis fail instead of skipping when this is set (CI).
TDM_REQUIRE_SERVICES = env.bool("TDM_REQUIRE_SERVICES", default=False)

if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# Behind a TLS-terminating reverse proxy (docs/configuration.md): trust its X-Forwarded-Proto,
# so that requests it forwarded over HTTPS count as secure (no redirect loop, HSTS sent), and
# accept browser POSTs from the public origin it serves.
if env.bool("DJANGO_TRUSTED_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = env.bool("DJANGO_USE_X_FORWARDED_HOST", default=False)
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
    # PDF rendering narrates every step at INFO, the sign-in lockout every attempt (the audit
    # trail has them); keep their warnings only (a lockout is one).
    "loggers": {name: {"level": "WARNING"} for name in ("weasyprint", "fontTools", "axes")},
}

BROKER_FOLDERS = ("queue", "processed", "control")
for folder in (VAR_DIR, MEDIA_ROOT, STATIC_ROOT, *(BROKER_DIR / name for name in BROKER_FOLDERS)):
    folder.mkdir(parents=True, exist_ok=True)
