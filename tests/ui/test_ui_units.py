"""Pure parts of the UI: DAG shapes, time formatting, the code highlighter, grid summaries."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from markupsafe import Markup

from tradewind import DAG, serialization
from tradewind.api.ui import formatting, highlight, models_grid, models_structure
from tradewind.db.models import DagVersion

from .helpers import nested_dag


def shape_of(dag: DAG) -> models_structure.DagShape:
    version = DagVersion(
        id=1, dag_id=dag.dag_id, version_number=1, serialized_dag="", content_hash=""
    )
    return models_structure._shape(serialization.deserialize_dag(serialization.dumps(dag)), version)


def test_shape_rows_and_labels() -> None:
    shape = shape_of(nested_dag())
    rows = [(r.kind, r.node_id, r.label, r.depth) for r in shape.rows]
    assert rows[:5] == [
        ("task", "start", "start", 0),
        ("group", "outer", "outer", 0),
        ("group", "outer.inner", "inner", 1),
        ("task", "outer.inner.a", "a", 2),
        ("task", "outer.inner.b", "b", 2),
    ]
    assert shape.groups["outer"].task_ids == ("outer.inner.a", "outer.inner.b", "outer.c")


def test_summary_state_uses_airflows_priority() -> None:
    assert models_grid.summary_state(["success", "failed", "running"]) == "failed"
    assert models_grid.summary_state(["success", "running"]) == "running"
    assert models_grid.summary_state(["success", None]) is None
    assert models_grid.summary_state(["success", "skipped"]) == "success"
    assert models_grid.summary_state([]) is None


def test_times_are_written_in_the_zone_with_its_name() -> None:
    moment = datetime(2024, 3, 1, 0, 30, tzinfo=UTC)
    assert formatting.fmt_datetime(moment, ZoneInfo("Asia/Seoul")) == "2024-03-01 09:30:00 KST"
    assert formatting.fmt_datetime(moment, UTC, seconds=False) == "2024-03-01 00:30 UTC"
    assert formatting.fmt_datetime(None, UTC) == "-"
    assert formatting.zone_label(ZoneInfo("Asia/Seoul"), moment) == "Asia/Seoul (UTC+09:00)"
    assert formatting.zone_named("Nowhere/Land", "Asia/Seoul") == ZoneInfo("Asia/Seoul")
    assert formatting.fmt_duration(0.4) == "0.40s" and formatting.fmt_duration(184) == "3m 04s"
    assert formatting.fmt_duration(7300) == "2h 01m" and formatting.fmt_duration(None) == "-"


def test_highlighter_escapes_and_marks_tokens() -> None:
    lines = highlight.python_lines('x = "<b>"  # note\n@task\ndef f():\n    """a\n    doc"""\n')
    assert all(isinstance(line, Markup) for line in lines)
    assert (
        lines[0]
        == 'x = <span class="str">&#34;&lt;b&gt;&#34;</span>  <span class="com"># note</span>'
    )
    assert '<span class="kw">def</span>' in lines[2]
    assert lines[3].startswith('    <span class="str">') and lines[4].endswith("</span>")
    assert len(highlight.python_lines("def broken(:\n")) == 1
