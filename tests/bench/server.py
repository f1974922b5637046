"""The load part of the benchmark: gunicorn on a free loopback port, driven by wrk with a logged-in cookie;
non-2xx responses counted from gunicorn's access log."""

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError

LOAD_CONNECTIONS = 16
WRK_TIMEOUT = 30  # seconds; a slower response counts as an error (a socket timeout), not in the latencies


@contextlib.contextmanager
def gunicorn_server(*, log, admin_overrides: dict):
    """gunicorn (2 sync workers, config.wsgi, local settings with DEBUG off) on a free loopback port; always
    stopped on exit. The admin gets `admin_overrides`, as in the test-client run."""
    with tempfile.TemporaryDirectory(prefix="closeout-bench-") as tmp:
        conf = Path(tmp) / "gunicorn_conf.py"
        access_log = Path(tmp) / "access.log"  # one status code per response: wrk_run counts the non-2xx
        conf.write_text(
            "def post_worker_init(worker):\n"
            "    from django.contrib import admin\n"
            "    from campaigns.models import Campaign\n"
            f"    for name, value in {admin_overrides!r}.items():\n"
            "        setattr(admin.site._registry[Campaign], name, value)\n"
        )
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = os.environ | {
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "DJANGO_DEBUG": "0",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        }
        errors = open(Path(tmp) / "gunicorn.log", "w")  # noqa: SIM115 — closed in finally
        process = subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi:application",
                "--workers",
                "2",
                "--bind",
                f"127.0.0.1:{port}",
                "--config",
                str(conf),
                "--timeout",
                "120",
                "--access-logfile",
                str(access_log),
                "--access-logformat",
                "%(s)s",
            ],  # fmt: skip
            cwd=settings.BASE_DIR,
            env=env,
            stdout=errors,
            stderr=errors,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(base + "/healthz", timeout=2) as response:  # noqa: S310  # nosec B310
                        if response.status == 200:
                            break
                except OSError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    errors.flush()
                    raise CommandError("gunicorn did not start:\n" + (Path(tmp) / "gunicorn.log").read_text()[-2000:])
                time.sleep(0.3)
            log(f"  gunicorn (2 workers) on {base}, pid {process.pid}")
            yield base, access_log
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
            errors.close()


# No response() callback: with one, wrk copies every body into Lua, which on this 2-core machine took 20–30 % of
# the shared page's throughput from the server. Status codes are counted from gunicorn's access log instead.
WRK_SCRIPT = """
wrk.headers["Cookie"] = "%(cookie)s"
function done(summary, latency, requests)
  io.write(string.format("BENCH p50=%%f p99=%%f requests=%%d errors=%%d\\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.requests,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


def wrk_run(wrk: str, url: str, cookie: str, *, seconds: int, access_log: Path) -> dict:
    """wrk for `seconds` at LOAD_CONNECTIONS connections (2 threads), after a 2 s warm-up. Non-2xx responses
    (3xx included) are counted from the server's access log: the status of every response written during the
    run and until the server is idle again."""
    with tempfile.TemporaryDirectory(prefix="closeout-wrk-") as tmp:
        script = Path(tmp) / "bench.lua"
        script.write_text(WRK_SCRIPT % {"cookie": cookie})
        base = [wrk, "-t2", f"-c{LOAD_CONNECTIONS}", "--latency", "--timeout", f"{WRK_TIMEOUT}s", "-s", str(script)]
        subprocess.run([*base, "-d2s", url], capture_output=True, timeout=60, check=False)  # noqa: S603 — warm-up
        # Sync workers still serve the warm-up's queued requests after wrk has gone: wait for one fresh
        # request to come back, so the measured run starts on an idle server.
        request = urllib.request.Request(url, headers={"Cookie": cookie})  # noqa: S310
        with urllib.request.urlopen(request, timeout=120):  # noqa: S310  # nosec B310
            pass
        logged_before = _access_log_statuses(access_log)
        done = subprocess.run([*base, f"-d{seconds}s", url], capture_output=True, text=True, timeout=seconds + 60)  # noqa: S603
        # Requests still in flight when wrk stopped: the server writes their log lines within its latency.
        time.sleep(2)
        statuses = _access_log_statuses(access_log)[len(logged_before) :]
    rps = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    ours = re.search(r"BENCH p50=([\d.]+) p99=([\d.]+) requests=(\d+) errors=(\d+)", done.stdout)
    if not (rps and ours):
        raise CommandError(f"could not read wrk's output:\n{done.stdout}\n{done.stderr}")
    if not statuses:
        raise CommandError(f"the server logged no response to {url} during the run")
    return {
        "rps": float(rps.group(1)),
        "non2xx": sum(1 for status in statuses if not status.startswith("2")),
        "errors": int(ours.group(4)),
        "p50": float(ours.group(1)),
        "p99": float(ours.group(2)),
        "requests": int(ours.group(3)),
        "logged": len(statuses),
    }


def _access_log_statuses(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []
