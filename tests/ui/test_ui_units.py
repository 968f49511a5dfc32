"""Pure parts of the UI: graph layout, time formatting, the code highlighter, grid summaries."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from markupsafe import Markup

from tradewind import DAG, EmptyOperator, TaskGroup, serialization
from tradewind.api.ui import formatting, graph_layout, highlight
from tradewind.db.models import DagVersion
from tradewind.services import ui_grid, ui_structure

from .helpers import grouped_dag


def shape_of(dag: DAG) -> ui_structure.DagShape:
    version = DagVersion(id=1, dag_id=dag.dag_id, version_number=1, serialized_dag="", content_hash="")
    return ui_structure._shape(serialization.deserialize_dag(serialization.dumps(dag)), version)


def overlaps(a: graph_layout.Node | graph_layout.GroupBox, b: graph_layout.Node | graph_layout.GroupBox) -> bool:
    return a.x < b.x + b.w and b.x < a.x + a.w and a.y < b.y + b.h and b.y < a.y + a.h


def nested_dag() -> DAG:
    with DAG("nested", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
        start = EmptyOperator(task_id="start")
        with TaskGroup("outer"):
            with TaskGroup("inner"):
                a = EmptyOperator(task_id="a")
                b = EmptyOperator(task_id="b")
            c = EmptyOperator(task_id="c")
        with TaskGroup("side"):
            d = EmptyOperator(task_id="d")
        end = EmptyOperator(task_id="end")
        start >> [a, b, d]
        a >> c
        [b, c, d] >> end
    return dag


def test_collapsed_groups_are_single_nodes_with_edges_between_them() -> None:
    drawing = graph_layout.layout(shape_of(grouped_dag()))
    assert {n.node_id for n in drawing.nodes} == {"start", "etl", "each", "end"}
    assert {(e.source, e.target) for e in drawing.edges} == {("start", "etl"), ("etl", "each"), ("each", "end")}
    etl = next(n for n in drawing.nodes if n.node_id == "etl")
    assert etl.kind == "group" and etl.sublabel == "2 tasks"
    assert next(n for n in drawing.nodes if n.node_id == "each").is_mapped


def test_layers_go_left_to_right_and_nothing_overlaps() -> None:
    shape = shape_of(nested_dag())
    for expanded in ([], ["outer"], ["outer", "outer.inner"], ["outer", "outer.inner", "side"]):
        drawing = graph_layout.layout(shape, expanded)
        by_id = {n.node_id: n for n in drawing.nodes}
        for edge in drawing.edges:
            assert by_id[edge.source].x < by_id[edge.target].x, (expanded, edge)
        for a, b in itertools.combinations(drawing.nodes, 2):
            assert not overlaps(a, b), (expanded, a, b)
        for box in drawing.boxes:
            members = [n for n in drawing.nodes if shape.tasks.get(n.node_id) and
                       box.group_id in graph_layout._ancestors(shape, n.node_id)]
            assert members
            for node in members:  # a group's box holds its tasks
                assert box.x <= node.x and node.x + node.w <= box.x + box.w
                assert box.y <= node.y and node.y + node.h <= box.y + box.h
            for other in drawing.nodes:
                if other not in members and shape.tasks.get(other.node_id):
                    assert not overlaps(box, other), (expanded, box, other)
        assert drawing.width > 0 and drawing.height > 0


def test_an_inner_group_is_not_expanded_inside_a_collapsed_one() -> None:
    drawing = graph_layout.layout(shape_of(nested_dag()), ["outer.inner"])
    assert "outer" in {n.node_id for n in drawing.nodes}
    assert drawing.boxes == ()


def test_a_cycle_made_by_collapsing_is_drawn() -> None:
    with DAG("loop", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
        with TaskGroup("g"):
            a = EmptyOperator(task_id="a")
            c = EmptyOperator(task_id="c")
        b = EmptyOperator(task_id="b")
        a >> b >> c
    drawing = graph_layout.layout(shape_of(dag))
    assert {(e.source, e.target) for e in drawing.edges} == {("g", "b"), ("b", "g")}


def test_shape_rows_and_labels() -> None:
    shape = shape_of(nested_dag())
    rows = [(r.kind, r.node_id, r.label, r.depth) for r in shape.rows]
    assert rows[:5] == [("task", "start", "start", 0), ("group", "outer", "outer", 0),
                        ("group", "outer.inner", "inner", 1), ("task", "outer.inner.a", "a", 2),
                        ("task", "outer.inner.b", "b", 2)]
    assert shape.groups["outer"].task_ids == ("outer.inner.a", "outer.inner.b", "outer.c")


def test_summary_state_uses_airflows_priority() -> None:
    assert ui_grid.summary_state(["success", "failed", "running"]) == "failed"
    assert ui_grid.summary_state(["success", "running"]) == "running"
    assert ui_grid.summary_state(["success", None]) is None
    assert ui_grid.summary_state(["success", "skipped"]) == "success"
    assert ui_grid.summary_state([]) is None


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
    assert lines[0] == 'x = <span class="str">&#34;&lt;b&gt;&#34;</span>  <span class="com"># note</span>'
    assert '<span class="kw">def</span>' in lines[2]
    assert lines[3].startswith('    <span class="str">') and lines[4].endswith("</span>")
    assert len(highlight.python_lines("def broken(:\n")) == 1
