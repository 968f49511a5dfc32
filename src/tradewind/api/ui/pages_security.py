"""Users (Admin only) and the audit log (everyone who signs in)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from tradewind.api.deps import CurrentUser
from tradewind.api.permissions import Action
from tradewind.api.ui import actions, templating
from tradewind.api.ui import session as ui_session
from tradewind.api.ui.pages_dags import dag_url
from tradewind.api.ui.routing import UIRoute
from tradewind.db.models import BUILTIN_ROLES
from tradewind.exceptions import TradewindError
from tradewind.sdk import timezone
from tradewind.services import audit, paging, user_admin, user_sessions, users

router = APIRouter(route_class=UIRoute, include_in_schema=False)

_TRUE = {"true", "on", "1", "yes"}
AUDIT_PAGE = 50


def _render(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> Response:
    return templating.render(
        request,
        template,
        {"section": "admin", "roles": BUILTIN_ROLES, **context},
        status_code=status_code,
    )


@router.get("/users")
def user_list(
    request: Request,
    user: CurrentUser = Depends(ui_session.can(Action.MANAGE_USERS)),
    session: Session = Depends(ui_session.read_session, scope="function"),
) -> Response:
    return _render(request, "users.html", {"users": users.list_users(session)})


@router.get("/users/new")
def user_new(
    request: Request, user: CurrentUser = Depends(ui_session.can(Action.MANAGE_USERS))
) -> Response:
    form = {
        "username": "",
        "role": "Viewer",
        "email": "",
        "first_name": "",
        "last_name": "",
        "active": True,
    }
    return _render(request, "user_form.html", {"form": form, "original": None, "error": None})


@router.get("/users/{username}/edit")
def user_edit(
    request: Request,
    username: str,
    user: CurrentUser = Depends(ui_session.can(Action.MANAGE_USERS)),
    session: Session = Depends(ui_session.read_session, scope="function"),
) -> Response:
    info = user_admin.get_user_info(session, username)
    form = {
        "username": info.username,
        "role": info.role,
        "email": info.email or "",
        "first_name": info.first_name or "",
        "last_name": info.last_name or "",
        "active": info.active,
    }
    return _render(request, "user_form.html", {"form": form, "original": username, "error": None})


@router.post("/users")
def user_save(
    request: Request,
    user: CurrentUser = Depends(ui_session.can(Action.MANAGE_USERS)),
    form: FormData = Depends(ui_session.csrf_form),
) -> Response:
    original = actions.field(form, "original") or None
    typed: dict[str, Any] = {
        name: actions.field(form, name).strip()
        for name in ("username", "role", "email", "first_name", "last_name")
    }
    typed["active"] = actions.field(form, "active") in _TRUE
    password = actions.field(form, "password")

    def save(s: Session) -> str | None:
        if original is None:
            users.create_user(
                s,
                username=typed["username"],
                password=password,
                role=typed["role"],
                email=typed["email"] or None,
                first_name=typed["first_name"] or None,
                last_name=typed["last_name"] or None,
            )
            return None
        user_admin.update_user(
            s,
            original,
            role=typed["role"],
            active=typed["active"],
            email=typed["email"],
            first_name=typed["first_name"],
            last_name=typed["last_name"],
            acting_user=user.username,
        )
        if not password:
            return None
        users.reset_password(s, original, password)
        if original != user.username:
            return None
        # A new password ends every session of its user; the browser that set it stays signed in.
        return user_sessions.start(s, users.get_user(s, original).id, timezone.utcnow())

    name = original or typed["username"]
    try:
        own_new_session = actions.apply(
            request,
            user,
            "user_create" if original is None else "user_edit",
            save,
            extra={"username": name, "role": typed["role"], "password_changed": bool(password)},
        )
    except TradewindError as exc:
        return _render(
            request,
            "user_form.html",
            {"form": typed, "original": original, "error": str(exc)},
            status_code=400,
        )
    if own_new_session is not None:
        ui_session.rotate(request, own_new_session)
    return actions.outcome(request, None, "/users", ok=f"User {name} saved.")


@router.post("/users/{username}/delete")
def user_delete(
    request: Request,
    username: str,
    user: CurrentUser = Depends(ui_session.can(Action.MANAGE_USERS)),
    form: FormData = Depends(ui_session.csrf_form),
) -> Response:
    return actions.apply_and_answer(
        request,
        user,
        "user_delete",
        lambda s: user_admin.delete_user(s, username, acting_user=user.username),
        extra={"username": username},
        back_to="/users",
        ok=f"User {username} deleted.",
    )


@router.get("/audit-log")
def audit_log(
    request: Request,
    dag_id: str = "",
    event: str = "",
    owner: str = "",
    page: int = 1,
    user: CurrentUser = Depends(ui_session.page_user),
    session: Session = Depends(ui_session.read_session, scope="function"),
) -> Response:
    page = max(1, page)
    where = audit.EventFilter(
        dag_id_pattern=dag_id.strip() or None,
        event_pattern=event.strip() or None,
        owner_pattern=owner.strip() or None,
    )
    rows, total = audit.list_events(
        session,
        where,
        order_by="-id",
        page=paging.Page(limit=AUDIT_PAGE, offset=(page - 1) * AUDIT_PAGE),
    )
    entries = [AuditRow.of(row) for row in rows]
    return templating.render(
        request,
        "audit.html",
        {
            "entries": entries,
            "total": total,
            "page": page,
            "pages": max(1, -(-total // AUDIT_PAGE)),
            "dag_id": dag_id,
            "event": event,
            "owner": owner,
            "dag_url": dag_url,
            "section": "browse",
        },
    )


@dataclasses.dataclass(frozen=True)
class AuditRow:
    """One audit entry as plain values."""

    dttm: datetime
    event: str
    owner: str | None
    dag_id: str | None
    run_id: str | None
    task_id: str | None
    map_index: int | None
    extra: Any

    @classmethod
    def of(cls, row: Any) -> AuditRow:
        return cls(
            row.dttm,
            row.event,
            row.owner,
            row.dag_id,
            row.run_id,
            row.task_id,
            row.map_index,
            row.extra,
        )
