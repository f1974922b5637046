"""The production smoke's own checks catch what they promise: a 5xx, a referenced static file that does not
resolve, a page served over plain http. Against a tiny stand-in server on 127.0.0.1, so no Django is started."""

import http.server
import threading

import pytest

from tests.smoke import prod_smoke

PAGE = b"""<!doctype html><link rel="stylesheet" href="/static/css/app.css"><script src="/static/js/gone.js"></script>
<a href="/fine/">fine</a> <a href="/boom/">boom</a> <a href="https://elsewhere.example/">away</a>
<a href="/fine/7/">a</a> <a href="/fine/8/">b</a> <a href="/fine/9/">c</a>"""


class StandIn(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 -- the stdlib's name
        https = self.headers.get("X-Forwarded-Proto") == "https"
        if self.path == "/redirects/" and not https:
            self._answer(301, b"", location=prod_smoke.ORIGIN + self.path)
        elif self.path.startswith("/boom/"):
            self._answer(500, b"oops")
        elif self.path == "/static/css/app.css":
            self._answer(200, b"body{}", kind="text/css")
        elif self.path.startswith("/static/"):
            self._answer(404, b"")
        else:
            self._answer(200, PAGE)

    def _answer(self, status, body, *, kind="text/html; charset=utf-8", location=""):
        self.send_response(status)
        self.send_header("Content-Type", kind)
        if location:
            self.send_header("Location", location)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def base():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_crawl_reports_a_5xx_and_collects_static_files(base):
    browser = prod_smoke.live.Browser(base, headers=prod_smoke.BEHIND_PROXY)
    crawl = prod_smoke.Crawl("manager", browser, base, starts=["/"]).run()
    assert crawl.failures == ["manager: GET /boom/ → 500"]
    assert crawl.assets == {"/static/css/app.css", "/static/js/gone.js"}
    visited = [path for path, _, _ in crawl.pages]
    assert "/fine/9/" not in visited and len([p for p in visited if p.startswith("/fine/")]) == 3  # 1 + 2 of a shape
    assert not any("elsewhere" in path for path in visited)


def test_static_file_that_does_not_resolve_fails(base):
    assert prod_smoke.check_assets(base, {"/static/css/app.css", "/static/js/gone.js"}) == [
        "static GET /static/js/gone.js → 404"
    ]


def test_page_answering_plain_http_without_the_redirect_fails(base):
    count, failures = prod_smoke.check_plain_http(base, {"/redirects/", "/fine/"})
    assert count == 2
    assert failures == ["plain http GET /fine/ → 200 "]
