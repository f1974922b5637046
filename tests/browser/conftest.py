"""Browser tests: Playwright driving Debian's system Chromium against pytest-django's live_server.

Never downloads a browser. Without Chromium the tests skip loudly, except under CI (CI=true), where a missing
browser is a failure."""

import os
import shutil
import warnings
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
AXE = Path(__file__).parent / "vendor" / "axe-4.11.0.min.js"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    browser_items = [i for i in items if Path(str(i.fspath)).is_relative_to(here)]
    for item in browser_items:
        item.add_marker(pytest.mark.browser)
    if CHROMIUM or not browser_items:
        return
    if os.environ.get("CI") == "true":
        raise pytest.UsageError("CI=true but no Chromium found: install Debian's 'chromium' package (.ci/run does).")
    message = "NO CHROMIUM FOUND: browser tests are SKIPPED. Install it: apt-get install -y chromium"
    warnings.warn(message, stacklevel=1)
    print(f"\n{'!' * 80}\n{message}\n{'!' * 80}")
    for item in browser_items:
        item.add_marker(pytest.mark.skip(reason=message))


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "headless": True,
        "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1366, "height": 900}}


@pytest.fixture
def login_page(page, live_server, password):
    """Log `user` in through the real login form; returns the page."""

    def _login(user):
        page.goto(f"{live_server.url}/accounts/login/")
        page.get_by_label("Username").fill(user.username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_load_state("networkidle")
        return page

    return _login


@pytest.fixture
def nojs_login(browser, live_server, password):
    """A page in a fresh context with JavaScript off, `user` logged in through the real form; the context closes
    after the test. `nojs_login(user, viewport=...)` passes context options on."""
    contexts = []

    def _login(user, **context_args):
        context = browser.new_context(java_script_enabled=False, **context_args)
        contexts.append(context)
        page = context.new_page()
        page.goto(f"{live_server.url}/accounts/login/")
        page.get_by_label("Username").fill(user.username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        return page

    yield _login
    for context in contexts:
        context.close()


@pytest.fixture
def axe():
    """Run axe-core in the page; return serious and critical violations (id: help, targets)."""

    def _check(page, context=None):
        # Evaluated through the DevTools protocol, which the page's CSP (rightly) does not let a <script> do.
        if not page.evaluate("typeof window.axe !== 'undefined'"):
            page.evaluate(AXE.read_text() + "\n;true")
        result = page.evaluate("async (ctx) => await axe.run(ctx || document, {resultTypes: ['violations']})", context)
        return [
            {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]

    return _check


@pytest.fixture
def screenshot(tmp_path):
    """Take a screenshot. With UPDATE_SCREENSHOTS=1 it is saved under docs/screenshots/ (the README shows them);
    otherwise into the test's temporary folder, so a normal test run leaves the work tree clean."""
    folder = SCREENSHOTS if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path

    def _shot(page, name, full_page=True):
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return _shot


@pytest.fixture(autouse=True)
def no_script_errors(request):
    """Every browser test fails on an uncaught script error in its page: a broken app.js (say, a bad merge) turns
    every enhanced control dead while the server-rendered page still looks right."""
    if "page" not in request.fixturenames:
        yield
        return
    page = request.getfixturevalue("page")
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield
    assert errors == [], f"uncaught script errors in the page: {errors}"
