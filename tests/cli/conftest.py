"""Fixtures of the CLI tests.

Fixtures
    harness     ``SchedulerHarness`` on a temporary DAG folder (see ``tests/scheduler/conftest.py``)
"""

from __future__ import annotations

from scheduler.conftest import harness  # noqa: F401  (the fixture, re-exported)
