"""Password sign-in for ``POST /auth/token`` and the UI's ``/login``, kept off the event loop.

What blocks runs in a worker thread: two short transactions, and between them the argon2
check (about 0.1 s of CPU), which runs with no transaction open so it never holds SQLite's
write lock or a pooled PostgreSQL connection. At most ``CHECKS_AT_ONCE`` sign-ins hold a
thread at a time: a flood of attempts waits its turn without holding anything, instead of
taking the thread pool every other route needs. A failed attempt then waits
``FAILED_LOGIN_DELAY`` on the event loop, holding neither a thread nor a transaction.
"""

from __future__ import annotations

import asyncio
import dataclasses

import anyio
import anyio.to_thread
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from starlette.datastructures import State

from tradewind.db import engine as db_engine
from tradewind.sdk import timezone
from tradewind.services import authentication, user_sessions

#: Seconds a failed attempt waits before its answer, to slow down password guessing.
FAILED_LOGIN_DELAY = 0.5
#: Password checks running at once; more would only share the same cores.
CHECKS_AT_ONCE = 2


@dataclasses.dataclass(frozen=True)
class SignedIn:
    """A successful sign-in: what a token carries, and the secret of a new UI session."""

    username: str
    session_stamp: str
    ui_session_secret: str | None


async def sign_in(
    state: State, username: str, password: str, *, open_ui_session: bool = False
) -> SignedIn | None:
    """Check ``password`` and record the outcome; None (after the delay) when it is wrong."""
    signed_in = await anyio.to_thread.run_sync(
        check_password, state.engine, username, password, open_ui_session, limiter=_limiter(state)
    )
    if signed_in is None:
        await asyncio.sleep(FAILED_LOGIN_DELAY)
    return signed_in


def check_password(
    engine: Engine, username: str, password: str, open_ui_session: bool
) -> SignedIn | None:
    """The blocking part of ``sign_in``, for a worker thread."""
    credentials = db_engine.run_in_transaction(
        engine, lambda s: authentication.find(s, username), readonly=True
    )
    matches = authentication.password_matches(credentials, password)
    if credentials is None:
        return None
    if not matches:
        db_engine.run_in_transaction(
            engine, lambda s: authentication.record_failure(s, credentials)
        )
        return None

    def succeed(session: Session) -> SignedIn | None:
        now = timezone.utcnow()
        if not authentication.record_success(session, credentials, now):
            return None
        secret = user_sessions.start(session, credentials.user_id, now) if open_ui_session else None
        return SignedIn(credentials.username, credentials.session_stamp, secret)

    return db_engine.run_in_transaction(engine, succeed)


def _limiter(state: State) -> anyio.CapacityLimiter:
    """The app's limiter for the running event loop (a test client may start several loops)."""
    loop = asyncio.get_running_loop()
    found: tuple[asyncio.AbstractEventLoop, anyio.CapacityLimiter] | None = getattr(
        state, "tradewind_sign_in_limiter", None
    )
    if found is None or found[0] is not loop:
        found = (loop, anyio.CapacityLimiter(CHECKS_AT_ONCE))
        state.tradewind_sign_in_limiter = found
    return found[1]
