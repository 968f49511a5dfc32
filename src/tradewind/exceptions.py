"""Every error Tradewind raises on purpose derives from ``TradewindError``.

Control flow raised by task code (``SkipTask``, ``FailTask``, ``RescheduleTask``) is kept apart
from errors: it derives from ``TaskControlFlow``, not from ``TradewindError``.
"""

from __future__ import annotations

from datetime import datetime


class TradewindError(Exception):
    """Base of Tradewind's errors."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())


class ConfigError(TradewindError):
    """A setting has an invalid value."""


class DagDefinitionError(TradewindError):
    """A DAG or task is defined in a way Tradewind cannot accept."""


class CycleError(DagDefinitionError):
    """The DAG contains a cycle."""


class DuplicateTaskIdError(DagDefinitionError):
    """Two tasks in one DAG share an id."""


class InvalidIdError(DagDefinitionError):
    """A DAG or task id contains characters that are not allowed."""


class ParamValidationError(TradewindError):
    """A DAG param or a run's conf does not satisfy the params' schema."""


class TemplateError(TradewindError):
    """A template field could not be rendered."""


class DagNotFound(TradewindError):
    """No such DAG."""


class DagRunNotFound(TradewindError):
    """No such DAG run."""


class TaskNotFound(TradewindError):
    """No such task."""


class DagFileImportError(TradewindError):
    """A DAG file could not be imported."""


class MetastoreError(TradewindError):
    """The metadata database could not be used."""


class SecretDecryptionError(MetastoreError):
    """A stored secret could not be decrypted: the
    Fernet key is not the one it was encrypted with."""


class MetastoreUnreachable(MetastoreError):
    """The metadata database cannot be reached."""


class SchemaNotCurrent(MetastoreError):
    """The metadata database's schema is not the one this version of Tradewind expects."""


class BrokerUnreachable(TradewindError):
    """The Celery broker could not be reached."""


class VariableNotFound(TradewindError):
    """No such variable."""


class ConnectionNotFound(TradewindError):
    """No such connection."""


class PoolNotFound(TradewindError):
    """No such pool."""


class InvalidArgument(TradewindError):
    """An argument given by the user is not valid."""


class ValueTooLarge(InvalidArgument):
    """A value given by the user is larger than Tradewind stores."""


class AlreadyExists(TradewindError):
    """The object already exists."""


class InvalidStateTransition(TradewindError):
    """The requested state change is not allowed."""


class TaskControlFlow(Exception):  # noqa: N818 - control flow, not an error
    """Raised by task code to end a try in a given way; not an error."""


class SkipTask(TaskControlFlow):
    """The task ends as skipped."""


class FailTask(TaskControlFlow):
    """The task fails at once, without retrying."""


class TaskTimeout(TradewindError):
    """The task ran longer than its execution_timeout."""


class SensorTimeout(FailTask):
    """A sensor did not succeed within its timeout."""


class RescheduleTask(TaskControlFlow):
    """A sensor in reschedule mode asks to be tried again at ``reschedule_date``."""

    def __init__(self, reschedule_date: datetime) -> None:
        super().__init__(f"rescheduled to {reschedule_date.isoformat()}")
        self.reschedule_date = reschedule_date


# Airflow spellings, so code written for Airflow reads naturally.
AirflowSkipException = SkipTask
AirflowFailException = FailTask
AirflowException = TradewindError
AirflowSensorTimeout = SensorTimeout


class TaskTerminated(TradewindError):
    """The task process was asked to stop (SIGTERM), e.g. because Tradewind is shutting down."""
