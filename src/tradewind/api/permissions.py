"""What each role may do (Airflow's meaning of Admin, Op, User and Viewer)."""

from __future__ import annotations

import enum


class Action(str, enum.Enum):
    READ = "read"                      # every page and GET route
    RUN = "run"                        # trigger, clear, pause, mark state, delete runs
    EDIT_CONFIG = "edit_config"        # variables, connections, pools
    MANAGE_USERS = "manage_users"      # users and roles


ROLE_ACTIONS: dict[str, frozenset[Action]] = {
    "Viewer": frozenset({Action.READ}),
    "User": frozenset({Action.READ, Action.RUN}),
    "Op": frozenset({Action.READ, Action.RUN, Action.EDIT_CONFIG}),
    "Admin": frozenset({Action.READ, Action.RUN, Action.EDIT_CONFIG, Action.MANAGE_USERS}),
}


def allowed(role: str, action: Action) -> bool:
    return action in ROLE_ACTIONS.get(role, frozenset())
