"""Production: no default secret, hosts, database, mail or cache; HTTPS everywhere."""

from .base import *  # noqa: F403
from .base import database_config, env, mailers_from_url

DEBUG = False
SECRET_KEY = env("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
DATABASES = {"default": database_config(env.db("DATABASE_URL"))}
# Required and shared: rate limits counted in one process's memory would let every extra process through again.
CACHES = {"default": env.cache("CACHE_URL")}  # e.g. rediscache://127.0.0.1:6379/0
CLOSEOUT_REQUIRE_SHARED_CACHE = True

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True

MAILERS = mailers_from_url(env.email_url("EMAIL_URL"))  # required: e.g. smtp+tls://user:pass@smtp.example.com:587
