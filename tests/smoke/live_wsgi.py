"""WSGI entry for test servers: config.wsgi, with django-ratelimit's clock stopped at RATELIMIT_FROZEN_TIME when
set. Its windows have per-key edges (see tests/conftest.py::ratelimit_clock), so a count made across a window's
edge would start again; a test that counts requests across processes stops the clock in every one of them."""

import os
import types

from config.wsgi import application

if frozen := os.environ.get("RATELIMIT_FROZEN_TIME"):
    import django_ratelimit.core

    django_ratelimit.core.time = types.SimpleNamespace(time=lambda: float(frozen))

__all__ = ["application"]
