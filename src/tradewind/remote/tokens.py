"""Per-try tokens of the execution API: a JWT (HS256) that names one try and what it may do.

A worker holds no database credentials and no secret: what it may ask the API server is what
the token in its workload allows. The scheduler signs a *queued* token when it sends a try
(it may only start the try and fetch its DAG bundle, and lives as long as a message may wait
in the broker); starting the try answers with an *execution* token (every call of that try,
short-lived, renewed by each heartbeat). Both name the try by task instance id and try number,
so a token of one try never acts on another, and a token of an old try of the same task
instance is refused once a new try began.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import jwt

ALGORITHM = "HS256"
AUDIENCE = "tradewind-execution"
QUEUED = "queued"
EXECUTION = "execution"
SCOPES = (QUEUED, EXECUTION)
#: Seconds of clock difference between signer and verifier that are forgiven.
LEEWAY = 10


class InvalidTryToken(Exception):
    """The token is missing, forged, expired or not for this call; the message says which."""


@dataclasses.dataclass(frozen=True)
class TryClaims:
    """The try a token is for."""

    ti_id: int
    try_number: int
    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    scope: str = EXECUTION
    expires_at: float = 0.0

    def describe(self) -> str:
        index = f"[{self.map_index}]" if self.map_index >= 0 else ""
        return f"{self.dag_id}.{self.task_id}{index} {self.run_id} try {self.try_number}"


def issue(
    secret: str, claims: TryClaims, *, scope: str, ttl: float, now: float | None = None
) -> str:
    """A token for ``claims``' try with ``scope``, valid ``ttl`` seconds from ``now``."""
    if not secret:
        raise ValueError("no [api_auth] jwt_secret to sign execution API tokens with")
    if scope not in SCOPES:
        raise ValueError(f"unknown token scope {scope!r}")
    issued = time.time() if now is None else now
    payload: dict[str, Any] = {
        "sub": str(claims.ti_id),
        "try": claims.try_number,
        "dag_id": claims.dag_id,
        "run_id": claims.run_id,
        "task_id": claims.task_id,
        "map_index": claims.map_index,
        "scope": scope,
        "aud": AUDIENCE,
        "iat": int(issued),
        "exp": int(issued + ttl),
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def verify(secret: str, token: str, *, scopes: tuple[str, ...] = SCOPES) -> TryClaims:
    """The claims of a valid token whose scope is one of ``scopes``; else ``InvalidTryToken``."""
    if not token:
        raise InvalidTryToken("no execution API token")
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            leeway=LEEWAY,
            options={"require": ["sub", "exp", "aud"]},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidTryToken("execution API token expired") from None
    except jwt.InvalidTokenError as exc:
        raise InvalidTryToken(f"invalid execution API token: {exc}") from None
    try:
        claims = TryClaims(
            ti_id=int(payload["sub"]),
            try_number=int(payload["try"]),
            dag_id=str(payload["dag_id"]),
            run_id=str(payload["run_id"]),
            task_id=str(payload["task_id"]),
            map_index=int(payload["map_index"]),
            scope=str(payload["scope"]),
            expires_at=float(payload["exp"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidTryToken(f"execution API token lacks a valid claim: {exc}") from None
    if claims.scope not in scopes:
        raise InvalidTryToken(
            f"a {claims.scope} token cannot make this call (it needs: {', '.join(scopes)})"
        )
    return claims
