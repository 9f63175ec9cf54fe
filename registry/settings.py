"""Settings for the PIGSF complication registry.

One module for every environment: everything that differs between a laptop
and production comes from environment variables (see ``.env.example``), read
through the strict helpers in ``registry.env``. With no variables at all the
registry runs embedded: SQLite, Celery tasks executed in-process, DEBUG on.
"""

from __future__ import annotations

import json
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from registry.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env_str(
    "SECRET_KEY", "insecure-dev-key-only-for-the-embedded-registry" if DEBUG else None
)
if not DEBUG and SECRET_KEY.startswith("insecure"):
    raise ImproperlyConfigured("Set SECRET_KEY for production (DEBUG=false).")
# Keyed hash for local hospital numbers (duplicate detection without storing them).
IDENTIFIER_HASH_KEY = env_str("IDENTIFIER_HASH_KEY", SECRET_KEY)
# Key of the exports' per-patient date shifts and operator pseudonyms (complications.exports.options);
# empty: derived from SECRET_KEY. Changing it changes every shift and pseudonym.
EXPORT_PSEUDONYM_SECRET = env_str("EXPORT_PSEUDONYM_SECRET", "")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000")

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
    "crispy_forms",
    "crispy_bootstrap5",
    "simple_history",
    "axes",
    "csp",
    "registry",
    "registry.accounts",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "mozilla_django_oidc",
    "complications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Before anything reads a body (CSRF reads forms): an oversized one is a 413 to JSON clients.
    "registry.api.parsers.BodySizeLimitMiddleware",
    # An exception escaping an API view: JSON 503 (+ Retry-After) for a dependency, else 500.
    "registry.api.errors.ApiErrorMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "registry.locale.ProfileLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # The friendly 404 page under DEBUG too (registry.errors); after auth and messages: the menu.
    "registry.errors.FriendlyNotFoundMiddleware",
    # Idle timeout and the second factor (registry.accounts.middleware).
    "registry.accounts.middleware.AccountSessionMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "registry.middleware.LoginRequiredMiddleware",
    # Last, as django-axes requires: it turns a lockout flagged in the view into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "registry.urls"
WSGI_APPLICATION = "registry.wsgi.application"
ASGI_APPLICATION = "registry.asgi.application"

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
                "django.template.context_processors.i18n",
            ],
        },
    },
]

# SQLite by default (embedded registry); PostgreSQL when DATABASE_URL is set.
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'var' / 'registry.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # The rates queries are short aggregates: PostgreSQL's JIT spent 0.4-10 s compiling
    # them at 1M fractures for no gain (docs/benchmarks.md).
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    (BASE_DIR / "var").mkdir(exist_ok=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTHENTICATION_BACKENDS = [
    # First, so a locked-out username+address is refused before any password is checked.
    "registry.audit.logins.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Login throttling (django-axes): 5 failures for one username from one address lock that
# pair out for 15 minutes, on the login page and on the API token endpoint alike; a
# success clears the count. The address is REMOTE_ADDR, or, behind TRUSTED_PROXY_COUNT
# reverse proxies (the TLS terminator), the one they appended to X-Forwarded-For: never an
# entry the client wrote, which would let an attacker pick a fresh "address" for every try.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
AXES_CLIENT_IP_CALLABLE = "registry.audit.logins.client_address"
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Attempts during a lock neither count nor extend it (the lock ends 15 minutes after the
# fifth failure), and the backend flags them, so DRF's token view gets the lockout answer.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_TEMPLATE = "registry/audit_lockout.html"
# Sign-ins through the identity provider are not password attempts (registry.accounts.oidc).
AXES_WHITELIST_CALLABLE = "registry.accounts.oidc.is_provider_callback"
AXES_VERBOSE = False  # no banner on every manage.py command
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("fr", "Français")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "Europe/Paris")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "var" / "static")))
if DEBUG:
    STATIC_ROOT.mkdir(
        parents=True, exist_ok=True
    )  # whitenoise wants it; collectstatic fills it in production
# Third-party front-end code (Bootstrap, Chart.js) is installed by npm at set-up
# and served by this server: hospital networks are often closed to CDNs.
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/bootstrap", BASE_DIR / "node_modules" / "bootstrap" / "dist"),
    ("vendor/chart.js", BASE_DIR / "node_modules" / "chart.js" / "dist"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "var" / "media")))

