"""Settings shared by every environment. Everything that differs between machines comes from the environment."""

import sys
from pathlib import Path

import environ
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "django_tables2",
    "django_filters",
    "axes",
    "config",
    "campaigns",
    "reports",
    # After campaigns: an app listed earlier wins a management command's name, and campaigns' `db_worker` (the
    # worker with a heartbeat, lost-task recovery and periodic jobs) must win over django_tasks_db's own.
    "django_tasks_db",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "config.middleware.PrivateCacheMiddleware",
    "config.unavailable.DatabaseUnavailableMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "campaigns.middleware.ViewerTimezoneMiddleware",  # the browser's time zone, for times shown on hover
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "django.template.context_processors.csp",
                "campaigns.context_processors.navigation",
                "campaigns.context_processors.notifications_bell",  # issue 6
            ],
        },
    }
]


def _process_kind(argv: list[str]) -> str:
    """'worker' for management commands (`db_worker`, the cron commands, `migrate`), 'web' for whatever serves
    requests (gunicorn, `runserver`, the test suite)."""
    if len(argv) > 1 and Path(argv[0]).name == "manage.py" and argv[1] != "runserver":
        return "worker"
    return "web"


# How long one statement may wait for a lock, and run, before the database cancels it (seconds; 0: no limit on
# PostgreSQL). Short for requests, so a locked table answers the 503 page (config.views) within seconds instead
# of holding every web worker; long for the task worker and commands (a report build, a migration). SQLite has no
# statement limit; its busy timeout is the lock timeout.
DATABASE_PROCESS = _process_kind(sys.argv)
if DATABASE_PROCESS == "web":
    DATABASE_STATEMENT_TIMEOUT = env.float("DATABASE_STATEMENT_TIMEOUT", default=20.0)
    DATABASE_LOCK_TIMEOUT = env.float("DATABASE_LOCK_TIMEOUT", default=5.0)
else:
    DATABASE_STATEMENT_TIMEOUT = env.float("DATABASE_WORKER_STATEMENT_TIMEOUT", default=600.0)
    DATABASE_LOCK_TIMEOUT = env.float("DATABASE_WORKER_LOCK_TIMEOUT", default=60.0)


def database_config(config: dict) -> dict:
    """DATABASES["default"] from a parsed DATABASE_URL, with the connection options of every environment."""
    config["ATOMIC_REQUESTS"] = False
    options = config.setdefault("OPTIONS", {})
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # WAL lets the web server and the task worker read while the other writes; `timeout` is the busy timeout
        # (how long a writer waits for the write lock before "database is locked").
        options.update(
            {
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": DATABASE_LOCK_TIMEOUT,
            }
        )
    elif config["ENGINE"].startswith("django.db.backends.postgresql"):
        # Set per connection at connect time (libpq `options`), so no query runs without them.
        limits = f"-c statement_timeout={round(DATABASE_STATEMENT_TIMEOUT * 1000)}"
        limits += f" -c lock_timeout={round(DATABASE_LOCK_TIMEOUT * 1000)}"
        options["options"] = f"{options.get('options', '')} {limits}".strip()
    # Keep connections between requests (a new SQLite connection re-runs the PRAGMAs above; a new PostgreSQL one
    # is a network round trip and an authentication).
    config.setdefault("CONN_MAX_AGE", env.int("DJANGO_CONN_MAX_AGE", default=60))
    config.setdefault("CONN_HEALTH_CHECKS", True)
    return config


