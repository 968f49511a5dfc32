"""Who may call the execution API: the holder of a valid token of the try in the path.

A worker holds no user account: its bearer token is a per-try JWT (``remote.tokens``). A
missing, forged or expired token is answered 401; a valid token of another task instance, or
of a scope the call does not take (a queued token on a heartbeat), 403. Without
``[api_auth] jwt_secret`` no token can be checked, so every call is answered 503 saying so.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import HTTPException, Request

from tradewind.config import Settings
from tradewind.remote import tokens
from tradewind.remote.tokens import TryClaims

SECRET_SETTING = ("api_auth", "jwt_secret")
NO_SECRET = (
    "The execution API is off: set [api_auth] jwt_secret (TRADEWIND__API_AUTH__JWT_SECRET) on "
    "this API server to the key the scheduler signs the tries' tokens with"
)


def jwt_secret(settings: Settings) -> str | None:
    secret = settings.get(*SECRET_SETTING)
    return str(secret) if secret else None


def require_secret(request: Request) -> str:
    """The key tokens are checked with; 503 when the API server has none."""
    secret = jwt_secret(request.app.state.settings)
    if secret is None:
        raise HTTPException(status_code=503, detail=NO_SECRET)
    return secret


def _bearer(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("no execution API token: send Authorization: Bearer <token>")
    return token.strip()


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status_code=401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


def try_claims(*scopes: str) -> Callable[[Request, int], TryClaims]:
    """A dependency giving the claims of the request's token, when it is valid, of one of
    ``scopes``, and for the task instance ``ti_id`` of the path."""

    def check(request: Request, ti_id: int) -> TryClaims:
        secret = require_secret(request)
        try:
            claims = tokens.verify(secret, _bearer(request))
        except tokens.InvalidTryToken as exc:
            raise _unauthorized(str(exc)) from None
        if claims.scope not in scopes:
            raise HTTPException(
                status_code=403,
                detail=f"a {claims.scope} token cannot make this call (it needs: "
                f"{', '.join(scopes)})",
            )
        if claims.ti_id != ti_id:
            raise HTTPException(
                status_code=403,
                detail=f"the token is for task instance {claims.ti_id}, not {ti_id}",
            )
        return claims

    return check


def execution_token(settings: Settings, claims: TryClaims) -> str:
    """An execution token of the try, valid ``[execution_api] jwt_expiration_time`` seconds
    (given by start, and renewed by each heartbeat)."""
    secret = jwt_secret(settings)
    if secret is None:
        raise HTTPException(status_code=503, detail=NO_SECRET)
    ttl = float(settings.get("execution_api", "jwt_expiration_time"))
    return tokens.issue(secret, claims, scope=tokens.EXECUTION, ttl=ttl)
