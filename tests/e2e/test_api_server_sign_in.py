"""A real ``tradewind api-server`` under a burst of wrong-password ``POST /auth/token`` requests
keeps answering other requests at once, and still stops on SIGTERM (SQLite and PostgreSQL).

Each failed attempt waits a delay; that wait must hold neither a transaction (SQLite's write
lock, a pooled PostgreSQL connection) nor the event loop.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import TRADEWIND, Deployment
from tradewind.cli import api_server as api_server_cli

pytestmark = pytest.mark.slow

ATTEMPTS = 20


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def api_server(deployment: Deployment) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A running api-server with a user ``admin``; yields its URL and process."""
    created = deployment.cli("users", "create", "-u", "admin", "-p", "right", "-r", "Admin")
    assert created.returncode == 0, created.stderr
    port = _free_port()
    log = (deployment.home / "api-server.log").open("w")
    process = subprocess.Popen(
        [TRADEWIND, "api-server", "--host", "127.0.0.1", "--port", str(port)],
        env=deployment.env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if process.poll() is not None:
            raise AssertionError(
                f"api-server exited:\n{(deployment.home / 'api-server.log').read_text()}"
            )
        try:
            with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=2):
                return True
        except OSError:
            return False

    try:
        deployment.wait_for(up, 60, "the api-server to answer")
        yield url, process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
        log.close()


def _token_request(url: str, password: str) -> urllib.request.Request:
    body = json.dumps({"username": "admin", "password": password}).encode()
    return urllib.request.Request(
        f"{url}/auth/token", data=body, headers={"Content-Type": "application/json"}
    )


def _wrong_password(url: str, outcomes: list[object]) -> None:
    request = _token_request(url, "wrong")
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            outcomes.append(answer.status)
    except urllib.error.HTTPError as exc:
        outcomes.append(exc.code)
    except OSError as exc:
        outcomes.append(repr(exc))


def _burst(url: str, attempts: int = ATTEMPTS) -> tuple[list[threading.Thread], list[object]]:
    outcomes: list[object] = []
    threads = [
        threading.Thread(target=_wrong_password, args=(url, outcomes)) for _ in range(attempts)
    ]
    for thread in threads:
        thread.start()
    return threads, outcomes


def test_failed_sign_ins_do_not_stall_other_requests(
    api_server: tuple[str, subprocess.Popen[bytes]],
) -> None:
    url, _process = api_server
    threads, outcomes = _burst(url)
    health_seconds = []
    while any(thread.is_alive() for thread in threads):
        started = time.monotonic()
        with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=10) as answer:
            assert answer.status == 200
            assert json.load(answer)["metadatabase"]["status"] == "healthy"
        health_seconds.append(time.monotonic() - started)
        time.sleep(0.05)
    for thread in threads:
        thread.join()
    assert outcomes == [401] * ATTEMPTS
    assert health_seconds and max(health_seconds) < 2.0, health_seconds
    # The right password still signs in right after.
    with urllib.request.urlopen(_token_request(url, "right"), timeout=10) as answer:
        assert answer.status == 201 and json.load(answer)["access_token"]


def test_sigterm_stops_the_server_during_failed_sign_ins(
    api_server: tuple[str, subprocess.Popen[bytes]],
) -> None:
    """However many attempts wait their turn, a stop takes at most the graceful shutdown time."""
    url, process = api_server
    threads, _outcomes = _burst(url, attempts=3 * ATTEMPTS)
    time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=api_server_cli.GRACEFUL_SHUTDOWN_SECONDS + 20)
    assert process.returncode in (
        0,
        -signal.SIGTERM,
    )  # uvicorn re-raises the signal once it has shut down
    for thread in threads:
        thread.join(timeout=60)
