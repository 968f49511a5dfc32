"""Changing a user from the admin page: role, active flag, name and email.

``tradewind.services.users`` creates, deletes and resets passwords; this adds the edit the
users page needs, with the rule that an admin cannot lock themselves out. A new role or a
deactivation ends the user's sessions and tokens: whoever holds them signs in again.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tradewind.db.models import User
from tradewind.exceptions import InvalidArgument
from tradewind.services import user_sessions, users


def update_user(
    session: Session,
    username: str,
    *,
    role: str,
    active: bool,
    email: str | None,
    first_name: str | None,
    last_name: str | None,
    acting_user: str,
) -> users.UserInfo:
    row = users.get_user(session, username)
    role_name = users.check_role(role)
    if username == acting_user and (role_name != row.role or not active):
        raise InvalidArgument(
            "you cannot change your own role or deactivate yourself; ask another admin"
        )
    if (
        row.role == "Admin"
        and (role_name != "Admin" or not active)
        and _other_active_admins(session, username) == 0
    ):
        raise InvalidArgument(f"{username} is the last active admin")
    if role_name != row.role or (row.active and not active):
        user_sessions.end_all(session, row)
    row.role = role_name
    row.active = active
    row.email = email or None
    row.first_name = first_name or None
    row.last_name = last_name or None
    session.flush()
    return users.user_info(row)


def delete_user(session: Session, username: str, *, acting_user: str) -> None:
    if username == acting_user:
        raise InvalidArgument("you cannot delete yourself")
    row = users.get_user(session, username)
    if row.role == "Admin" and row.active and _other_active_admins(session, username) == 0:
        raise InvalidArgument(f"{username} is the last active admin")
    users.delete_user(session, username)


def get_user_info(session: Session, username: str) -> users.UserInfo:
    return users.user_info(users.get_user(session, username))


def _other_active_admins(session: Session, username: str) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(User)
            .where(User.role == "Admin", User.active.is_(True), User.username != username)
        )
        or 0
    )
