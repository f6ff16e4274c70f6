"""Django settings: every value comes from an environment variable with a working default."""

from pathlib import Path

import dj_database_url

from ydpipelines.env import env_bool, env_int, env_list, env_pair, env_str
from ydpipelines.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("YDP_DATA_DIR", str(BASE_DIR / "var")))
DATA_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = env_str("SECRET_KEY", "dev-only-insecure-key-change-me-in-production")
DEBUG = env_bool("DEBUG", True)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

# HTTPS: on by default once DEBUG is off (production), each overridable, e.g. SECURE_SSL_REDIRECT=0
# behind a proxy that redirects already. `manage.py check --deploy` passes with the defaults.
_HTTPS = not DEBUG
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", _HTTPS)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", _HTTPS)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", _HTTPS)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if _HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", _HTTPS)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", _HTTPS)
# "HTTP_X_FORWARDED_PROTO,https" behind a TLS-terminating proxy that sets that header (and
# strips it from clients); unset otherwise, since a client could then claim HTTPS.
SECURE_PROXY_SSL_HEADER = env_pair("SECURE_PROXY_SSL_HEADER")
# Probes call the pods over plain HTTP: a redirect to HTTPS would answer for them.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "django_filters",
    "template_partials",
    "ninja",  # the API docs page's Swagger UI, served from its static files (no CDN)
    "apps.projects",  # below every app that holds objects: see apps/projects/scope.py
    "apps.pipelines",
    "apps.experiments",
    "apps.runs",
    "apps.recurring",
    "apps.compare",
    "apps.experiment_archive",  # above experiments, runs and recurring: see its apps.py
    "apps.notifications",  # above runs and recurring: listens to runs' runs_finished signal
    "apps.orchestration",
    "apps.editor",
    "apps.api",
]

MIDDLEWARE = [
    "ydpipelines.middleware.ServerHeaderMiddleware",
    "ydpipelines.logs.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files: served by the app itself (compressed, cached forever by hashed name).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "ydpipelines.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
]

ROOT_URLCONF = "ydpipelines.urls"

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
                "apps.projects.context_processors.projects",
            ],
        },
    },
]

WSGI_APPLICATION = "ydpipelines.wsgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Web, worker and beat share one SQLite file in development: wait for locks, don't fail.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 30
    # A transaction takes the write lock when it begins: a read one that writes later cannot
    # fail at once with "database is locked" (SQLite does not wait to upgrade a read lock).
    DATABASES["default"]["OPTIONS"]["transaction_mode"] = "IMMEDIATE"
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # Tests start the web, worker and engine as processes: their database must be a file the
    # processes share, not SQLite's default in-memory test database.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test-db.sqlite3")}
elif DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # A database that does not answer fails fast (readiness probe, requests) instead of hanging.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
    # No parallel workers for the app's queries: its pages read a page through an index in
    # 1-3 ms, and a worker takes about 20 ms to start (a process). At 1M runs PostgreSQL chose
    # one for the runs list of one experiment (its estimate of the matching runs was low):
    # 27 ms for 1 ms of work (docs/scale.md). On a busy server a worker also takes a CPU from
    # another request. DATABASE_PARALLEL_WORKERS gives them back (e.g. for reports).
    _options = DATABASES["default"]["OPTIONS"]
    _options["options"] = (
        f"{_options.get('options', '')} -c max_parallel_workers_per_gather="
        f"{env_int('DATABASE_PARALLEL_WORKERS', 0)}"
    ).strip()

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
# Django's list unless set; the tests use a fast hasher and hand it to the app processes
# they start (tests/processes.py), which must then verify those users' passwords.
PASSWORD_HASHERS = env_list(
    "YDP_PASSWORD_HASHERS",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher,"
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher,"
    "django.contrib.auth.hashers.Argon2PasswordHasher,"
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher,"
    "django.contrib.auth.hashers.ScryptPasswordHasher",
)
# Failed logins lock the username and the client address for a while (ydpipelines.login_limits).
AUTHENTICATION_BACKENDS = ["ydpipelines.login_limits.RateLimitedModelBackend"]
YDP_LOGIN_MAX_FAILURES = env_int("YDP_LOGIN_MAX_FAILURES", 10)
YDP_LOGIN_WINDOW_SECONDS = env_int("YDP_LOGIN_WINDOW_SECONDS", 15 * 60)
YDP_LOGIN_LOCK_SECONDS = env_int("YDP_LOGIN_LOCK_SECONDS", 15 * 60)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# collectstatic writes here; the image sets it to a folder inside the image.
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(DATA_DIR / "staticfiles")))
# Hashed, compressed names need collectstatic's manifest: on in production, off under DEBUG and
# in tests, which render templates straight from the source folders.
_STATIC_MANIFEST = env_bool("YDP_STATIC_MANIFEST", not DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if _STATIC_MANIFEST
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Without the manifest, WhiteNoise serves straight from the finders (no collectstatic needed).
WHITENOISE_USE_FINDERS = not _STATIC_MANIFEST
if WHITENOISE_USE_FINDERS:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # else WhiteNoise warns that it is missing
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(DATA_DIR / "media")))

