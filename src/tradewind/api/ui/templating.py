"""Rendering UI pages: one Jinja2 environment, and what every page gets besides its own data.

Templates receive plain values from the page handlers (dataclasses, lists, strings) and never
touch the database. Times are written in the viewer's zone: the session's choice, else
``[webserver] default_ui_timezone``.
"""

from __future__ import annotations

from datetime import tzinfo
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from tradewind import __version__
from tradewind.api.permissions import Action
from tradewind.api.ui import formatting
from tradewind.api.ui import session as ui_session

TEMPLATE_DIR = Path(__file__).parent / "templates"
ZONE_SESSION_KEY = "timezone"
PARTIAL_HEADER = "x-tradewind-partial"

#: Pages are never cached (they show live state) and never framed by another site.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

_env = Environment(
    loader=FileSystemLoader(str(TEMPLATE_DIR)),
    autoescape=select_autoescape(["html", "svg"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["duration"] = formatting.fmt_duration
_env.filters["pretty_json"] = formatting.pretty_json
_env.filters["urlpart"] = lambda value: quote(str(value), safe="")
_env.globals["STATE_COLORS"] = formatting.STATE_COLORS
_env.globals["Action"] = Action
_env.globals["version"] = __version__


def default_zone_name(request: Request) -> str:
    return str(request.app.state.settings.get("webserver", "default_ui_timezone") or "UTC")


def ui_zone(request: Request) -> tzinfo:
    """The zone this viewer reads times in."""
    chosen = request.session.get(ZONE_SESSION_KEY) if "session" in request.scope else None
    return formatting.zone_named(chosen, default_zone_name(request))


def url_with(request: Request, **changes: Any) -> str:
    """This page's URL with some query parameters changed (``None`` removes one)."""
    params = dict(request.query_params)
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = str(value)
    query = urlencode(params)
    return request.url.path + ("?" + query if query else "")


def render(
    request: Request, name: str, context: dict[str, Any], *, status_code: int = 200
) -> HTMLResponse:
    zone = ui_zone(request)
    has_session = "session" in request.scope
    user = getattr(request.state, "ui_user", None)
    page = {
        "request": request,
        "user": user,
        "csrf_token": ui_session.csrf_token(request) if has_session else "",
        # A page a script fetches to swap part of itself in leaves the messages to a real page view.
        "flashes": ui_session.take_flashes(request)
        if has_session and PARTIAL_HEADER not in request.headers
        else [],
        "zone": zone,
        "zone_name": formatting.zone_name(zone),
        "zone_label": formatting.zone_label(zone),
        "zone_abbr": formatting.zone_abbreviation(zone),
        "default_zone_name": default_zone_name(request),
        "dt": lambda value, seconds=True: formatting.fmt_datetime(value, zone, seconds=seconds),
        "iso": formatting.iso,
        "url_with": lambda **changes: url_with(request, **changes),
        "path": request.url.path,
        **context,
    }
    html = _env.get_template(name).render(page)
    return HTMLResponse(html, status_code=status_code, headers=PAGE_HEADERS)
