/* A layered drawing of a DAG, left to right, with task groups as boxes or collapsed nodes.
 *
 * Pure computation on the structure the server sends (graph.json, see api/ui/models_graph.py):
 * no DOM. The steps:
 * 1. Which nodes are visible: a task whose groups are all open, or the outermost closed
 *    group around it. Edges between tasks become edges between their visible nodes.
 * 2. Layers: the longest path from a root (a cycle that closing groups made is broken first).
 * 3. Each open group is a block: its children (tasks, closed groups, inner blocks) are packed
 *    in rows, a child taking the first place free in every layer it spans, so a chain stays
 *    on one line and siblings of one layer stack. Siblings are ordered by the mean position
 *    of their neighbours (two sweeps), and single nodes are then nudged toward their
 *    neighbours inside the room the packing left them.
 * 4. Edges are cubic curves from the right side of one node to the left side of the next,
 *    passing the columns in between through free space.
 * Group boxes never overlap, because a block is placed as a whole. Every step is linear or
 * n log n in the number of visible nodes and edges, so 5,000 tasks take milliseconds.
 *
 * Node keys are numbers: task i is i, group g is T + g (T tasks).
 */
(function () {
  "use strict";
  var NODE_H = 38, MIN_W = 120, MAX_W = 250, CHAR_W = 7.2, ROW_GAP = 14, PAD = 12, HEADER = 22,
      COL_GAP = 56, MARGIN = 16;

  function relative(id, parentId) {
    return parentId !== null && id.lastIndexOf(parentId + ".", 0) === 0 ? id.slice(parentId.length + 1) : id;
  }

  /* The structure indexed for layouts: parents, labels, group sizes, adjacency. */
  function model(data) {
    var T = data.tasks.length, G = data.groups.length;
    var taskGroup = new Int32Array(T).fill(-1), groupParent = new Int32Array(G).fill(-1);
    var groupDepth = new Int32Array(G), groupCount = new Int32Array(G);
    var groups = data.groups.map(function (g) {
      return { id: g.id, tooltip: g.tooltip || "", children: g.children, label: g.id };
    });
    function walk(children, parent) {
      for (var i = 0; i < children.length; i++) {
        var kid = children[i];
        if (kid >= 0) {
          taskGroup[kid] = parent;
          for (var up = parent; up >= 0; up = groupParent[up]) { groupCount[up]++; }
        } else {
          var g = -kid - 1;
          groupParent[g] = parent;
          groupDepth[g] = parent >= 0 ? groupDepth[parent] + 1 : 1;
          groups[g].label = relative(groups[g].id, parent >= 0 ? groups[parent].id : null);
          walk(groups[g].children, g);
        }
      }
    }
    walk(data.root, -1);
    var tasks = data.tasks.map(function (t, i) {
      var g = taskGroup[i];
      return { id: t[0], label: relative(t[0], g >= 0 ? groups[g].id : null), operator: data.operators[t[1]] || "",
               mapped: t[2] === 1 };
    });
    var byId = Object.create(null);
    tasks.forEach(function (t, i) { byId[t.id] = i; });
    groups.forEach(function (g, i) { if (!(g.id in byId)) { byId[g.id] = T + i; } });
    return { T: T, G: G, tasks: tasks, groups: groups, root: data.root, edges: data.edges, taskGroup: taskGroup,
             groupParent: groupParent, groupDepth: groupDepth, groupCount: groupCount, byId: byId,
             dagId: data.dag_id, version: data.version };
  }

  /* Groups around a node key, innermost first. */
  function ancestors(m, key) {
    var out = [];
    for (var g = key < m.T ? m.taskGroup[key] : m.groupParent[key - m.T]; g >= 0; g = m.groupParent[g]) { out.push(g); }
    return out;
  }

  /* Longest-path layers; a node on a cycle drops the incoming edges still unplaced. */
  function layers(visible, N, outs) {
    var indeg = new Int32Array(N), layer = new Int32Array(N).fill(-1), best = new Int32Array(N);
    var done = new Uint8Array(N), queue = [], head = 0, placed = 0, scan = 0, i, j;
    for (i = 0; i < visible.length; i++) {
      var o = outs[visible[i]];
      for (j = 0; j < o.length; j++) { indeg[o[j]]++; }
    }
    for (i = 0; i < visible.length; i++) { if (indeg[visible[i]] === 0) { queue.push(visible[i]); } }
    while (placed < visible.length) {
      if (head === queue.length) {  // a cycle: the earliest node left drops its unplaced inputs
        while (done[visible[scan]]) { scan++; }
        indeg[visible[scan]] = 0;
        queue.push(visible[scan]);
      }
      var n = queue[head++];
      if (done[n]) { continue; }
      done[n] = 1;
      placed++;
      layer[n] = best[n];
      var out = outs[n];
      for (j = 0; j < out.length; j++) {
        var t = out[j];
        if (done[t]) { continue; }
        if (best[t] < layer[n] + 1) { best[t] = layer[n] + 1; }
        if (--indeg[t] === 0) { queue.push(t); }
      }
    }
    return layer;
  }

  function layout(m, open) {
    var T = m.T, G = m.G, N = T + G, i, j, g;
    // 1. Visible nodes and their edges.
    var shown = new Uint8Array(G);
    for (g = 0; g < G; g++) {  // groups come parents first
      shown[g] = open[g] && (m.groupParent[g] < 0 || shown[m.groupParent[g]]) ? 1 : 0;
    }
    var rep = new Int32Array(T);
    for (i = 0; i < T; i++) {
      rep[i] = i;
      for (g = m.taskGroup[i]; g >= 0; g = m.groupParent[g]) { if (!shown[g]) { rep[i] = T + g; } }
    }
    var visible = [], isVisible = new Uint8Array(N);
    (function walk(children) {
      for (var k = 0; k < children.length; k++) {
        var kid = children[k];
        if (kid >= 0) { visible.push(kid); isVisible[kid] = 1; continue; }
        var gg = -kid - 1;
        if (m.groupCount[gg] === 0) { continue; }
        if (shown[gg]) { walk(m.groups[gg].children); } else { visible.push(T + gg); isVisible[T + gg] = 1; }
      }
    })(m.root);
    var outs = new Array(N), nbrs = new Array(N), seen = new Set(), edges = [];
    for (i = 0; i < visible.length; i++) { outs[visible[i]] = []; nbrs[visible[i]] = []; }
    for (i = 0; i < m.edges.length; i += 2) {
      var a = rep[m.edges[i]], b = rep[m.edges[i + 1]];
      if (a === b || seen.has(a * N + b)) { continue; }
      seen.add(a * N + b);
      edges.push([a, b]);
      outs[a].push(b);
      if (!seen.has(b * N + a)) { nbrs[a].push(b); nbrs[b].push(a); }
    }
    // 2. Layers.
    var layer = layers(visible, N, outs);
    // 3. Containers: the DAG (index 0) and each open group g (index g + 1); children in definition order.
    var units = [[]], members = [], blockOf = new Int32Array(G).fill(-1);
    for (g = 0; g < G; g++) { units.push(null); members.push(null); }
    function collect(container, children) {
      for (var k = 0; k < children.length; k++) {
        var kid = children[k], key, gg = -1;
        if (kid < 0) {
          gg = -kid - 1;
          if (m.groupCount[gg] === 0) { continue; }
        }
        if (gg >= 0 && shown[gg]) {
          units[container + 1].push({ key: T + gg, block: true, lo: 0, hi: 0, y: 0, h: NODE_H, order: 0 });
          units[gg + 1] = [];
          members[gg] = [];
          collect(gg, m.groups[gg].children);
          continue;
        }
        key = gg >= 0 ? T + gg : kid;
        units[container + 1].push({ key: key, block: false, lo: layer[key], hi: layer[key], y: 0, h: NODE_H, order: 0 });
        var up = ancestors(m, key);
        for (j = 0; j < up.length; j++) { members[up[j]].push(key); }
      }
    }
    collect(-1, m.root);
    units.forEach(function (list) { if (list) { list.forEach(function (u, k) { u.order = k; }); } });

    var center = new Float64Array(N), hasCenter = new Uint8Array(N), offset = new Float64Array(G + 1);
    var stamp = new Int32Array(N), stampId = 0, last = [];

    function sortKey(u) {
      var inside = u.block ? members[u.key - T] : [u.key], sum = 0, count = 0, own = 0, owned = 0, k, n;
      stampId++;
      for (k = 0; k < inside.length; k++) { stamp[inside[k]] = stampId; }
      for (k = 0; k < inside.length; k++) {
        var list = nbrs[inside[k]];
        for (n = 0; n < list.length; n++) {
          if (stamp[list[n]] !== stampId && hasCenter[list[n]]) { sum += center[list[n]]; count++; }
        }
        if (hasCenter[inside[k]]) { own += center[inside[k]]; owned++; }
      }
      return count ? sum / count : (owned ? own / owned : 0);
    }

    function place(container, sweep) {
      var list = units[container + 1], k, l;
      for (k = 0; k < list.length; k++) {
        var u = list[k];
        if (u.block) {
          var gg = u.key - T, inside = members[gg];
          u.h = place(gg, sweep) + HEADER + PAD;
          u.lo = Infinity; u.hi = -Infinity;
          for (l = 0; l < inside.length; l++) {
            if (layer[inside[l]] < u.lo) { u.lo = layer[inside[l]]; }
            if (layer[inside[l]] > u.hi) { u.hi = layer[inside[l]]; }
          }
        }
      }
      if (sweep) {
        list.forEach(function (u) { u.key2 = sortKey(u); });
        list.sort(function (p, q) { return p.key2 - q.key2 || p.order - q.order; });
      }
      // Pack: each unit takes the first height free in every layer it spans. `last` remembers
      // the unit above in each layer, so a nudge knows its neighbours in the column.
      var touched = [], bottom = 0, unit, y;
      for (k = 0; k < list.length; k++) {
        unit = list[k];
        y = 0;
        unit.before = unit.after = null;
        for (l = unit.lo; l <= unit.hi; l++) { if (last[l] && last[l].free > y) { y = last[l].free; } }
        unit.y = y;
        unit.free = y + unit.h + ROW_GAP;
        for (l = unit.lo; l <= unit.hi; l++) {
          var above = last[l];
          if (above) {
            if (!above.block) { above.after = unit; }
            if (!unit.block) { unit.before = above; }
          } else {
            touched.push(l);
          }
          last[l] = unit;
        }
      }
      for (k = 0; k < touched.length; k++) { last[touched[k]] = null; }
      if (sweep) { nudge(list, offset[container + 1]); }
      for (k = 0; k < list.length; k++) { bottom = Math.max(bottom, list[k].y + list[k].h); }
      return bottom;
    }

    function nudge(list, base) {
      var pulls = [];
      for (var k = 0; k < list.length; k++) {
        var u = list[k];
        if (u.block) { continue; }
        var n, near = nbrs[u.key], wanted = 0;
        pulls.length = 0;
        for (n = 0; n < near.length; n++) { if (hasCenter[near[n]]) { pulls.push(center[near[n]]); wanted += center[near[n]]; } }
        if (!pulls.length) { continue; }
        if (pulls.length % 2) {
          pulls.sort(function (p, q) { return p - q; });
          wanted = pulls[(pulls.length - 1) / 2];
        } else {
          wanted /= pulls.length;
        }
        var lo = u.before ? u.before.y + u.before.h + ROW_GAP : 0, hi = u.after ? u.after.y - ROW_GAP - u.h : Infinity;
        if (lo <= hi) { u.y = Math.min(Math.max(wanted - base - u.h / 2, lo), hi); }
      }
    }

    function globals(container, origin) {
      offset[container + 1] = origin;
      var list = units[container + 1];
      for (var k = 0; k < list.length; k++) {
        var u = list[k];
        if (u.block) { globals(u.key - T, origin + u.y + HEADER); } else {
          center[u.key] = origin + u.y + u.h / 2;
          hasCenter[u.key] = 1;
        }
      }
    }

    var height = 0;
    for (var sweep = 0; sweep < 3; sweep++) {
      height = place(-1, sweep > 0);
      globals(-1, 0);
    }

    // Columns: as wide as their widest label.
    var layerCount = 0;
    for (i = 0; i < visible.length; i++) { layerCount = Math.max(layerCount, layer[visible[i]] + 1); }
    var widths = new Float64Array(layerCount).fill(MIN_W), labels = new Array(N);
    for (i = 0; i < visible.length; i++) {
      var key = visible[i], label, sub;
      if (key < T) {
        label = m.tasks[key].label + (m.tasks[key].mapped ? " [ ]" : "");
        sub = m.tasks[key].operator;
      } else {
        var count = m.groupCount[key - T];
        label = m.groups[key - T].label;
        sub = count + " task" + (count === 1 ? "" : "s");
      }
      labels[key] = [label, sub];
      var text = Math.max(label.length, sub.length);
      widths[layer[key]] = Math.max(widths[layer[key]], Math.min(MAX_W, 24 + text * CHAR_W));
    }
    var nesting = 0;
    for (g = 0; g < G; g++) { if (shown[g]) { nesting = Math.max(nesting, m.groupDepth[g]); } }
    var gap = COL_GAP + 2 * PAD * nesting, xs = new Float64Array(layerCount), x = MARGIN + PAD * nesting;
    for (i = 0; i < layerCount; i++) { xs[i] = x; x += widths[i] + gap; }

    var nodes = [], boxes = [], byKey = new Array(N), below = new Int32Array(G);
    function depthBelow(gg) {
      if (below[gg]) { return below[gg]; }
      var deepest = 0;
      units[gg + 1].forEach(function (u) { if (u.block) { deepest = Math.max(deepest, depthBelow(u.key - T)); } });
      below[gg] = 1 + deepest;
      return below[gg];
    }
    function emit(container, origin, depth) {
      var list = units[container + 1];
      for (var k = 0; k < list.length; k++) {
        var u = list[k], y = origin + u.y;
        if (u.block) {
          var gg = u.key - T, inset = PAD * depthBelow(gg);
          var left = xs[u.lo] - inset, right = xs[u.hi] + widths[u.hi] + inset;
          boxes.push({ group: gg, id: m.groups[gg].id, label: m.groups[gg].label, x: left, y: y, w: right - left,
                       h: u.h, depth: depth, lo: u.lo, hi: u.hi });
          emit(gg, y + HEADER, depth + 1);
        } else {
          var col = layer[u.key], isTask = u.key < T;
          var node = { key: u.key, id: isTask ? m.tasks[u.key].id : m.groups[u.key - T].id,
                       kind: isTask ? "task" : "group", label: labels[u.key][0], sub: labels[u.key][1],
                       mapped: isTask && m.tasks[u.key].mapped, x: xs[col], y: y, w: widths[col], h: u.h, col: col };
          nodes.push(node);
          byKey[u.key] = node;
        }
      }
    }
    emit(-1, MARGIN, 0);
    boxes.sort(function (p, q) { return p.depth - q.depth; });

    var drawn = route(m, edges, byKey, layer, xs, widths, nodes, boxes, layerCount);
    var width = layerCount ? xs[layerCount - 1] + widths[layerCount - 1] + PAD * nesting + MARGIN : 2 * MARGIN;
    return { nodes: nodes, boxes: boxes, edges: drawn, width: width, height: height + 2 * MARGIN, byKey: byKey,
             shown: shown };
  }

  /* What stands in each column: merged spans of nodes (sorted, disjoint) and group boxes. */
  function obstacles(nodes, boxes, layerCount) {
    var columns = [], c, k;
    for (c = 0; c < layerCount; c++) { columns.push({ spans: [], boxes: [] }); }
    nodes.forEach(function (n) {
      columns[n.col].spans.push([n.y - ROW_GAP / 2, n.y + n.h + ROW_GAP / 2]);
    });
    columns.forEach(function (column) {
      column.spans.sort(function (p, q) { return p[0] - q[0]; });
      var merged = [];
      column.spans.forEach(function (s) {
        var last = merged[merged.length - 1];
        if (last && s[0] <= last[1]) { last[1] = Math.max(last[1], s[1]); } else { merged.push([s[0], s[1]]); }
      });
      column.spans = merged;
    });
    boxes.forEach(function (b) {
      for (k = b.lo; k <= b.hi; k++) { columns[k].boxes.push([b.y - ROW_GAP / 2, b.y + b.h + ROW_GAP / 2, b.group]); }
    });
    return columns;
  }

  /* The span of a column holding y (top < y < bottom, or top < y <= bottom when `closed`). */
  function spanAt(column, y, inside, closed) {
    var spans = column.spans, lo = 0, hi = spans.length - 1, found = null;
    while (lo <= hi) {
      var mid = (lo + hi) >> 1;
      if (spans[mid][0] < y) { found = spans[mid]; lo = mid + 1; } else { hi = mid - 1; }
    }
    if (found && (y < found[1] || closed && y <= found[1])) { return found; }
    for (var k = 0; k < column.boxes.length; k++) {
      var b = column.boxes[k];
      if (!inside[b[2]] && b[0] < y && (y < b[1] || closed && y <= b[1])) { return b; }
    }
    return null;
  }

  /* The height nearest `wanted` that passes between the obstacles of a column. */
  function freeY(column, wanted, inside) {
    var hit = spanAt(column, wanted, inside, false);
    if (!hit) { return wanted; }
    var above = hit[0], below = hit[1], more;
    // Walk outward past touching spans on each side and take the nearer exit.
    while ((more = spanAt(column, above, inside, true))) { above = more[0]; }
    while ((more = spanAt(column, below + 1e-6, inside, false))) { below = more[1]; }
    return wanted - above <= below - wanted && above > 0 ? above : below;
  }

  function route(m, edges, byKey, layer, xs, widths, nodes, boxes, layerCount) {
    var columns = obstacles(nodes, boxes, layerCount), inside = new Uint8Array(m.G), drawn = [];
    edges.sort(function (p, q) { return p[0] - q[0] || p[1] - q[1]; });
    edges.forEach(function (e) {
      var a = byKey[e[0]], b = byKey[e[1]], first = layer[e[0]], last = layer[e[1]];
      var x1 = a.x + a.w, y1 = a.y + a.h / 2, x2 = b.x, y2 = b.y + b.h / 2, points = [[x1, y1]], c, k;
      if (last - first > 1) {
        var up = ancestors(m, e[0]).concat(ancestors(m, e[1]));
        for (k = 0; k < up.length; k++) { inside[up[k]] = 1; }
        for (c = first + 1; c < last; c++) {
          var share = x2 !== x1 ? (xs[c] - x1) / (x2 - x1) : 0.5;
          var y = freeY(columns[c], y1 + (y2 - y1) * share, inside);
          points.push([xs[c], y], [xs[c] + widths[c], y]);
        }
        for (k = 0; k < up.length; k++) { inside[up[k]] = 0; }
      }
      points.push([x2, y2]);
      var path = "M" + x1.toFixed(1) + "," + y1.toFixed(1), minY = Math.min(y1, y2), maxY = Math.max(y1, y2);
      for (k = 1; k < points.length; k++) {
        var p = points[k - 1], q = points[k];
        minY = Math.min(minY, q[1]);
        maxY = Math.max(maxY, q[1]);
        if (k % 2 === 0 && k < points.length - 1) {  // straight through a column
          path += " L" + q[0].toFixed(1) + "," + q[1].toFixed(1);
          continue;
        }
        var bend = Math.max(20, (q[0] - p[0]) / 2);
        path += " C" + (p[0] + bend).toFixed(1) + "," + p[1].toFixed(1) + " " + (q[0] - bend).toFixed(1) + "," +
          q[1].toFixed(1) + " " + q[0].toFixed(1) + "," + q[1].toFixed(1);
      }
      drawn.push({ source: a.id, target: b.id, sourceKey: e[0], targetKey: e[1], d: path,
                   x0: Math.min(x1, x2) - 20, x1: Math.max(x1, x2) + 20, y0: minY, y1: maxY });
    });
    return drawn;
  }

  window.twGraph = { model: model, layout: layout, ancestors: ancestors, NODE_H: NODE_H };
})();