# Uploads: pipelines and their files are capped at 32 MiB.
YDP_MAX_UPLOAD_BYTES = env_int("YDP_MAX_UPLOAD_BYTES", 32 * 1024 * 1024)
# Upload by URL: the whole fetch, redirects included (apps.pipelines.url_fetch).
YDP_URL_UPLOAD_TIMEOUT_SECONDS = float(env_str("YDP_URL_UPLOAD_TIMEOUT_SECONDS", "20"))
DATA_UPLOAD_MAX_MEMORY_SIZE = 4 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 4 * 1024 * 1024
# The cap is enforced while the body arrives (apps.pipelines.uploads), before any spooling.
FILE_UPLOAD_HANDLERS = [
    "apps.pipelines.uploads.CappedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

# Argo: a real Argo Server when ARGO_SERVER is set, else the embedded engine.
ARGO_EMBEDDED = env_str("ARGO_SERVER", "") == ""
ARGO_SERVER = env_str("ARGO_SERVER", "") or env_str("YDP_ENGINE_URL", "http://127.0.0.1:2746")
ARGO_TOKEN = env_str("ARGO_TOKEN", "")
ARGO_NAMESPACE = env_str("ARGO_NAMESPACE", "argo")
ARGO_VERIFY_TLS = env_bool("ARGO_VERIFY_TLS", True)
ARGO_TIMEOUT_SECONDS = float(env_str("ARGO_TIMEOUT_SECONDS", "10"))
ARGO_SERVICE_ACCOUNT = env_str("ARGO_SERVICE_ACCOUNT", "")
YDP_ENGINE_DATA_DIR = Path(env_str("YDP_ENGINE_DATA_DIR", str(DATA_DIR / "engine")))

# Where a running step fetches its bundle and the step runner from (signed URLs).
YDP_PUBLIC_URL = env_str("YDP_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")

# Celery: long external jobs, so ack late, take one at a time, and bound every task.
_redis_url = env_str("REDIS_URL", "")
# Prepended to every Redis key of the broker and the cache: installs (or test sessions run side
# by side) can share one Redis database without taking each other's tasks.
YDP_REDIS_PREFIX = env_str("YDP_REDIS_PREFIX", "")
# Run state changes are pushed to the pages over Redis pub/sub (apps/runs/push.py); without
# Redis the pages poll.
REDIS_URL = _redis_url
# Server-sent event streams a web process holds open at once (each holds a thread: keep it
# below gunicorn's --threads); past it a stream is refused with 429 and the page polls.
YDP_EVENT_STREAMS = env_int("YDP_EVENT_STREAMS", 24)
# Beat also consumes Argo's watch of the active workflows and syncs each change at once
# (apps/runs/watch.py); off, changes wait for beat's next pass.
YDP_WATCH_WORKFLOWS = env_bool("YDP_WATCH_WORKFLOWS", True)
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "") or _redis_url or "filesystem://"
if CELERY_BROKER_URL == "filesystem://":
    # The no-server default: a broker in a local folder, enough for one machine.
    _broker_dir = DATA_DIR / "broker"
    for _sub in ("out", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        # Broadcasts (worker control) too, else kombu makes ./control in the current folder.
        "control_folder": str(_broker_dir / "control"),
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600),
        "global_keyprefix": YDP_REDIS_PREFIX,
    }
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 120)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 180)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Notifications (apps/notifications): email through Django's SMTP backend, signed webhooks.
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "ydpipelines@localhost")
YDP_NOTIFY_TIMEOUT_SECONDS = float(env_str("YDP_NOTIFY_TIMEOUT_SECONDS", "10"))
YDP_NOTIFY_MAX_ATTEMPTS = env_int("YDP_NOTIFY_MAX_ATTEMPTS", 6)
# Seconds before the 2nd attempt; each later one waits twice as long (30 s, 1, 2, 4, 8 min).
YDP_NOTIFY_BACKOFF_SECONDS = float(env_str("YDP_NOTIFY_BACKOFF_SECONDS", "30"))
# Webhooks must be https; tests (a receiver on 127.0.0.1) allow plain http to loopback only.
YDP_NOTIFY_ALLOW_HTTP_LOOPBACK = env_bool("YDP_NOTIFY_ALLOW_HTTP_LOOPBACK", False)

