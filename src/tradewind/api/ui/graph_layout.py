"""A layered drawing of a DAG, left to right, with task groups as boxes or collapsed nodes.

Pure computation on a ``DagShape``: no database, no user code. The steps:

1. Which nodes are visible: a task whose groups are all expanded, or the outermost collapsed
   group around it. Edges between tasks become edges between their visible nodes.
2. Layers: the longest path from a root (a cycle that collapsing made is broken first).
3. Each expanded group is a block: its children (tasks, collapsed groups, inner blocks) are
   packed in rows, a child taking the first place free in every layer it spans, so a chain
   stays on one line and siblings of one layer stack. Siblings are ordered by the mean
   position of their neighbours (two sweeps), and single nodes are then nudged toward
   their neighbours inside the room the packing left them.
4. Edges are cubic curves from the right side of one node to the left side of the next.

Group boxes never overlap, because a block is placed as a whole.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable

from tradewind.services.ui_structure import DagShape

NODE_H = 38
MIN_W = 120
MAX_W = 250
CHAR_W = 7.2
ROW_GAP = 14
PAD = 12
HEADER = 22
COL_GAP = 56
MARGIN = 16


@dataclasses.dataclass(frozen=True)
class Node:
    node_id: str
    kind: str  # "task" or "group" (a collapsed group)
    label: str
    sublabel: str
    x: float
    y: float
    w: float
    h: float
    is_mapped: bool = False


@dataclasses.dataclass(frozen=True)
class GroupBox:
    group_id: str
    label: str
    x: float
    y: float
    w: float
    h: float
    depth: int


@dataclasses.dataclass(frozen=True)
class Edge:
    source: str
    target: str
    path: str


@dataclasses.dataclass(frozen=True)
class GraphLayout:
    nodes: tuple[Node, ...]
    boxes: tuple[GroupBox, ...]
    edges: tuple[Edge, ...]
    width: float
    height: float


@dataclasses.dataclass
class _Unit:
    """A child of a container: a visible node, or an expanded group's block."""

    unit_id: str
    is_block: bool
    lo: int = 0  # first layer
    hi: int = 0  # last layer
    y: float = 0.0
    h: float = NODE_H
    order: int = 0


def _ancestors(shape: DagShape, node_id: str) -> list[str]:
    """Groups around a task or group, outermost first."""
    chain = []
    parent = shape.group_of(node_id)
    while parent:
        chain.append(parent)
        parent = shape.groups[parent].parent_id
    return list(reversed(chain))


def visible_node(shape: DagShape, task_id: str, expanded: set[str]) -> str:
    for group_id in _ancestors(shape, task_id):
        if group_id not in expanded:
            return group_id
    return task_id


def _layers(nodes: list[str], edges: set[tuple[str, str]]) -> dict[str, int]:
    incoming: dict[str, set[str]] = {n: set() for n in nodes}
    outgoing: dict[str, set[str]] = {n: set() for n in nodes}
    for source, target in edges:
        incoming[target].add(source)
        outgoing[source].add(target)
    remaining = {n: set(incoming[n]) for n in nodes}
    layer: dict[str, int] = {}
    position = {n: i for i, n in enumerate(nodes)}
    while remaining:
        ready = [n for n in remaining if not remaining[n]]
        if not ready:  # a cycle made by collapsing: drop the incoming edges of the earliest node
            victim = min(remaining, key=position.__getitem__)
            remaining[victim] = set()
            ready = [victim]
        for node in sorted(ready, key=position.__getitem__):
            layer[node] = 1 + max((layer[u] for u in incoming[node] if u in layer), default=-1)
            del remaining[node]
            for target in outgoing[node]:
                if target in remaining:
                    remaining[target].discard(node)
    return layer


