"""``POST /auth/token``: a bearer token for a username and password (Airflow 3's simple auth)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session

from tradewind.api.deps import ApiSession
from tradewind.sdk import timezone
from tradewind.services import users

router = APIRouter()

FAILED_LOGIN_DELAY = 0.5


class TokenRequest(BaseModel):
    username: str
    password: str


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"


def authenticate(session: Session, username: str, password: str) -> bool:
    """Check a password; counts failures and records the last login."""
    try:
        row = users.get_user(session, username)
    except users.UserNotFound:
        return False
    if not row.active or not users.verify_password(row.password_hash, password):
        row.failed_login_count = (row.failed_login_count or 0) + 1
        return False
    row.failed_login_count = 0
    row.last_login = timezone.utcnow()
    return True


@router.post("/auth/token", status_code=201, response_model=TokenResponse, tags=["Auth"],
             responses={401: {"description": "Invalid username or password"}})
async def create_token(body: TokenRequest, request: Request, session: ApiSession) -> TokenResponse | JSONResponse:
    if not authenticate(session, body.username, body.password):
        await asyncio.sleep(FAILED_LOGIN_DELAY)  # slows down password guessing
        # A response, not an exception: the failed-login count must be committed.
        return JSONResponse({"detail": "Invalid username or password"}, status_code=401)
    return TokenResponse(access_token=request.app.state.tokens.issue(body.username))
