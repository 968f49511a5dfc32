"""Text pictures of a DAG: Graphviz DOT, an ASCII layering, and a dependency tree."""

from __future__ import annotations

from tradewind.sdk.dag import DAG
from tradewind.sdk.task_group import TaskGroup


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dot(dag: DAG) -> str:
    """The DAG in DOT, task groups as clusters."""
    lines = [
        f"digraph {_quote(dag.dag_id)} {{",
        "  rankdir=LR;",
        '  node [shape=box, style="rounded,filled", fontname=Helvetica];',
    ]

    def emit_group(group: TaskGroup, indent: str) -> None:
        for child in group.children.values():
            if isinstance(child, TaskGroup):
                lines.append(f"{indent}subgraph {_quote('cluster_' + (child.group_id or ''))} {{")
                lines.append(f"{indent}  label={_quote(child.label or '')};")
                emit_group(child, indent + "  ")
                lines.append(f"{indent}}}")
            else:
                color = getattr(child, "ui_color", "#fff")
                lines.append(f"{indent}{_quote(child.task_id)} [fillcolor={_quote(color)}];")

    emit_group(dag.task_group, "  ")
    for task in dag.tasks:
        for downstream in sorted(task.downstream_task_ids):
            lines.append(f"  {_quote(task.task_id)} -> {_quote(downstream)};")
    lines.append("}")
    return "\n".join(lines)


def layers(dag: DAG) -> list[list[str]]:
    """Tasks by depth: a task sits one layer below its deepest upstream."""
    depth: dict[str, int] = {}
    for task in dag.topological_sort():
        depth[task.task_id] = 1 + max((depth[u] for u in task.upstream_task_ids), default=-1)
    result: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for task_id, level in depth.items():
        result[level].append(task_id)
    return result


def ascii_graph(dag: DAG) -> str:
    """Layers top to bottom, each task with the tasks it feeds."""
    lines = [f"DAG {dag.dag_id}"]
    for index, layer in enumerate(layers(dag)):
        lines.append(f"layer {index}:")
        for task_id in layer:
            downstream = sorted(dag.task_dict[task_id].downstream_task_ids)
            arrow = f" -> {', '.join(downstream)}" if downstream else ""
            lines.append(f"  [{task_id}]{arrow}")
    return "\n".join(lines)


def tree(dag: DAG) -> str:
    """Each root with its downstream tasks indented
    below it (as Airflow's ``tasks list --tree``)."""
    lines: list[str] = []

    def walk(task_id: str, depth: int) -> None:
        task = dag.task_dict[task_id]
        lines.append(f"{'    ' * depth}<Task({type(task).__name__}): {task_id}>")
        for downstream in sorted(task.downstream_task_ids):
            walk(downstream, depth + 1)

    for root in dag.roots:
        walk(root.task_id, 0)
    return "\n".join(lines)
