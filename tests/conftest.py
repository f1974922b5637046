import os

import pytest
from django.db import connection

from campaigns.models import Role

from .factories import PASSWORD, AccountFactory, CampaignFactory, MembershipFactory, UserFactory


def pytest_collection_modifyitems(config, items):
    """`postgres` tests need real row locks: skip them on SQLite, say so."""
    on_postgres = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))
    skip = pytest.mark.skip(reason="needs PostgreSQL (run with DATABASE_URL=postgres://...)")
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(skip)


@pytest.fixture
def ratelimit_clock(monkeypatch):
    """django-ratelimit uses fixed windows whose edges are offset per key (a hash of it), so a window can close in
    the middle of a test that counts requests. Stop its clock so a count made in a test stays one window."""
    import time

    import django_ratelimit.core

    now = time.time()
    monkeypatch.setattr(django_ratelimit.core.time, "time", lambda: now)
    return now


@pytest.fixture
def password():
    return PASSWORD


@pytest.fixture
def account(db):
    return AccountFactory(name="Acme Beauty")


@pytest.fixture
def other_account(db):
    return AccountFactory(name="Other Agency")


def _member(account, role, username):
    user = UserFactory(username=username)
    MembershipFactory(user=user, account=account, role=role)
    return user


@pytest.fixture
def viewer(account):
    return _member(account, Role.VIEWER, "vera-viewer")


@pytest.fixture
def editor(account):
    return _member(account, Role.EDITOR, "eddie-editor")


@pytest.fixture
def manager(account):
    return _member(account, Role.MANAGER, "mona-manager")


@pytest.fixture
def outsider(other_account):
    """A manager, but of another account."""
    return _member(other_account, Role.MANAGER, "otto-outsider")


@pytest.fixture
def staff(db):
    return UserFactory(username="sam-staff", is_staff=True, is_superuser=True)


@pytest.fixture
def campaign(account):
    return CampaignFactory(account=account, name="Spring Glow")


@pytest.fixture
def other_campaign(other_account):
    return CampaignFactory(account=other_account, name="Secret Other Launch")


@pytest.fixture
def login(client):
    def _login(user):
        client.force_login(user)
        return client

    return _login


@pytest.fixture
def is_postgres():
    return connection.vendor == "postgresql"
