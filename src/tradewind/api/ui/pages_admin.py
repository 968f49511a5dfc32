"""Admin pages: variables, connections and pools. Variables and connections are read and
changed by Op and Admin only (as the REST API and Airflow's roles have it; secrets masked even
then); everyone reads pools, Op and Admin change them."""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from tradewind.api.deps import CurrentUser
from tradewind.api.permissions import Action
from tradewind.api.ui import actions, templating
from tradewind.api.ui import session as ui_session
from tradewind.api.ui.routing import UIRoute
from tradewind.exceptions import InvalidArgument, TradewindError
from tradewind.services import connections, paging, pools, variables
from tradewind.services.secrets import MASK, SecretCipher

router = APIRouter(route_class=UIRoute, include_in_schema=False)

PAGE = 100
_TRUE = {"true", "on", "1", "yes"}


def _cipher(request: Request) -> SecretCipher:
    return SecretCipher.from_settings(request.app.state.settings)


def _render(
    request: Request,
    user: CurrentUser,
    template: str,
    context: dict[str, Any],
    status_code: int = 200,
) -> Response:
    return templating.render(
        request,
        template,
        {"section": "admin", "can_edit": user.can(Action.EDIT_CONFIG), **context},
        status_code=status_code,
    )


# -- variables ---------------------------------------------------------------------------------


@router.get("/variables")
def variable_list(
    request: Request,
    q: str = "",
    page: int = 1,
    user: CurrentUser = Depends(ui_session.can(Action.EDIT_CONFIG)),
    session: Session = Depends(ui_session.read_session, scope="function"),
) -> Response:
    page = max(1, page)
    entries, total = variables.list_variables_page(
        session,
        cipher=_cipher(request),
        key_pattern=q.strip() or None,
        order_by="key",
        page=paging.Page(limit=PAGE, offset=(page - 1) * PAGE),
    )
    shown = [(e.key, e.masked_value, e.description, e.is_encrypted) for e in entries]
    return _render(
        request,
        user,
        "variables.html",
        {
            "variables": shown,
            "total": total,
            "page": page,
            "pages": max(1, -(-total // PAGE)),
            "q": q,
        },
    )


@router.get("/variables/new")
def variable_new(
    request: Request, user: CurrentUser = Depends(ui_session.can(Action.EDIT_CONFIG))
) -> Response:
    return _render(
        request,
        user,
        "variable_form.html",
        {
            "form": {"key": "", "value": "", "description": ""},
            "original": None,
            "sensitive": False,
            "error": None,
        },
    )


@router.get("/variables/{key}/edit")
def variable_edit(
    request: Request,
    key: str,
    user: CurrentUser = Depends(ui_session.can(Action.EDIT_CONFIG)),
    session: Session = Depends(ui_session.read_session, scope="function"),
) -> Response:
    entry = variables.get_entry(session, key, cipher=_cipher(request))
    sensitive = entry.masked_value == MASK
    form = {
        "key": entry.key,
        "value": "" if sensitive else (entry.value or ""),
        "description": entry.description or "",
    }
    return _render(
        request,
        user,
        "variable_form.html",
        {"form": form, "original": key, "sensitive": sensitive, "error": None},
    )


@router.post("/variables")
def variable_save(
    request: Request,
    user: CurrentUser = Depends(ui_session.can(Action.EDIT_CONFIG)),
    form: FormData = Depends(ui_session.csrf_form),
) -> Response:
    original = actions.field(form, "original") or None
    key = actions.field(form, "key").strip()
    value = actions.field(form, "value")
    description = actions.field(form, "description")
    cipher = _cipher(request)

    def save(s: Session) -> None:
        if original is None:
            variables.create_variable(s, key, value, cipher=cipher, description=description or None)
            return
        if key != original:
            raise InvalidArgument(
                "a variable's key cannot be changed: create a new one and delete this one"
            )
        keep_value = value == "" and variables.get_entry(s, key, cipher=cipher).masked_value == MASK
        variables.update_variable(
            s,
            key,
            cipher=cipher,
            description=description or None,
            **({} if keep_value else {"value": value}),
        )

    try:
        actions.apply(
            request,
            user,
            "variable_create" if original is None else "variable_edit",
            save,
            extra={"key": key},
        )
    except TradewindError as exc:
        context = {
            "form": {"key": key, "value": value, "description": description},
            "original": original,
            "sensitive": False,
            "error": str(exc),
        }
        return _render(request, user, "variable_form.html", context, status_code=400)
    return actions.outcome(request, None, "/variables", ok=f"Variable {key} saved.")


@router.post("/variables/{key}/delete")
def variable_delete(
    request: Request,
    key: str,
    user: CurrentUser = Depends(ui_session.can(Action.EDIT_CONFIG)),
    form: FormData = Depends(ui_session.csrf_form),
) -> Response:
    return actions.apply_and_answer(
        request,
        user,
        "variable_delete",
        lambda s: variables.delete_variable(s, key),
        extra={"key": key},
        back_to="/variables",
        ok=f"Variable {key} deleted.",
    )


# -- connections -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ConnectionForm:
    conn_id: str = ""
    conn_type: str = ""
    description: str = ""
    host: str = ""
    schema: str = ""
    login: str = ""
    port: str = ""
    extra: str = ""
    has_password: bool = False


@router.get("/connections")
def connection_list(
    request: Request,
    q: str = "",
    user: CurrentUser = Depends(ui_session.can(Action.EDIT_CONFIG)),
    session: Session = Depends(ui_session.read_session, scope="function"),
) -> Response:
    found = [
        c for c in connections.list_connections(session) if q.strip().lower() in c.conn_id.lower()
    ]
    return _render(request, user, "connections.html", {"connections": found, "q": q})


@router.get("/connections/new")
def connection_new(
    request: Request, user: CurrentUser = Depends(ui_session.can(Action.EDIT_CONFIG))
) -> Response:
    return _render(
        request,
        user,
        "connection_form.html",
        {"form": ConnectionForm(), "original": None, "error": None},
    )


@router.get("/connections/{conn_id}/edit")
def connection_edit(
    request: Request,
    conn_id: str,
    user: CurrentUser = Depends(ui_session.can(Action.EDIT_CONFIG)),
    session: Session = Depends(ui_session.read_session, scope="function"),
) -> Response:
    shown = connections.get_connection(session, conn_id, cipher=_cipher(request)).masked()
    form = ConnectionForm(
        conn_id=shown.conn_id,
        conn_type=shown.conn_type,
        description=shown.description or "",
        host=shown.host or "",
        schema=shown.schema or "",
        login=shown.login or "",
        port=str(shown.port or ""),
        extra=shown.extra or "",
        has_password=shown.password is not None,
    )
    return _render(
        request, user, "connection_form.html", {"form": form, "original": conn_id, "error": None}
    )


@router.post("/connections")
def connection_save(
    request: Request,
    user: CurrentUser = Depends(ui_session.can(Action.EDIT_CONFIG)),
    form: FormData = Depends(ui_session.csrf_form),
) -> Response:
    original = actions.field(form, "original") or None
    values: dict[str, Any] = {
        f.name: actions.field(form, f.name).strip()
        for f in dataclasses.fields(ConnectionForm)
        if f.name != "has_password"
    }
    typed = ConnectionForm(**values)
    password = actions.field(form, "password")
    clear_password = actions.field(form, "clear_password") in _TRUE
    cipher = _cipher(request)

    def save(s: Session) -> None:
        fields: dict[str, Any] = {
            "conn_type": typed.conn_type,
            "description": typed.description or None,
            "host": typed.host or None,
            "schema": typed.schema or None,
            "login": typed.login or None,
            "port": connections.parse_port(typed.port or None),
            "extra": connections.parse_extra(typed.extra or None),
        }
        if original is None:
            connections.add_connection(
                s,
                connections.Connection(conn_id=typed.conn_id, password=password or None, **fields),
                cipher=cipher,
            )
            return
        if typed.conn_id != original:
            raise InvalidArgument(
                "a connection's id cannot be changed: create a new one and delete this one"
            )
        if password:
            fields["password"] = password
        elif clear_password:
            fields["password"] = None
        connections.update_connection(s, original, fields, cipher=cipher)

    try:
        actions.apply(
            request,
            user,
            "connection_create" if original is None else "connection_edit",
            save,
            extra={"conn_id": typed.conn_id},
        )
    except TradewindError as exc:
        return _render(
            request,
            user,
            "connection_form.html",
            {
                "form": dataclasses.replace(typed, has_password=bool(original)),
                "original": original,
                "error": str(exc),
            },
            status_code=400,
        )
    return actions.outcome(request, None, "/connections", ok=f"Connection {typed.conn_id} saved.")


@router.post("/connections/{conn_id}/delete")
def connection_delete(
    request: Request,
    conn_id: str,
    user: CurrentUser = Depends(ui_session.can(Action.EDIT_CONFIG)),
    form: FormData = Depends(ui_session.csrf_form),
) -> Response:
    return actions.apply_and_answer(
        request,
        user,
        "connection_delete",
        lambda s: connections.delete_connection(s, conn_id),
        extra={"conn_id": conn_id},
        back_to="/connections",
        ok=f"Connection {conn_id} deleted.",
    )


# -- pools -------------------------------------------------------------------------------------


@router.get("/pools")
def pool_list(
    request: Request,
    user: CurrentUser = Depends(ui_session.page_user),
    session: Session = Depends(ui_session.read_session, scope="function"),
) -> Response:
    return _render(
        request,
        user,
        "pools.html",
        {
            "pools": pools.usage(session, pools.list_pools(session)),
            "default_pool": pools.DEFAULT_POOL,
        },
    )


@router.get("/pools/new")
def pool_new(
    request: Request, user: CurrentUser = Depends(ui_session.can(Action.EDIT_CONFIG))
) -> Response:
    form = {"pool": "", "slots": "128", "description": "", "include_deferred": False}
    return _render(request, user, "pool_form.html", {"form": form, "original": None, "error": None})


@router.get("/pools/{name}/edit")
def pool_edit(
    request: Request,
    name: str,
    user: CurrentUser = Depends(ui_session.can(Action.EDIT_CONFIG)),
    session: Session = Depends(ui_session.read_session, scope="function"),
) -> Response:
    info = pools.get_pool(session, name)
    form = {
        "pool": info.pool,
        "slots": str(info.slots),
        "description": info.description or "",
        "include_deferred": info.include_deferred,
    }
    return _render(request, user, "pool_form.html", {"form": form, "original": name, "error": None})


@router.post("/pools")
def pool_save(
    request: Request,
    user: CurrentUser = Depends(ui_session.can(Action.EDIT_CONFIG)),
    form: FormData = Depends(ui_session.csrf_form),
) -> Response:
    original = actions.field(form, "original") or None
    typed: dict[str, Any] = {
        "pool": actions.field(form, "pool").strip(),
        "slots": actions.field(form, "slots").strip(),
        "description": actions.field(form, "description"),
        "include_deferred": actions.field(form, "include_deferred") in _TRUE,
    }

    def save(s: Session) -> None:
        slots = pools.parse_slots(typed["slots"])
        if original is None:
            pools.create_pool(
                s,
                typed["pool"],
                slots,
                typed["description"] or None,
                include_deferred=bool(typed["include_deferred"]),
            )
            return
        changes: dict[str, Any] = {"slots": slots, "include_deferred": typed["include_deferred"]}
        if original != pools.DEFAULT_POOL:
            changes.update(pool=typed["pool"], description=typed["description"] or None)
        pools.update_pool(s, original, changes)

    try:
        actions.apply(
            request,
            user,
            "pool_create" if original is None else "pool_edit",
            save,
            extra={"pool": typed["pool"], "slots": typed["slots"]},
        )
    except TradewindError as exc:
        return _render(
            request,
            user,
            "pool_form.html",
            {"form": typed, "original": original, "error": str(exc)},
            status_code=400,
        )
    return actions.outcome(request, None, "/pools", ok=f"Pool {typed['pool']} saved.")


@router.post("/pools/{name}/delete")
def pool_delete(
    request: Request,
    name: str,
    user: CurrentUser = Depends(ui_session.can(Action.EDIT_CONFIG)),
    form: FormData = Depends(ui_session.csrf_form),
) -> Response:
    return actions.apply_and_answer(
        request,
        user,
        "pool_delete",
        lambda s: pools.delete_pool(s, name),
        extra={"pool": name},
        back_to="/pools",
        ok=f"Pool {name} deleted.",
    )
