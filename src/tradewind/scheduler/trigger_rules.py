"""Trigger-rule evaluation with skip propagation, exactly as Airflow decides it.

Given the states of a task's direct upstream task instances, decide whether it runs now,
waits, or is settled without running (skipped, upstream_failed, removed).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable

from tradewind.sdk.states import TaskInstanceState as TIS
from tradewind.sdk.trigger_rule import TriggerRule as TR


class Verdict(enum.StrEnum):
    """What the scheduler does with a task instance whose upstream states are known."""

    RUN = "run"
    WAIT = "wait"
    SKIP = "skipped"
    UPSTREAM_FAILED = "upstream_failed"
    REMOVED = "removed"

    @property
    def settled_state(self) -> TIS | None:
        """The state to set without running, for the verdicts that settle the task."""
        return {
            Verdict.SKIP: TIS.SKIPPED,
            Verdict.UPSTREAM_FAILED: TIS.UPSTREAM_FAILED,
            Verdict.REMOVED: TIS.REMOVED,
        }.get(self)


@dataclasses.dataclass(frozen=True)
class UpstreamCounts:
    """How many direct upstream task instances are in each finished state, and in total."""

    total: int
    success: int = 0
    skipped: int = 0
    failed: int = 0
    upstream_failed: int = 0
    removed: int = 0

    @property
    def done(self) -> int:
        return self.success + self.skipped + self.failed + self.upstream_failed + self.removed

    @classmethod
    def from_states(
        cls, states: Iterable[TIS | str | None], total: int | None = None
    ) -> UpstreamCounts:
        """Count states; ``total`` defaults to the number of states given."""
        counts = {"success": 0, "skipped": 0, "failed": 0, "upstream_failed": 0, "removed": 0}
        seen = 0
        for state in states:
            seen += 1
            key = str(state.value if isinstance(state, TIS) else state)
            if key in counts:
                counts[key] += 1
        return cls(total=seen if total is None else total, **counts)


def evaluate(rule: TR | str, upstream: UpstreamCounts, *, map_index: int = -1) -> Verdict:
    """Airflow's TriggerRuleDep with ``flag_upstream_failed=True``."""
    rule = TR(rule)
    if upstream.total == 0 or rule is TR.ALWAYS:
        return Verdict.RUN
    settled = _settle(rule, upstream, map_index)
    if settled is not None:
        return settled
    return Verdict.RUN if _met(rule, upstream, map_index) else Verdict.WAIT


def _settle(rule: TR, up: UpstreamCounts, map_index: int) -> Verdict | None:
    """The state a task takes without running, if its upstream already decides it."""
    upstream_done = up.done >= up.total
    if rule is TR.ALL_SUCCESS:
        if up.upstream_failed or up.failed:
            return Verdict.UPSTREAM_FAILED
        if up.skipped:
            return Verdict.SKIP
        if up.removed and up.success and map_index > -1 and map_index >= up.success:
            return Verdict.REMOVED
    elif rule is TR.ALL_FAILED:
        if up.success or up.skipped:
            return Verdict.SKIP
    elif rule is TR.ONE_SUCCESS:
        if upstream_done and up.done == up.skipped:
            return Verdict.SKIP
        if upstream_done and up.success <= 0:
            return Verdict.UPSTREAM_FAILED
    elif rule is TR.ONE_FAILED:
        if upstream_done and not (up.failed or up.upstream_failed):
            return Verdict.SKIP
    elif rule is TR.ONE_DONE:
        if upstream_done and not (up.failed or up.success):
            return Verdict.SKIP
    elif rule is TR.NONE_FAILED:
        if up.upstream_failed or up.failed:
            return Verdict.UPSTREAM_FAILED
    elif rule is TR.NONE_FAILED_MIN_ONE_SUCCESS:
        if up.upstream_failed or up.failed:
            return Verdict.UPSTREAM_FAILED
        if up.skipped == up.total:
            return Verdict.SKIP
    elif rule is TR.NONE_SKIPPED:
        if up.skipped:
            return Verdict.SKIP
    elif rule is TR.ALL_SKIPPED:
        if up.success or up.failed or up.upstream_failed:
            return Verdict.SKIP
    elif rule is TR.ALL_DONE_MIN_ONE_SUCCESS:
        non_skipped_done = up.success + up.failed + up.upstream_failed + up.removed
        if up.skipped > 0:
            return Verdict.SKIP
        if non_skipped_done >= up.total - up.skipped and up.success == 0:
            return Verdict.UPSTREAM_FAILED
    return None


def _met(rule: TR, up: UpstreamCounts, map_index: int) -> bool:
    """Whether the rule lets the task run now (after ``_settle`` found nothing to settle)."""
    removed = up.removed if map_index > -1 else 0
    if rule is TR.ONE_SUCCESS:
        return up.success > 0
    if rule is TR.ONE_FAILED:
        return bool(up.failed or up.upstream_failed)
    if rule is TR.ONE_DONE:
        return up.success + up.failed > 0
    if rule is TR.ALL_SUCCESS:
        return up.total - up.success - removed <= 0
    if rule is TR.ALL_FAILED:
        return up.total - up.failed - up.upstream_failed - removed <= 0
    if rule is TR.ALL_DONE:
        return up.done >= up.total
    if rule in (TR.NONE_FAILED, TR.NONE_FAILED_MIN_ONE_SUCCESS):
        return up.total - up.success - up.skipped - removed <= 0
    if rule is TR.NONE_SKIPPED:
        return up.done >= up.total and up.skipped == 0
    if rule is TR.ALL_SKIPPED:
        return up.total - up.skipped <= 0
    if rule is TR.ALL_DONE_MIN_ONE_SUCCESS:
        non_skipped_done = up.success + up.failed + up.upstream_failed + up.removed - removed
        return (
            up.skipped == 0
            and non_skipped_done >= up.total - up.skipped - removed
            and up.success > 0
        )
    return True
