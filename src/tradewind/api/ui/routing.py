"""Routes of the UI answer errors with pages, not JSON.

``UIRoute`` wraps each UI handler: a missing login becomes a redirect to ``/login``, a refused
action a 403 page, a domain error (``DagNotFound``...) the page with the status the REST API
would use (``tradewind.api.errors.status_for``), so the mapping stays in one place.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.routing import APIRoute

from tradewind.api import errors
from tradewind.api.ui import session as ui_session
from tradewind.api.ui import templating
from tradewind.exceptions import TradewindError

log = logging.getLogger("tradewind.api.ui")


def _wants_json(request: Request) -> bool:
    return request.url.path.endswith(".json") or "application/json" in request.headers.get(
        "accept", ""
    )


def error_response(request: Request, status: int, title: str, message: str) -> Response:
    if _wants_json(request):
        return JSONResponse({"detail": message}, status_code=status)
    return templating.render(
        request, "error.html", {"title": title, "message": message}, status_code=status
    )


class UIRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def ui_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except ui_session.LoginRequired as exc:
                if _wants_json(request):
                    return JSONResponse({"detail": "Not authenticated"}, status_code=401)
                return RedirectResponse(ui_session.login_url(exc.next_url), status_code=303)
            except ui_session.Forbidden as exc:
                return error_response(request, 403, "Forbidden", str(exc))
            except ui_session.CsrfError as exc:
                return error_response(request, 403, "Form expired", str(exc))
            except RequestValidationError as exc:
                fields = ", ".join(".".join(str(p) for p in e.get("loc", ())) for e in exc.errors())
                return error_response(
                    request, 400, "Bad request", f"Invalid or missing values: {fields}"
                )
            except HTTPException as exc:
                return error_response(request, exc.status_code, "Error", str(exc.detail))
            except TradewindError as exc:
                status = errors.status_for(exc)
                if status >= 500:
                    log.error("%s %s failed: %s", request.method, request.url.path, exc)
                title = "Not found" if status == 404 else "Error"
                return error_response(request, status, title, str(exc))

        return ui_handler
