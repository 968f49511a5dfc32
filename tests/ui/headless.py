"""Helpers of the browser tests: the Debian chromium, free ports, and api-server processes
started and stopped by the test that owns them."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless=new",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
TRADEWIND = str(Path(sys.executable).parent / "tradewind")


def chromium_path() -> str:
    """The Debian chromium browser: skipped without it, failed without it when ``CI=true``."""
    path = shutil.which("chromium")
    if path is None:
        reason = "the chromium browser is not installed (Debian: apt-get install chromium)"
        if os.environ.get("CI", "").lower() in {"true", "1"}:
            pytest.fail(reason)
        pytest.skip(reason)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, deadline: float, process: subprocess.Popen[bytes]) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the api-server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer in time")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def shot(page: object, name: str) -> None:
    """A full-page screenshot under ``tests/artifacts/``."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"ui_{name}.png"), full_page=True)  # type: ignore[attr-defined]


@contextmanager
def api_server(env: dict[str, str], log_path: Path) -> Iterator[str]:
    """A ``tradewind api-server`` on a free port of ``env``'s home, writing to ``log_path``;
    yields its base URL once it answers, and stops it after."""
    port = free_port()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [TRADEWIND, "api-server", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_for(f"{base}/api/v2/monitor/health", time.monotonic() + 30, process)
            yield base
        finally:
            stop(process)
