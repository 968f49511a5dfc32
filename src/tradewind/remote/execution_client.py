"""A worker's client of the execution API (docs/remote-execution.md): one per try, holding
that try's token.

Calls are retried with backoff while the API server cannot be reached (it may be restarting):
every call of the contract is safe to repeat. An answer the contract gives a meaning to is
raised as ``TryRefused`` (409: the try is no longer this worker's to run) or
``ExecutionApiError`` (any other refusal, with the server's ``detail``).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx2

log = logging.getLogger("tradewind.remote")

TOKEN_HEADER = "Refreshed-API-Token"
#: Seconds between attempts while the API server is unreachable: doubling, capped.
FIRST_BACKOFF = 0.2
MAX_BACKOFF = 5.0
#: Seconds of unreachability after which a call gives up.
DEFAULT_PATIENCE = 120.0


class ExecutionApiError(Exception):
    """The execution API refused a call; the message has its status and ``detail``."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"execution API answered {status}: {detail}")
        self.status = status
        self.detail = detail


class TryRefused(ExecutionApiError):
    """409: the task instance no longer runs this try (started elsewhere, cleared, ended)."""


class ExecutionClient:
    """The calls of one try; ``token`` is replaced by start's and each heartbeat's."""

    def __init__(
        self,
        http: httpx2.Client,
        api_url: str,
        ti_id: int,
        token: str,
        *,
        patience: float = DEFAULT_PATIENCE,
    ) -> None:
        self.http = http
        self.base = api_url.rstrip("/") + f"/task-instances/{ti_id}"
        self.token = token
        self.patience = patience

    def start(self, hostname: str, pid: int) -> int:
        """Start the try; its try number. Takes the execution token."""
        answer = self._call("POST", "/start", json={"hostname": hostname, "pid": pid}).json()
        self.token = answer["token"]
        return int(answer["try_number"])

    def heartbeat(self, hostname: str, pid: int) -> None:
        """Say the try still runs; takes the renewed token."""
        response = self._call("POST", "/heartbeat", json={"hostname": hostname, "pid": pid})
        self.token = response.headers.get(TOKEN_HEADER, self.token)

    def request(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Answer one of the try's questions (its wire fields) through the API."""
        answer: dict[str, Any] = self._call("POST", "/requests", json=fields).json()
        return answer

    def send_log(self, offset: int, chunk: bytes) -> int:
        """Store ``chunk`` at byte ``offset`` of the try's log; how many bytes are stored."""
        response = self._call(
            "POST",
            "/logs",
            params={"offset": offset},
            content=chunk,
            headers={"Content-Type": "application/octet-stream"},
        )
        return int(response.json()["size"])

    def log_size(self) -> int:
        """Bytes of the log the API server already holds (an empty chunk at offset 0)."""
        return self.send_log(0, b"")

    def finished(self, done_fields: dict[str, Any]) -> None:
        self._call("POST", "/finish", json={"kind": "finished", "done": done_fields})

    def died(self, reason: str) -> None:
        self._call("POST", "/finish", json={"kind": "died", "reason": reason})

    def bundle(self) -> tuple[bytes, str]:
        """The try's DAG bundle and its hash."""
        response = self._call("GET", "/bundle")
        return response.content, response.headers.get("X-Tradewind-Bundle-Hash", "")

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx2.Response:
        deadline = time.monotonic() + self.patience
        backoff = FIRST_BACKOFF
        extra_headers = kwargs.pop("headers", {})
        while True:
            try:
                response = self.http.request(
                    method,
                    self.base + path,
                    headers={"Authorization": f"Bearer {self.token}", **extra_headers},
                    **kwargs,
                )
            except httpx2.TransportError as exc:
                if time.monotonic() + backoff > deadline:
                    raise ExecutionApiError(0, f"unreachable at {self.base}: {exc}") from exc
                log.warning("Execution API unreachable (%s); again in %.1f s", exc, backoff)
                time.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            if response.status_code == 503 and time.monotonic() + backoff <= deadline:
                time.sleep(backoff)  # starting up, or without its secret yet
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            if response.status_code >= 400:
                raise _refusal(response)
            return response


def _refusal(response: httpx2.Response) -> ExecutionApiError:
    try:
        detail = str(response.json().get("detail", response.text))
    except ValueError:
        detail = response.text
    if response.status_code == 409:
        return TryRefused(409, detail)
    return ExecutionApiError(response.status_code, detail)