DATABASES = {"default": database_config(env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"))}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Rate limits and the share-page cache live here: production needs one cache shared by every process
# (config.checks refuses a per-process one there).
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://closeout")}
CLOSEOUT_REQUIRE_SHARED_CACHE = False

# Behind a reverse proxy every request comes from the proxy's address. Name the header the proxy sets (e.g.
# X-Forwarded-For) and how many proxies append to it, and the client's address is read from there, by
# config.client_ip for the login lockout (django-axes) and the rate limits (django-ratelimit) alike. Off by
# default: a header any client can send must not be believed unless a proxy you run sets it.
CLOSEOUT_TRUSTED_PROXY_HEADER = env("CLOSEOUT_TRUSTED_PROXY_HEADER", default="")
CLOSEOUT_TRUSTED_PROXY_COUNT = env.int("CLOSEOUT_TRUSTED_PROXY_COUNT", default=1)
AXES_CLIENT_IP_CALLABLE = "config.client_ip.client_ip"
RATELIMIT_IP_META_KEY = "config.client_ip.client_ip"

# Views of shared report pages are written behind, in batches at most this many seconds old (0: one write per
# view, as the tests do). See reports.services.share_view_record.
SHARE_VIEW_FLUSH_SECONDS = env.float("SHARE_VIEW_FLUSH_SECONDS", default=1.0)
# Render each close report's PDF in the background right after its snapshot, so the first download is instant
# (reports.tasks.report_pdfs_render). Off: the first download renders it (and stores it for the next).
REPORT_PDF_PRERENDER = env.bool("REPORT_PDF_PRERENDER", default=True)
# A report email attaches the PDF up to this size; a larger one is linked instead (issue 18).
REPORT_EMAIL_ATTACH_MAX_BYTES = env.int("REPORT_EMAIL_ATTACH_MAX_BYTES", default=5 * 1024 * 1024)

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "campaigns.auth.UserBackend",  # signs in; loads the user with the bell's unread count (one query)
    "django.contrib.auth.backends.ModelBackend",  # only loads the users of sessions made before UserBackend
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Login throttling (django-axes): 5 failures per username+IP lock that pair for 15 minutes.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = 0.25
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

SESSION_COOKIE_AGE = env.int("DJANGO_SESSION_AGE", default=60 * 60 * 12)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# Django 6's Content-Security-Policy: scripts and styles only from our own static files, no inline code.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
    "base-uri": [CSP.SELF],
    "object-src": [CSP.NONE],
}

# Browser features no page uses are switched off; copying the wind-down announcement needs clipboard-write.
PERMISSIONS_POLICY = {
    feature: []
    for feature in (
        "accelerometer",
        "autoplay",
        "bluetooth",
        "browsing-topics",
        "camera",
        "display-capture",
        "fullscreen",
        "geolocation",
        "gyroscope",
        "hid",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "publickey-credentials-get",
        "screen-wake-lock",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
} | {"clipboard-write": ["self"]}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env("DJANGO_MEDIA_ROOT", default=str(BASE_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}


def mailers_from_url(email: dict) -> dict:
    """Django 6.1 MAILERS from a parsed EMAIL_URL, e.g. smtp+tls://user:password@smtp.example.com:587."""
    backend = email["EMAIL_BACKEND"]
    options = {}
    if backend.endswith("smtp.EmailBackend"):
        options = {
            "host": email.get("EMAIL_HOST"),
            "port": email.get("EMAIL_PORT"),
            "username": email.get("EMAIL_HOST_USER"),
            "password": email.get("EMAIL_HOST_PASSWORD"),
            "use_tls": email.get("EMAIL_USE_TLS", False),
            "use_ssl": email.get("EMAIL_USE_SSL", False),
            "timeout": 10,
        }
    return {"default": {"BACKEND": backend, "OPTIONS": options}}


# Default: print mail to the console.
MAILERS = mailers_from_url(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env("DJANGO_DEFAULT_FROM_EMAIL", default="Closeout <closeout@localhost>")

TASKS = {
    "default": {
        "BACKEND": env("TASKS_BACKEND", default="django_tasks_db.DatabaseBackend"),
        "QUEUES": ["default"],
    }
}

# The task workers heal themselves (campaigns/worker/): each beats every WORKER_HEARTBEAT_SECONDS; a task RUNNING
# on a worker silent for WORKER_LOST_AFTER_SECONDS (or, on a worker that never beat, running for
# WORKER_UNTRACKED_TIMEOUT_SECONDS) is queued again, at most WORKER_TASK_MAX_ATTEMPTS times in all, then FAILED.
# The reconciler re-queues lost work every RECONCILE_EVERY_SECONDS; the platform sync runs every
# PLATFORM_SYNC_EVERY_MINUTES (0: off, e.g. when cron runs `manage.py sync_platform`).
WORKER_HEARTBEAT_SECONDS = env.float("WORKER_HEARTBEAT_SECONDS", default=10.0)
WORKER_LOST_AFTER_SECONDS = env.float("WORKER_LOST_AFTER_SECONDS", default=60.0)
WORKER_UNTRACKED_TIMEOUT_SECONDS = env.float("WORKER_UNTRACKED_TIMEOUT_SECONDS", default=3600.0)
WORKER_TASK_MAX_ATTEMPTS = env.int("WORKER_TASK_MAX_ATTEMPTS", default=3)
RECONCILE_EVERY_SECONDS = env.float("RECONCILE_EVERY_SECONDS", default=300.0)
PLATFORM_SYNC_EVERY_MINUTES = env.float("PLATFORM_SYNC_EVERY_MINUTES", default=0.0)
# Metric imports (issue 19): an upload up to this size is previewed in the request (some 2,000 rows: a few ms);
# a larger one by the task worker, the page showing its progress.
IMPORT_INLINE_MAX_BYTES = env.int("IMPORT_INLINE_MAX_BYTES", default=256 * 1024)

MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

DJANGO_TABLES2_TEMPLATE = "django_tables2/closeout_table.html"
DJANGO_TABLES2_TABLE_ATTRS = {"class": "table"}

# Closeout's own settings.
CLOSEOUT_PUBLIC_BASE_URL = env("CLOSEOUT_PUBLIC_BASE_URL", default="http://127.0.0.1:8000")
# Spend or impressions reported this many days after an end still count as reporting delay, not delivery.
CLOSEOUT_DELIVERY_GRACE_DAYS = env.int("CLOSEOUT_DELIVERY_GRACE_DAYS", default=1)
TIKTOK_API_BASE_URL = env("TIKTOK_API_BASE_URL", default="https://business-api.tiktok.com/open_api/v1.3/")
TIKTOK_API_TIMEOUT = env.float("TIKTOK_API_TIMEOUT", default=10.0)
# Every process's calls to TikTok share one bucket per app (TIKTOK_APP_ID, or per token when empty): at most
# TIKTOK_API_QPS calls a second; a 40100 answer stops everyone for TIKTOK_RATE_LIMIT_BACKOFF_SECONDS.
TIKTOK_API_QPS = env.float("TIKTOK_API_QPS", default=10.0)
TIKTOK_APP_ID = env("TIKTOK_APP_ID", default="")
TIKTOK_RATE_LIMIT_BACKOFF_SECONDS = env.float("TIKTOK_RATE_LIMIT_BACKOFF_SECONDS", default=1.0)
# A pull tries a call that failed transiently (rate limit, 5xxxx, HTTP 5xx, timeout) again after
# PLATFORM_PULL_BACKOFF_SECONDS × 2ⁿ (jittered, at most 30 s), six tries in all (docs/connectors.md).
PLATFORM_PULL_BACKOFF_SECONDS = env.float("PLATFORM_PULL_BACKOFF_SECONDS", default=1.0)
# A connected campaign's close report waits for its final pull: tried again after REPORT_FINAL_PULL_RETRY_SECONDS
# × 2ⁿ (at most an hour); after REPORT_FINAL_PULL_MAX_WAIT_HOURS it is frozen, marked incomplete.
REPORT_FINAL_PULL_RETRY_SECONDS = env.float("REPORT_FINAL_PULL_RETRY_SECONDS", default=60.0)
REPORT_FINAL_PULL_MAX_WAIT_HOURS = env.float("REPORT_FINAL_PULL_MAX_WAIT_HOURS", default=24.0)
# The final figures: this many days after an end (per account: AdAccount.final_after_days) the numbers are pulled
# once more, after the platform's attribution window, and shown beside the frozen ones ("Final as of <day>").
CLOSEOUT_FINAL_AFTER_DAYS = env.int("CLOSEOUT_FINAL_AFTER_DAYS", default=7)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        # WeasyPrint logs every layout step of every PDF at INFO (a dozen lines a report in the worker's log).
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}
