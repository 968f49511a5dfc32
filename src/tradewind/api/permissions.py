"""What each role may do (Airflow's meaning of Admin, Op, User and Viewer), and what each REST
operation needs.

Airflow's roles, as its auth managers grant them: a Viewer reads DAGs, their code, versions,
runs, task instances, logs, XComs, pools, import errors and the audit log; a User also
triggers, clears, marks and deletes runs and task instances, pauses and deletes DAGs, and
runs backfills; an Op also reads and changes variables and connections (a Viewer or User
sees neither), changes pools and reads the configuration; an Admin also manages users.
"""

from __future__ import annotations

import enum


class Action(enum.StrEnum):
    READ = "read"  # every page and GET route
    RUN = "run"  # trigger, clear, pause, mark state, delete runs
    EDIT_CONFIG = "edit_config"  # variables, connections, pools
    MANAGE_USERS = "manage_users"  # users and roles


ROLE_ACTIONS: dict[str, frozenset[Action]] = {
    "Viewer": frozenset({Action.READ}),
    "User": frozenset({Action.READ, Action.RUN}),
    "Op": frozenset({Action.READ, Action.RUN, Action.EDIT_CONFIG}),
    "Admin": frozenset({Action.READ, Action.RUN, Action.EDIT_CONFIG, Action.MANAGE_USERS}),
}


def allowed(role: str, action: Action) -> bool:
    return action in ROLE_ACTIONS.get(role, frozenset())


_READ, _RUN, _CONFIG = Action.READ, Action.RUN, Action.EDIT_CONFIG

#: The action each REST operation (by its handler's name, the operationId) needs; ``None``:
#: open to anyone.
#: Every operation of the OpenAPI document is listed: a test sends each one as every role
#: and as nobody, and checks the answers against this table.
OPERATION_ACTIONS: dict[str, Action | None] = {
    # Open: sign-in, health and version, as in Airflow.
    "create_token": None,
    "get_health": None,
    "get_version": None,
    # DAGs: read by Viewers, paused, unpaused and deleted by Users.
    "get_dags": _READ,
    "get_dag": _READ,
    "get_dag_details": _READ,
    "get_dag_tags": _READ,
    "get_dag_source": _READ,
    "get_dag_versions": _READ,
    "get_dag_version": _READ,
    "get_tasks": _READ,
    "get_task": _READ,
    "patch_dag": _RUN,
    "patch_dags": _RUN,
    "delete_dag": _RUN,
    # DAG runs: a listing in a body is still a read (Airflow's GET permission).
    "get_dag_runs": _READ,
    "get_list_dag_runs_batch": _READ,
    "get_dag_run": _READ,
    "trigger_dag_run": _RUN,
    "patch_dag_run": _RUN,
    "delete_dag_run": _RUN,
    "clear_dag_run": _RUN,
    # Task instances, their tries, logs and XComs; a dry
    # run of a change needs the change's permission.
    "get_task_instances": _READ,
    "get_task_instance": _READ,
    "get_mapped_task_instances": _READ,
    "get_task_instance_tries": _READ,
    "get_task_instance_try_details": _READ,
    "get_mapped_task_instance_tries": _READ,
    "get_mapped_task_instance_try_details": _READ,
    "get_mapped_task_instance": _READ,
    "get_log": _READ,
    "get_xcom_entries": _READ,
    "get_xcom_entry": _READ,
    "patch_task_instance_dry_run": _RUN,
    "patch_task_instance_dry_run_by_map_index": _RUN,
    "patch_task_instance": _RUN,
    "patch_task_instance_by_map_index": _RUN,
    "post_clear_task_instances": _RUN,
    # Backfills: read by Viewers, created and controlled by Users (they create DAG runs).
    "list_backfills": _READ,
    "get_backfill": _READ,
    "create_backfill": _RUN,
    "create_backfill_dry_run": _RUN,
    "pause_backfill": _RUN,
    "unpause_backfill": _RUN,
    "cancel_backfill": _RUN,
    # Variables and connections hold secrets: Ops only, reading included.
    "get_variables": _CONFIG,
    "get_variable": _CONFIG,
    "post_variable": _CONFIG,
    "patch_variable": _CONFIG,
    "delete_variable": _CONFIG,
    "get_connections": _CONFIG,
    "get_connection": _CONFIG,
    "post_connection": _CONFIG,
    "patch_connection": _CONFIG,
    "delete_connection": _CONFIG,
    # Pools: read by Viewers, changed by Ops.
    "get_pools": _READ,
    "get_pool": _READ,
    "post_pool": _CONFIG,
    "patch_pool": _CONFIG,
    "delete_pool": _CONFIG,
    # Import errors and the audit log: Viewers.
    "get_import_errors": _READ,
    "get_import_error": _READ,
    "get_event_logs": _READ,
    "get_event_log": _READ,
    # Celery workers (Tradewind's own route): Viewers, like the monitor pages.
    "get_workers": _READ,
    # The configuration: Ops.
    "get_config": _CONFIG,
    "get_config_value": _CONFIG,
}
