"""``POST /auth/token``: a bearer token for a username and password (Airflow 3's simple auth).

The handler only awaits: the password check and its transactions run in ``sign_in``'s worker
threads, so failed attempts (each delayed) never stall other requests.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from tradewind.api import sign_in

router = APIRouter()


class TokenRequest(BaseModel):
    username: str
    password: str


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"


@router.post(
    "/auth/token",
    status_code=201,
    response_model=TokenResponse,
    tags=["Auth"],
    responses={401: {"description": "Invalid username or password"}},
)
async def create_token(body: TokenRequest, request: Request) -> TokenResponse | JSONResponse:
    signed_in = await sign_in.sign_in(request.app.state, body.username, body.password)
    if signed_in is None:
        return JSONResponse({"detail": "Invalid username or password"}, status_code=401)
    return TokenResponse(
        access_token=request.app.state.tokens.issue(signed_in.username, signed_in.session_stamp)
    )