# The largest request body (form fields or JSON) read, in bytes: a larger one is refused
# (413 to the API and to pages' JSON requests). Django's default, 2.5 MB, is far above any
# record's size; raise it only if a client must send bigger bodies.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 2_621_440)
# Endpoints that take a file (multipart), with their own body limit: an import's workbook.
UPLOAD_MAX_SIZES = {"/api/v1/imports/": env_int("IMPORT_MAX_UPLOAD_SIZE", 200 * 1024 * 1024)}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Hashed, named tokens with expiry and scopes (registry.accounts.tokens).
        "registry.accounts.tokens.ScopedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "registry.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "registry.api.filters.ScopedOrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # DRF's defaults, with JSON read through the nesting bound (registry.api.parsers).
    "DEFAULT_PARSER_CLASSES": [
        "registry.api.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "registry.api.views.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "PIGSF complication registry API",
    "DESCRIPTION": "REST API v1: patients, procedures, fractures, follow-ups, "
    "CTCAE v5.0 graded complications, rates and exports.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # One name per choice set, whatever the field is called (type / fracture_type).
    "ENUM_NAME_OVERRIDES": {
        "FractureTypeEnum": "registry.models.FractureType",
        "GuidanceEnum": "registry.models.Guidance",
        # Names kept when the outcome analyses added choice sets under the same field names.
        "UnitEnum": "complications.stats.selection.UNITS",
        "SeverityEnum": "complications.api.serializers.SEVERITIES",
        "WindowEnum": "complications.models.Window",
        # The outcome analyses' choices (complications.analysis).
        "IncidenceUnitEnum": "complications.analysis.incidence.INCIDENCE_UNITS",
        "IncidenceWindowEnum": "complications.analysis.incidence.INCIDENCE_WINDOWS",
        "AnalysisSeverityEnum": "complications.analysis.incidence.SEVERITIES",
    },
}

# Celery: Redis when CELERY_BROKER_URL is set; otherwise tasks run in-process
# (eagerly) so the embedded registry needs no broker.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "memory://")
# Nothing in the registry reads a task's result (jobs report through their database rows),
# so no task stores one and publishing never touches a result backend: with a Redis
# backend configured, each ``.delay()`` would subscribe to its result channel first, and
# hold the request about 19 s (the backend's own retries) whenever Redis is down. A
# backend named here is only used by who asks for a result explicitly (the test worker).
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", "")
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", CELERY_BROKER_URL == "memory://")
CELERY_TASK_EAGER_PROPAGATES = True
# A message leaves the queue only once its task has finished (acks_late), so a worker that
# vanishes (killed, out of memory, machine gone) leaves it to be delivered again: by Redis
# after the visibility timeout below, at once when a prefork child dies under a live
# parent (reject_on_worker_lost). Every task is safe to run twice. Export jobs do not rely
# on either: their heartbeat and the sweep (EXPORT_* below) decide from the database, and a
# redelivered message finds its job running elsewhere, done, failed or re-queued.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Export jobs (complications.exports.jobs): a running job writes a heartbeat at least every
# EXPORT_HEARTBEAT_EVERY seconds; one silent for EXPORT_STALE_AFTER seconds lost its worker,
# and the sweep (every minute) re-queues it, up to EXPORT_MAX_ATTEMPTS attempts, then fails
# it. A queued job never sent (broker down) is sent EXPORT_REQUEUE_AFTER seconds after its
# creation; one sent but still queued after EXPORT_RESEND_AFTER (the visibility timeout
# below) is sent again.
EXPORT_HEARTBEAT_EVERY = env_int("EXPORT_HEARTBEAT_EVERY", 10)
EXPORT_STALE_AFTER = env_int("EXPORT_STALE_AFTER", 120)
EXPORT_MAX_ATTEMPTS = env_int("EXPORT_MAX_ATTEMPTS", 3)
EXPORT_REQUEUE_AFTER = env_int("EXPORT_REQUEUE_AFTER", 60)
EXPORT_RESEND_AFTER = 600
# A broker outage must not hang a web request: an export request publishes once, without
# retries (complications.exports.jobs._enqueue), and gives up after the connect timeout;
# other publishers retry a few times within about a second. A worker that starts before
# the broker keeps retrying until it is there.
# The visibility timeout (how long Redis waits for the acknowledgement of a delivered
# message before handing it to another worker) matches the jobs: longer than the longest
# retry countdown (300 s) so no waiting retry is delivered twice, and long enough
# (EXPORT_STALE_AFTER + the sweep's minute, with margin) that the database sweep has
# already re-queued a lost export when Redis redelivers its message (which then does
# nothing). Redis's default is one hour: a lost task of another kind waited that long.
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # A publisher (a web request) connects once: kombu's default retried every 2 s for 4 s,
    # which held each export request 6 s during an outage. A worker's own reconnection loop
    # (CELERY_BROKER_CONNECTION_RETRY*) is not bounded by it.
    "max_retries": 0,
    "socket_connect_timeout": 1,
    "socket_timeout": 5,
    "visibility_timeout": EXPORT_RESEND_AFTER,
}
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
# Keep Django's LOGGING (and its identifier mask) in the worker instead of Celery's own handlers.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    # Each morning, the follow-up worklist to the radiologists who opted in (their profile).
    "worklist-digest": {
        "task": "registry.tasks.send_worklist_digests",
        "schedule": crontab(hour=7, minute=0),
    },
    # Every hour, each department's complication CUSUMs against its quality targets.
    "quality-check": {
        "task": "complications.tasks.quality_check_all",
        "schedule": crontab(minute=20),
    },
    # Export jobs: re-queue or fail those whose worker vanished (stale heartbeat), send those
    # created while the broker was down, delete dead attempts' temporary files.
    "export-sweep": {
        "task": "complications.tasks.export_sweep",
        "schedule": crontab(minute="*"),
    },
    # The stored answers of idempotent writes (Idempotency-Key, form tokens) live a day.
    "idempotency-cleanup": {
        "task": "registry.tasks.idempotency_cleanup",
        "schedule": crontab(minute=40),
    },
}

CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": env_str("REDIS_URL")}
        if env_str("REDIS_URL", "")
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "registry@localhost")

# Production hardening: on whenever DEBUG is off (``manage.py check --deploy``).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600)
# Content security policy (django-csp): every script, style, font and image comes from this
# server (no CDN, no inline code), so an injected <script> or style attribute does nothing.
# drf-spectacular's Swagger UI page keeps one inline <style> block (its start-up script is
# served from this server by SpectacularSwaggerSplitView): allowed by its hash alone, which
# tests/registry/test_hardening.py recomputes from the page.
SWAGGER_UI_STYLE_HASH = "'sha256-MMpT0iDxyjALd9PdfepImGX3DBfJPXZ4IlDWdPAgtn0='"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", SWAGGER_UI_STYLE_HASH],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# Every record leaves through the console handler, whose filter masks registry ids, hospital
# numbers and birth dates (registry.logging). The loggers that print request lines with
# their query strings (runserver's django.server, gunicorn's access log) and Django's own
# loggers, which come with handlers of their own, are routed through it too.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"mask_identifiers": {"()": "registry.logging.MaskIdentifiers"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["mask_identifiers"]}},
    "loggers": {
        name: {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO"), "propagate": False}
        for name in ("django", "django.server", "gunicorn.access")
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

# HL7 FHIR exports (docs/fhir/README.md). The installation's name makes the resources'
# ids stable from one export to the next and distinct from another installation's; the
# synchronous Bundle holds at most this many entries (beyond: the Bulk Data $export).
FHIR_INSTALLATION = env_str("FHIR_INSTALLATION", "pigsf")
FHIR_BUNDLE_MAX_ENTRIES = env_int("FHIR_BUNDLE_MAX_ENTRIES", 50_000)

# --- Sign-in and accounts (registry.accounts; docs/deployment.md) ---------------------------------
# A session idle for longer than this many seconds ends (30 minutes by default).
SESSION_IDLE_TIMEOUT = env_int("SESSION_IDLE_TIMEOUT", 30 * 60)
# Invitations sent by department heads: how long the link stays valid.
INVITATION_DAYS = env_int("INVITATION_DAYS", 7)
# POST /api/v1/auth/token/ issues a token valid this many days (0: no expiry).
API_TOKEN_DEFAULT_DAYS = env_int("API_TOKEN_DEFAULT_DAYS", 365)
# Token scopes: these paths need "export" whatever the method; these POSTs only "read".
# (the FHIR Bulk Data export and the data freezes, which write the tables to files, too)
API_TOKEN_EXPORT_PATHS = [
    "/api/v1/export/",
    "/api/v1/exports/",
    "/api/v1/fhir/",
    "/api/v1/freezes/",
]
API_TOKEN_READ_ONLY_POSTS = ["/api/v1/grading/preview/"]
# Administrators and the roles that export data must pass a second factor (TOTP).
SECOND_FACTOR_REQUIRED = env_bool("SECOND_FACTOR_REQUIRED", True)
OTP_TOTP_ISSUER = env_str("OTP_TOTP_ISSUER", "PIGSF registry")

# OpenID Connect single sign-on (mozilla-django-oidc), off unless OIDC_ENABLED.
OIDC_ENABLED = env_bool("OIDC_ENABLED", False)
OIDC_RP_CLIENT_ID = env_str("OIDC_RP_CLIENT_ID", "")
OIDC_RP_CLIENT_SECRET = env_str("OIDC_RP_CLIENT_SECRET", "")
OIDC_OP_AUTHORIZATION_ENDPOINT = env_str("OIDC_OP_AUTHORIZATION_ENDPOINT", "")
OIDC_OP_TOKEN_ENDPOINT = env_str("OIDC_OP_TOKEN_ENDPOINT", "")
OIDC_OP_USER_ENDPOINT = env_str("OIDC_OP_USER_ENDPOINT", "")
OIDC_OP_JWKS_ENDPOINT = env_str("OIDC_OP_JWKS_ENDPOINT", "")
OIDC_OP_LOGOUT_ENDPOINT = env_str("OIDC_OP_LOGOUT_ENDPOINT", "")
OIDC_RP_SIGN_ALGO = env_str("OIDC_RP_SIGN_ALGO", "RS256")
OIDC_RP_SCOPES = env_str("OIDC_RP_SCOPES", "openid email profile")
OIDC_USE_PKCE = env_bool("OIDC_USE_PKCE", True)
OIDC_STORE_ID_TOKEN = True  # the id_token_hint of the provider's logout
OIDC_USERNAME_CLAIM = env_str("OIDC_USERNAME_CLAIM", "preferred_username")
OIDC_ROLES_CLAIM = env_str("OIDC_ROLES_CLAIM", "registry_roles")
OIDC_GROUPS_CLAIM = env_str("OIDC_GROUPS_CLAIM", "groups")
# {"provider group or app role": ["DEPARTMENT_CODE:role", ...]}, as JSON.
OIDC_ROLE_MAP: dict[str, list[str]] = json.loads(env_str("OIDC_ROLE_MAP", "{}"))
# A provider sign-in counts as the second factor (the provider enforces its own MFA).
OIDC_TRUSTED_FOR_SECOND_FACTOR = env_bool("OIDC_TRUSTED_FOR_SECOND_FACTOR", True)
LOGIN_REDIRECT_URL_FAILURE = "/accounts/sso/refused/"
OIDC_AUTHENTICATION_CALLBACK_URL = "oidc_authentication_callback"
if OIDC_ENABLED:
    missing = [
        name
        for name in (
            "OIDC_RP_CLIENT_ID",
            "OIDC_RP_CLIENT_SECRET",
            "OIDC_OP_AUTHORIZATION_ENDPOINT",
            "OIDC_OP_TOKEN_ENDPOINT",
            "OIDC_OP_USER_ENDPOINT",
            "OIDC_OP_JWKS_ENDPOINT",
        )
        if not globals()[name]
    ]
    if missing:
        raise ImproperlyConfigured(f"OIDC_ENABLED needs {', '.join(missing)}.")
    AUTHENTICATION_BACKENDS = [
        *AUTHENTICATION_BACKENDS,
        "registry.accounts.oidc.RegistryOIDCBackend",
    ]
