"""``POST /auth/token``: a bearer token for a username and password (Airflow 3's simple auth)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel
from sqlalchemy.orm import Session

from tradewind.api.deps import get_session
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


@router.post("/auth/token", status_code=201, response_model=TokenResponse, tags=["Auth"])
async def create_token(body: TokenRequest, request: Request, session: Session = Depends(get_session)) -> TokenResponse:
    if not authenticate(session, body.username, body.password):
        await asyncio.sleep(FAILED_LOGIN_DELAY)  # slows down password guessing
        raise HTTPException(status_code=401, detail="Invalid username or password")
    return TokenResponse(access_token=request.app.state.tokens.issue(body.username))
