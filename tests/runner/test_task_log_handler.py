"""The try's log handler: a stop signal raised while a record is written is not swallowed."""

from __future__ import annotations

import io
import logging

import pytest

from tradewind.exceptions import TaskTerminated, TaskTimeout
from tradewind.runner.task_process import TaskLogHandler


class _Raising(io.StringIO):
    def __init__(self, error: BaseException | None) -> None:
        super().__init__()
        self.error = error

    def flush(self) -> None:
        if self.error is not None:
            raise self.error


@pytest.fixture
def make_logger():
    made: list[logging.Logger] = []

    def make(stream: io.StringIO) -> logging.Logger:
        logger = logging.getLogger(f"tw-test-{id(stream)}")
        logger.propagate = False
        logger.handlers[:] = [TaskLogHandler(stream)]
        logger.setLevel(logging.INFO)
        made.append(logger)
        return logger

    yield make
    for logger in made:  # logging flushes what is left at exit: nothing may raise then
        for handler in logger.handlers:
            if isinstance(handler.stream, _Raising):
                handler.stream.error = None
            handler.close()
        logger.handlers.clear()


@pytest.mark.parametrize("error", [TaskTerminated("SIGTERM"), TaskTimeout("too long")])
def test_a_stop_raised_while_logging_reaches_the_task(error, make_logger) -> None:
    logger = make_logger(_Raising(error))
    with pytest.raises(type(error)):
        logger.info("hello")


def test_other_errors_while_logging_are_reported_and_swallowed(capsys, make_logger) -> None:
    logger = make_logger(_Raising(ValueError("disk full")))
    logger.info("hello")  # does not raise
    assert "ValueError: disk full" in capsys.readouterr().err


def test_records_are_written(make_logger) -> None:
    stream = io.StringIO()
    make_logger(stream).info("hello %s", "world")
    assert stream.getvalue() == "hello world\n"
