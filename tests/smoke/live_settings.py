"""Test settings for real server processes a test starts (tests/security/test_throttles_across_processes.py): the
cache and its key prefix from the environment (a shared Redis), login throttling on, production's cache check."""

from config.settings.test import *  # noqa: F403
from config.settings.test import env

CACHES = {"default": {**env.cache("CACHE_URL"), "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="")}}
CLOSEOUT_REQUIRE_SHARED_CACHE = True
AXES_ENABLED = True
