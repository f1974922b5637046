"""System checks for what production needs beyond Django's own `check --deploy`."""

from django.conf import settings
from django.core.checks import Error, Tags, register

PER_PROCESS_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache": "local memory",
    "django.core.cache.backends.dummy.DummyCache": "dummy",
}


@register(Tags.caches)
def shared_cache_check(app_configs=None, **kwargs):
    """closeout.E001: where CLOSEOUT_REQUIRE_SHARED_CACHE is on (production), the default cache must be shared by
    every process. The share-link password and feedback limits count in it; with a per-process cache each
    gunicorn worker (and host) counts on its own, so N processes let N times the limit through."""
    if not settings.CLOSEOUT_REQUIRE_SHARED_CACHE:
        return []
    backend = settings.CACHES["default"]["BACKEND"]
    if backend not in PER_PROCESS_CACHES:
        return []
    return [
        Error(
            f"The default cache is a {PER_PROCESS_CACHES[backend]} cache, which every process keeps on its own: "
            "rate limits would count per process.",
            hint="Set CACHE_URL to a cache all processes share, e.g. rediscache://127.0.0.1:6379/0 "
            "(Redis), pymemcache://127.0.0.1:11211 (Memcached) or dbcache://closeout_cache (the database; "
            "run `manage.py createcachetable`).",
            id="closeout.E001",
        )
    ]
