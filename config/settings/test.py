"""pytest: fast hashing, mail kept in memory, tasks run in-process when their transaction commits."""

from .base import *  # noqa: F403
from .base import env

DEBUG = False
SECRET_KEY = "test-only-secret-key-not-for-anything-else-0123456789"  # noqa: S105
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
TASKS = {"default": {"BACKEND": env("TASKS_BACKEND", default="django.tasks.backends.immediate.ImmediateBackend")}}
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "closeout-test"}}
AXES_ENABLED = env.bool("AXES_ENABLED", default=False)
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
# Serve static files straight from the source folders (no collectstatic in tests).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# Views of shared pages are written at once, so a test sees its count straight after the request.
SHARE_VIEW_FLUSH_SECONDS = 0
# Tasks run inline in tests: rendering a PDF (about a second) after every ended campaign would slow the suite.
# tests/reports/test_pdf_store.py turns it on.
REPORT_PDF_PRERENDER = env.bool("REPORT_PDF_PRERENDER", default=False)
# Pulls retry a failed call at once in tests (the fake server's hiccups need no waiting).
PLATFORM_PULL_BACKOFF_SECONDS = 0
# The shared rate limiter at a rate the suite never waits for; tests of the limiter set their own.
TIKTOK_API_QPS = env.float("TIKTOK_API_QPS", default=100000)
TIKTOK_RATE_LIMIT_BACKOFF_SECONDS = env.float("TIKTOK_RATE_LIMIT_BACKOFF_SECONDS", default=0)
