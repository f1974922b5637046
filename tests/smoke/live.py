"""Real processes on 127.0.0.1, for the production smoke (prod_smoke.py) and the cross-process throttle tests:
gunicorn and the task worker started and stopped by pid, and a browser-like HTTP client. Stdlib only."""

import contextlib
import http.cookiejar
import os
import re
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env(**values: str) -> dict:
    """This process's environment without any Django, database, mail or cache setting, plus `values`: what a
    server gets is exactly what the caller names."""
    prefixes = ("DJANGO_", "DATABASE_", "EMAIL_URL", "CACHE_", "CLOSEOUT_", "TASKS_", "AXES_", "REPORT_PDF")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    return env | {"PYTHONUNBUFFERED": "1"} | values


def manage(env: dict, *args: str, timeout: float = 300) -> str:
    """Run `manage.py <args>`; its stdout, or RuntimeError with its output."""
    result = subprocess.run(  # noqa: S603 -- our own interpreter and manage.py
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


class Process:
    """A background process with its output in a log file, stopped by its pid (TERM, then KILL)."""

    def __init__(self, argv: list[str], *, env: dict, log: Path):
        self.log = log
        self._log = log.open("w")
        self.popen = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)  # noqa: S603
        self.pid = self.popen.pid

    def children(self) -> list[int]:
        try:
            return [int(pid) for pid in Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()]
        except OSError:
            return []

    def stop(self, timeout: float = 20) -> None:
        children = self.children()
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)
        for pid in children:  # gunicorn's workers leave with their master; make sure, by their own pids
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self._log.close()

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def gunicorn(*, env: dict, port: int, workers: int, log: Path, app: str = "config.wsgi") -> Process:
    argv = [str(BIN / "gunicorn"), app, "--workers", str(workers), "--bind", f"127.0.0.1:{port}"]
    return Process([*argv, "--timeout", "60", "--log-level", "warning"], env=env, log=log)


def wait_until_serving(process: Process, url: str, *, headers: dict | None = None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise RuntimeError(f"{url}: the server exited ({process.popen.returncode}):\n{process.tail()}")
        try:
            request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 -- 127.0.0.1 only
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
                if response.status == 200:
                    return
        except (OSError, urllib.error.HTTPError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s:\n{process.tail()}")


@dataclass
class Response:
    status: int
    headers: dict
    body: bytes
    url: str = ""
    elapsed: float = 0.0
    html: str = field(init=False)

    def __post_init__(self):
        kind = self.headers.get("content-type", "")
        self.html = self.body.decode("utf-8", "replace") if kind.startswith("text/html") else ""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect is an answer to look at, not to follow


class _BehindTLSProxy(http.cookiejar.DefaultCookiePolicy):
    """The pretend proxy terminated TLS: Secure cookies travel over this plain-HTTP hop as they would to it."""

    def return_ok_secure(self, cookie, request):
        return True


class Browser:
    """One visitor: a cookie jar, fixed headers (e.g. X-Forwarded-Proto, X-Forwarded-For, Host), the CSRF token
    of the last form seen, redirects returned rather than followed. `origin` is sent with every POST, as a
    browser does (over HTTPS, Django's CSRF check wants it or a Referer)."""

    def __init__(self, base: str, *, headers: dict | None = None, origin: str = ""):
        self.base = base.rstrip("/")
        self.headers = dict(headers or {})
        self.origin = origin
        self.jar = http.cookiejar.CookieJar(policy=_BehindTLSProxy())
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect)
        self.form_token = ""

    def csrf(self) -> str:
        return self.form_token or next((c.value for c in self.jar if c.name == "csrftoken"), "")

    def request(self, method: str, path: str, data: dict | None = None, *, base: str = "", headers=None) -> Response:
        url = (base or self.base).rstrip("/") + path
        body = None
        sent = {**self.headers, **(headers or {})}
        if method == "POST":
            body = urllib.parse.urlencode({"csrfmiddlewaretoken": self.csrf(), **(data or {})}, doseq=True).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
            if self.origin:
                sent["Origin"] = self.origin
        request = urllib.request.Request(url, data=body, method=method, headers=sent)  # noqa: S310 -- 127.0.0.1
        started = time.monotonic()
        try:
            with self.opener.open(request, timeout=60) as answer:
                status, headers_, content = answer.status, answer.headers, answer.read()
        except urllib.error.HTTPError as error:
            status, headers_, content = error.code, error.headers, error.read()
        response = Response(
            status, {k.lower(): v for k, v in headers_.items()}, content, url, time.monotonic() - started
        )
        if token := CSRF_FIELD.search(response.html):
            self.form_token = token.group(1)
        return response

    def get(self, path: str, **kwargs) -> Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, data: dict | None = None, **kwargs) -> Response:
        return self.request("POST", path, data, **kwargs)

    def login(self, username: str, password: str, *, base: str = "") -> Response:
        """Through the real login form: GET it (CSRF cookie and token), POST it."""
        self.get("/accounts/login/", base=base)
        return self.post("/accounts/login/", {"username": username, "password": password}, base=base)


class SmtpSink(socketserver.ThreadingTCPServer):
    """An SMTP server on 127.0.0.1 that accepts every message and keeps only a count: production settings refuse
    the console mail backend, and the smoke wants to see the worker send mail."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        self.messages = 0
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _SmtpSession)
        self.port = self.server_address[1]
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.shutdown()
        self.server_close()


class _SmtpSession(socketserver.StreamRequestHandler):
    def reply(self, line: str):
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self):
        self.reply("220 smoke ESMTP")
        while line := self.rfile.readline():
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                self.reply("250 smoke")
            elif verb == b"DATA":
                self.reply("354 end with <CRLF>.<CRLF>")
                while self.rfile.readline() not in (b".\r\n", b""):
                    pass  # the message itself is not kept
                with self.server.lock:
                    self.server.messages += 1
                self.reply("250 queued")
            elif verb == b"QUIT":
                self.reply("221 bye")
                return
            else:  # MAIL, RCPT, RSET, NOOP
                self.reply("250 ok")