YDP_SYNC_INTERVAL_SECONDS = float(env_str("YDP_SYNC_INTERVAL_SECONDS", "1"))
# A Pending run with no workflow after this long lost its submit (a killed worker): resubmit.
YDP_SUBMIT_STALE_SECONDS = env_int("YDP_SUBMIT_STALE_SECONDS", 30)
CELERY_BEAT_SCHEDULE = {
    "sync-runs": {
        "task": "apps.runs.tasks.sync_runs",
        "schedule": YDP_SYNC_INTERVAL_SECONDS,
        # A pass that could not start in time is useless: the next one is due already.
        "options": {"expires": max(YDP_SYNC_INTERVAL_SECONDS * 5, 5)},
    },
    "discover-recurring-runs": {
        "task": "apps.recurring.tasks.discover_recurring_runs",
        "schedule": 5.0,
        "options": {"expires": 10},
    },
    "fetch-missing-outputs": {
        "task": "apps.runs.tasks.fetch_missing_outputs",
        "schedule": float(max(YDP_SUBMIT_STALE_SECONDS // 2, 1)),
        "options": {"expires": 60},
    },
    "submit-pending-runs": {
        "task": "apps.runs.tasks.submit_pending_runs",
        "schedule": float(max(YDP_SUBMIT_STALE_SECONDS // 2, 1)),
        "options": {"expires": 60},
    },
    "resend-due-deliveries": {
        "task": "apps.notifications.tasks.resend_due_deliveries",
        "schedule": float(max(YDP_SUBMIT_STALE_SECONDS // 2, 1)),
        "options": {"expires": 60},
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")

CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": _redis_url,
            "KEY_PREFIX": YDP_REDIS_PREFIX,
            "OPTIONS": {"socket_connect_timeout": 5, "socket_timeout": 5},
        }
        if _redis_url
        else {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(DATA_DIR / "cache"),
        }
    )
}

LOG_FORMAT = env_str("LOG_FORMAT", "plain")
LOGGING = logging_config(LOG_FORMAT, env_str("LOG_LEVEL", "INFO"))
# A worker would replace the root handler with its own plain one; keep ours when it is JSON.
CELERY_WORKER_HIJACK_ROOT_LOGGER = LOG_FORMAT != "json"

# Readiness (/readyz): how long each dependency may take to answer.
YDP_READY_TIMEOUT_SECONDS = float(env_str("YDP_READY_TIMEOUT_SECONDS", "3"))

# Error reporting: only with a DSN (the SDK is an optional extra, never imported without one).
SENTRY_DSN = env_str("SENTRY_DSN", "")
if SENTRY_DSN:
    from ydpipelines.sentry import init_sentry

    init_sentry(
        SENTRY_DSN,
        environment=env_str("SENTRY_ENVIRONMENT", ""),
        traces_sample_rate=float(env_str("SENTRY_TRACES_SAMPLE_RATE", "0")),
    )