def layout(shape: DagShape, expanded: Iterable[str] = ()) -> GraphLayout:
    expanded_set = {g for g in expanded if g in shape.groups}
    # An expanded group inside a collapsed one is not shown expanded.
    expanded_set = {g for g in expanded_set if all(a in expanded_set for a in _ancestors(shape, g))}

    rep = {task_id: visible_node(shape, task_id, expanded_set) for task_id in shape.tasks}
    visible: list[str] = []
    for task_id in shape.tasks:
        if rep[task_id] not in visible:
            visible.append(rep[task_id])
    edges: set[tuple[str, str]] = set()
    for task in shape.tasks.values():
        for downstream in task.downstream:
            if downstream in rep and rep[task.task_id] != rep[downstream]:
                edges.add((rep[task.task_id], rep[downstream]))
    layer = _layers(visible, edges)
    neighbours: dict[str, set[str]] = defaultdict(set)
    for source, target in edges:
        neighbours[source].add(target)
        neighbours[target].add(source)

    # Containers: the root (None) and every expanded group; children in definition order.
    children: dict[str | None, list[_Unit]] = defaultdict(list)
    members: dict[str, list[str]] = defaultdict(list)  # block id -> visible nodes inside

    def collect(container: str | None, child_ids: Iterable[str]) -> None:
        for child in child_ids:
            if child in shape.groups and child in expanded_set:
                children[container].append(_Unit(child, True))
                collect(child, shape.groups[child].children)
            elif child in shape.groups or child in shape.tasks:
                children[container].append(_Unit(child, False))
                for group_id in _ancestors(shape, child):
                    members[group_id].append(child)

    collect(None, shape.root_children)
    for units in children.values():
        for index, unit in enumerate(units):
            unit.order = index

    def span(unit: _Unit) -> tuple[int, int]:
        if not unit.is_block:
            return layer[unit.unit_id], layer[unit.unit_id]
        inside = [layer[m] for m in members[unit.unit_id]]
        return (min(inside), max(inside)) if inside else (0, 0)

    center: dict[str, float] = {}
    offset: dict[str | None, float] = {None: 0.0}

    def place(container: str | None) -> float:
        """Place the container's children (relative y); returns the content height."""
        units = children[container]
        for unit in units:
            if unit.is_block:
                unit.h = place(unit.unit_id) + HEADER + PAD
            unit.lo, unit.hi = span(unit)
        if center:
            def key(unit: _Unit) -> tuple[float, int]:
                inside = set(members[unit.unit_id]) if unit.is_block else {unit.unit_id}
                outside = [center[n] for m in inside for n in neighbours[m] if n not in inside and n in center]
                own = [center[m] for m in inside if m in center]
                if outside:
                    return (sum(outside) / len(outside), unit.order)
                return (sum(own) / len(own) if own else 0.0, unit.order)
            units.sort(key=key)
        top: dict[int, float] = defaultdict(float)
        for unit in units:
            unit.y = max(top[layer_index] for layer_index in range(unit.lo, unit.hi + 1))
            for layer_index in range(unit.lo, unit.hi + 1):
                top[layer_index] = unit.y + unit.h + ROW_GAP
        if center:
            _nudge(units, container)
        return max((unit.y + unit.h for unit in units), default=0.0)

    def _nudge(units: list[_Unit], container: str | None) -> None:
        base = offset.get(container, 0.0)
        for unit in units:
            if unit.is_block:
                continue
            pulls = [center[n] for n in neighbours[unit.unit_id] if n in center]
            if not pulls:
                continue
            wanted = sorted(pulls)[len(pulls) // 2] if len(pulls) % 2 else sum(pulls) / len(pulls)
            lo, hi = 0.0, float("inf")
            for other in units:
                if other is unit or other.hi < unit.lo or other.lo > unit.hi:
                    continue
                if other.y < unit.y or (other.y == unit.y and other.order < unit.order):
                    lo = max(lo, other.y + other.h + ROW_GAP)
                else:
                    hi = min(hi, other.y - ROW_GAP - unit.h)
            if lo <= hi:
                unit.y = min(max(wanted - base - unit.h / 2, lo), hi)

    def globals_(container: str | None, origin: float) -> None:
        offset[container] = origin
        for unit in children[container]:
            if unit.is_block:
                globals_(unit.unit_id, origin + unit.y + HEADER)
            else:
                center[unit.unit_id] = origin + unit.y + unit.h / 2

    for _ in range(3):
        height = place(None)
        globals_(None, 0.0)

    # Columns: as wide as their widest label.
    layer_count = max(layer.values(), default=-1) + 1
    widths = [float(MIN_W)] * layer_count
    labels: dict[str, tuple[str, str]] = {}
    for node_id in visible:
        if node_id in shape.tasks:
            task = shape.tasks[node_id]
            label = task.label + (" [ ]" if task.is_mapped else "")
            labels[node_id] = (label, task.operator)
        else:
            group = shape.groups[node_id]
            count = len(group.task_ids)
            labels[node_id] = (group.label, f"{count} task{'' if count == 1 else 's'}")
        text = max(len(labels[node_id][0]), len(labels[node_id][1]))
        widths[layer[node_id]] = max(widths[layer[node_id]], min(MAX_W, 24 + text * CHAR_W))
    nesting = max((len(_ancestors(shape, g)) + 1 for g in expanded_set), default=0)
    gap = COL_GAP + 2 * PAD * nesting
    xs: list[float] = []
    x = MARGIN + PAD * nesting
    for width in widths:
        xs.append(x)
        x += width + gap

    nodes: list[Node] = []
    boxes: list[GroupBox] = []

    def depth_below(group_id: str) -> int:
        inner = [u for u in children[group_id] if u.is_block]
        return 1 + max((depth_below(u.unit_id) for u in inner), default=0)

    def emit(container: str | None, origin: float, depth: int) -> None:
        for unit in children[container]:
            top = origin + unit.y
            if unit.is_block:
                group = shape.groups[unit.unit_id]
                inset = PAD * depth_below(unit.unit_id)
                left = xs[unit.lo] - inset
                right = xs[unit.hi] + widths[unit.hi] + inset
                boxes.append(GroupBox(group.group_id, group.label, left, top, right - left, unit.h, depth))
                emit(unit.unit_id, top + HEADER, depth + 1)
            else:
                label, sublabel = labels[unit.unit_id]
                col = layer[unit.unit_id]
                is_mapped = unit.unit_id in shape.tasks and shape.tasks[unit.unit_id].is_mapped
                nodes.append(Node(unit.unit_id, "task" if unit.unit_id in shape.tasks else "group", label, sublabel,
                                  xs[col], top, widths[col], unit.h, is_mapped))

    emit(None, MARGIN, 0)
    by_id = {node.node_id: node for node in nodes}
    # What stands in each column, for routing edges that cross columns around it.
    blocked: dict[int, list[tuple[float, float, str | None]]] = defaultdict(list)
    for node in nodes:
        blocked[layer[node.node_id]].append((node.y, node.y + node.h, None))
    for box in boxes:
        first = next(i for i, x in enumerate(xs) if x + widths[i] >= box.x)
        last = max(i for i, x in enumerate(xs) if x <= box.x + box.w)
        for column in range(first, last + 1):
            blocked[column].append((box.y, box.y + box.h, box.group_id))
    drawn = []
    for source, target in sorted(edges):
        a, b = by_id[source], by_id[target]
        inside = set(_ancestors(shape, source)) | set(_ancestors(shape, target))
        drawn.append(Edge(source, target, _route(a, b, layer[source], layer[target], xs, widths, blocked, inside)))
    width = (xs[-1] + widths[-1] + PAD * nesting + MARGIN) if xs else 2 * MARGIN
    return GraphLayout(tuple(nodes), tuple(sorted(boxes, key=lambda b: b.depth)), tuple(drawn), width,
                       height + 2 * MARGIN)


def _free_y(wanted: float, obstacles: list[tuple[float, float, str | None]], inside: set[str]) -> float:
    """The height nearest ``wanted`` that passes between the obstacles of a column."""
    spans = sorted((top - ROW_GAP / 2, bottom + ROW_GAP / 2) for top, bottom, group in obstacles
                   if group is None or group not in inside)
    for top, bottom in spans:
        if top < wanted < bottom:
            above, below = top, bottom
            # Walk outward past touching spans on each side and take the nearer exit.
            for other_top, other_bottom in reversed(spans):
                if other_bottom >= above > other_top:
                    above = other_top
            for other_top, other_bottom in spans:
                if other_top <= below < other_bottom:
                    below = other_bottom
            return above if wanted - above <= below - wanted and above > 0 else below
    return wanted


def _route(a: Node, b: Node, first: int, last: int, xs: list[float], widths: list[float],
           blocked: dict[int, list[tuple[float, float, str | None]]], inside: set[str]) -> str:
    """A curve from ``a``'s right side to ``b``'s left side, passing the columns between them
    through free space (as a layered drawing with dummy nodes would)."""
    x1, y1 = a.x + a.w, a.y + a.h / 2
    x2, y2 = b.x, b.y + b.h / 2
    points = [(x1, y1)]
    for column in range(first + 1, last):
        share = (xs[column] - x1) / (x2 - x1) if x2 != x1 else 0.5
        y = _free_y(y1 + (y2 - y1) * share, blocked[column], inside)
        points.append((xs[column], y))
        points.append((xs[column] + widths[column], y))
    points.append((x2, y2))
    path = f"M{x1:.1f},{y1:.1f}"
    for index in range(1, len(points)):
        (px, py), (qx, qy) = points[index - 1], points[index]
        if index % 2 == 0 and index < len(points) - 1:  # straight through a column
            path += f" L{qx:.1f},{qy:.1f}"
            continue
        bend = max(20.0, (qx - px) / 2)
        path += f" C{px + bend:.1f},{py:.1f} {qx - bend:.1f},{qy:.1f} {qx:.1f},{qy:.1f}"
    return path

