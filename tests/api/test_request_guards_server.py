"""A real ``tradewind api-server`` sent bodies of hundreds of megabytes: a stranger's gets 401
and a user's over ``[api] max_body_bytes`` gets 413, both before the body is read, and the
server's memory stays flat (it once grew by more than a gigabyte on a 400 MB body)."""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

TRADEWIND = str(Path(sys.executable).with_name("tradewind"))
BODY_BYTES = 400 * 1024 * 1024
CHUNK = b"x" * (1024 * 1024)
#: How much the server's peak memory may grow while it refuses one such body.
MEMORY_SLACK = 40 * 1024 * 1024

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("backend", ["sqlite"], indirect=True)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _peak_memory(pid: int) -> int:
    """The process's peak resident memory (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc status")


class Server:
    def __init__(self, url: str, process: subprocess.Popen[bytes], token: str) -> None:
        self.url, self.process, self.token = url, process, token
        self.port = int(url.rsplit(":", 1)[1])


@pytest.fixture
def server(tradewind_env: dict[str, str], tmp_path: Path) -> Iterator[Server]:
    env = {**os.environ, **tradewind_env, "TRADEWIND__API__MAX_BODY_BYTES": str(1024 * 1024)}
    subprocess.run(
        [TRADEWIND, "users", "create", "-u", "ada", "-p", "pw", "-r", "Admin"],
        env=env,
        check=True,
        capture_output=True,
    )
    port = _free_port()
    log = (tmp_path / "api-server.log").open("w")
    process = subprocess.Popen(
        [TRADEWIND, "api-server", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (tmp_path / "api-server.log").read_text()
            try:
                request = urllib.request.Request(
                    f"{url}/auth/token",
                    data=json.dumps({"username": "ada", "password": "pw"}).encode(),
                    headers={"Content-Type": "application/json"},
                )
                with urllib.request.urlopen(request, timeout=2) as answer:
                    token = str(json.load(answer)["access_token"])
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, "the api-server did not start"
                time.sleep(0.1)
        yield Server(url, process, token)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _send_huge(port: int, headers: dict[str, str], *, chunked: bool) -> tuple[str, int, float]:
    """POST a 400 MB body to /api/v2/variables as fast as the server takes it, until it answers.

    Returns the status line, how many body bytes the socket accepted, and the seconds taken.
    """
    head = {"Host": "127.0.0.1", "Content-Type": "application/json", **headers}
    if chunked:
        head["Transfer-Encoding"] = "chunked"
    else:
        head["Content-Length"] = str(BODY_BYTES)
    request = (
        "POST /api/v2/variables HTTP/1.1\r\n"
        + "".join(f"{k}: {v}\r\n" for k, v in head.items())
        + "\r\n"
    )
    piece = (f"{len(CHUNK):x}\r\n".encode() + CHUNK + b"\r\n") if chunked else CHUNK
    started = time.monotonic()
    sent = 0
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request.encode())
        sock.setblocking(False)
        pending = memoryview(b"")
        while time.monotonic() - started < 30:
            readable, writable, _ = select.select(
                [sock], [sock] if sent < BODY_BYTES else [], [], 1.0
            )
            if readable:
                try:
                    data = sock.recv(65536)
                except (ConnectionResetError, BlockingIOError):
                    data = b""
                answer += data
                if b"\r\n" in answer or not data:
                    break
            if writable:
                if not pending:
                    pending = memoryview(piece)
                try:
                    count = sock.send(pending)
                except (BrokenPipeError, ConnectionResetError):
                    sock.setblocking(True)
                    answer += sock.recv(65536)
                    break
                except BlockingIOError:
                    continue
                pending = pending[count:]
                sent += count
    status = answer.split(b"\r\n", 1)[0].decode()
    return status, sent, time.monotonic() - started


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_stranger_with_a_huge_body_gets_401_fast(server: Server, chunked: bool) -> None:
    before = _peak_memory(server.process.pid)
    status, sent, seconds = _send_huge(server.port, {}, chunked=chunked)
    grown = _peak_memory(server.process.pid) - before
    print(
        f"\n401 ({'chunked' if chunked else 'content-length'}): {seconds:.3f} s, "
        f"{sent / 2**20:.1f} MiB accepted by the socket, peak memory +{grown / 2**20:.1f} MiB"
    )
    assert status.split(" ")[1:2] == ["401"], status
    assert seconds < 5
    assert sent < BODY_BYTES / 4
    assert grown < MEMORY_SLACK


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_user_with_a_body_over_the_limit_gets_413_fast(server: Server, chunked: bool) -> None:
    before = _peak_memory(server.process.pid)
    status, sent, seconds = _send_huge(
        server.port, {"Authorization": f"Bearer {server.token}"}, chunked=chunked
    )
    grown = _peak_memory(server.process.pid) - before
    print(
        f"\n413 ({'chunked' if chunked else 'content-length'}): {seconds:.3f} s, "
        f"{sent / 2**20:.1f} MiB accepted by the socket, peak memory +{grown / 2**20:.1f} MiB"
    )
    assert status.split(" ")[1:2] == ["413"], status
    assert seconds < 5
    assert sent < BODY_BYTES / 4
    assert grown < MEMORY_SLACK
    # The server is still up and serves the next request.
    with urllib.request.urlopen(f"{server.url}/api/v2/version", timeout=5) as answer:
        assert answer.status == 200
