"""ORM models of the metastore, one module per concept.

Importing this package registers every table on ``tradewind.db.base.Base.metadata``.
"""

from __future__ import annotations

from tradewind.db.models.auth import BUILTIN_ROLES, Role, User, UserSession
from tradewind.db.models.backfill import (
    Backfill,
    BackfillDagRun,
    BackfillState,
    ReprocessBehavior,
)
from tradewind.db.models.celery_worker import CeleryWorker
from tradewind.db.models.connection import ConnectionRow
from tradewind.db.models.dag import Dag, DagBundle, DagTag, DagVersion
from tradewind.db.models.execution import ExecutionEvent
from tradewind.db.models.import_error import ParseImportError
from tradewind.db.models.job import Job, JobState, JobType
from tradewind.db.models.log import Log
from tradewind.db.models.pool import DEFAULT_POOL_NAME, SlotPool
from tradewind.db.models.run import DagRun
from tradewind.db.models.task_instance import TaskInstance, TaskInstanceHistory
from tradewind.db.models.variable import Variable
from tradewind.db.models.xcom import RETURN_VALUE_KEY, XCom

__all__ = [
    "BUILTIN_ROLES",
    "DEFAULT_POOL_NAME",
    "RETURN_VALUE_KEY",
    "Backfill",
    "BackfillDagRun",
    "BackfillState",
    "CeleryWorker",
    "ConnectionRow",
    "Dag",
    "DagBundle",
    "DagRun",
    "DagTag",
    "DagVersion",
    "ExecutionEvent",
    "Job",
    "JobState",
    "JobType",
    "Log",
    "ParseImportError",
    "ReprocessBehavior",
    "Role",
    "SlotPool",
    "TaskInstance",
    "TaskInstanceHistory",
    "User",
    "UserSession",
    "Variable",
    "XCom",
]
