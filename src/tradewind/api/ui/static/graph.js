/* Graph view: fetches the DAG's structure (graph.json) and the run's states, lays the graph
 * out here (graph_layout.js) and draws it as SVG. Only what is near the view is in the
 * page, so a DAG of thousands of tasks pans and zooms smoothly; far out, nodes are drawn
 * as plain coloured boxes. Groups open and close without asking the server again. */
(function () {
  "use strict";
  var wrap = document.getElementById("graph");
  if (!wrap || !window.twGraph) { return; }
  var status = document.getElementById("graph-status");
  var runSelect = document.getElementById("run-select");
  var taskUrl = wrap.getAttribute("data-task-url");
  var detailsUrl = wrap.getAttribute("data-details-url");
  var statesUrl = wrap.getAttribute("data-states");
  var SVGNS = "http://www.w3.org/2000/svg";
  var FAR = 0.45;          // below this zoom, nodes lose their text
  var MIN_HEIGHT = 260, SMALLEST = 140;
  var model = null, drawing = null, open = null, openIds = "", states = {}, found = null;
  var view = { x: 0, y: 0, k: 1 }, rendered = null, frame = 0, svg = null, scene = null;

  function escape(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function fixed(n) { return Math.round(n * 10) / 10; }
  function say(text) {
    status.textContent = text || "";
    status.classList.toggle("hidden", !text);
  }

  /* ---- which groups are open, kept in the address ---- */
  function openFromAddress() {
    var raw = new URLSearchParams(window.location.search).get("expanded") || "";
    var flags = new Uint8Array(model.G);
    if (raw === "*") { flags.fill(1); return flags; }
    raw.split(",").forEach(function (id) {
      var key = model.byId[id];
      if (key !== undefined && key >= model.T) { flags[key - model.T] = 1; }
    });
    return flags;
  }
  function openList() {
    var ids = [];
    for (var g = 0; g < model.G; g++) { if (drawing.shown[g]) { ids.push(model.groups[g].id); } }
    return ids.join(",");
  }
  function groupHref(ids) {
    var params = new URLSearchParams();
    if (runSelect && runSelect.value) { params.set("run_id", runSelect.value); }
    if (ids) { params.set("expanded", ids); }
    return "?" + params.toString();
  }
  function remember() {
    var ids = openIds = openList();
    history.replaceState(null, "", window.location.pathname + groupHref(ids));
    var hidden = document.querySelector('#run-picker input[name="expanded"]');
    if (hidden) { hidden.value = ids; hidden.disabled = !ids; }
  }

  /* ---- drawing ---- */
  function taskHref(id) {
    if (taskUrl) { return taskUrl + "/" + encodeURIComponent(id); }
    return detailsUrl + "#task-" + encodeURIComponent(id);
  }
  function describe(node) {
    var cell = states[node.id], text = node.id;
    if (node.kind === "group") { text += " (task group: click to " + (drawing.shown[node.key - model.T] ? "close" : "open") + ")"; }
    text += " · " + (cell && cell[0] ? cell[0] : "no status");
    if (cell && cell[1]) { text += " · " + cell[1] + " mapped"; }
    return text;
  }
  function nodeMarkup(node, far) {
    var cell = states[node.id], state = cell && cell[0] ? ' data-state="' + escape(cell[0]) + '"' : "";
    var cls = "gnode kind-" + node.kind + (far ? " far" : "") + (found === node.key ? " found" : "");
    var link;
    if (node.kind === "group") {
      link = '<a href="' + escape(groupHref(openIds ? openIds + "," + node.id : node.id)) + '" class="toggle-link" data-toggle="' +
        escape(node.id) + '">';
    } else {
      link = '<a href="' + escape(taskHref(node.id)) + '">';
    }
    var out = '<g class="' + cls + '" data-node="' + escape(node.id) + '"' + state + ' transform="translate(' +
      fixed(node.x) + "," + fixed(node.y) + ')">' + link + "<title>" + escape(describe(node)) + "</title>";
    if (node.mapped) {
      out += '<rect class="mapped" x="4" y="4" width="' + fixed(node.w) + '" height="' + fixed(node.h) + '" rx="5"></rect>';
    }
    out += '<rect class="body" width="' + fixed(node.w) + '" height="' + fixed(node.h) + '"></rect>';
    if (!far) {
      var chars = Math.floor((node.w - 22) / 7.0), label = node.label;
      if (label.length > chars) { label = label.slice(0, chars - 1) + "…"; }
      var sub = (node.kind === "group" ? "▸ " : "") + node.sub.slice(0, chars) + (cell && cell[1] ? " · " + cell[1] + " mapped" : "");
      out += '<rect class="stripe" x="0.5" y="0.5" width="5" height="' + fixed(node.h - 1) + '" rx="2"></rect>' +
        '<text class="label" x="13" y="16">' + escape(label) + '</text><text class="sub" x="13" y="30">' + escape(sub) + "</text>";
    }
    return out + "</a></g>";
  }
  function boxMarkup(box) {
    var rest = openIds.split(",").filter(function (id) {
      return id && id !== box.id && id.lastIndexOf(box.id + ".", 0) !== 0;
    }).join(",");
    return '<g class="box" data-group="' + escape(box.id) + '"><rect x="' + fixed(box.x) + '" y="' + fixed(box.y) +
      '" width="' + fixed(box.w) + '" height="' + fixed(box.h) + '"></rect><a href="' + escape(groupHref(rest)) +
      '" class="toggle-link" data-toggle="' + escape(box.id) + '"><title>' + escape(box.id) +
      ' (task group: click to close)</title><text x="' + fixed(box.x + 8) + '" y="' + fixed(box.y + 15) + '">▾ ' +
      escape(box.label) + "</text></a></g>";
  }

  function size() { return { w: wrap.clientWidth, h: wrap.clientHeight }; }

  /* The part of the drawing near the view, in drawing units: the view and half of it around. */
  function area() {
    var s = size(), x0 = -view.x / view.k, y0 = -view.y / view.k, w = s.w / view.k, h = s.h / view.k;
    return { x0: x0, y0: y0, x1: x0 + w, y1: y0 + h, mx: w / 2, my: h / 2 };
  }
  function render(force) {
    frame = 0;
    var a = area(), far = view.k < FAR;
    scene.setAttribute("transform", "translate(" + fixed(view.x) + "," + fixed(view.y) + ") scale(" + view.k + ")");
    if (!force && rendered && rendered.far === far && a.x0 >= rendered.x0 && a.x1 <= rendered.x1 &&
        a.y0 >= rendered.y0 && a.y1 <= rendered.y1) { return; }
    var r = { x0: a.x0 - a.mx, y0: a.y0 - a.my, x1: a.x1 + a.mx, y1: a.y1 + a.my, far: far };
    var parts = [], i, edgeCount = 0;
    function near(x0, y0, x1, y1) { return x1 >= r.x0 && x0 <= r.x1 && y1 >= r.y0 && y0 <= r.y1; }
    for (i = 0; i < drawing.boxes.length; i++) {
      var box = drawing.boxes[i];
      if (near(box.x, box.y, box.x + box.w, box.y + box.h)) { parts.push(boxMarkup(box)); }
    }
    for (i = 0; i < drawing.edges.length; i++) {
      var e = drawing.edges[i];
      if (near(e.x0, e.y0, e.x1, e.y1)) {
        edgeCount++;
        parts.push('<path class="edge" d="' + e.d + '" marker-end="url(#graph-arrow)" data-source="' + escape(e.source) +
          '" data-target="' + escape(e.target) + '"></path>');
      }
    }
    for (i = 0; i < drawing.nodes.length; i++) {
      var n = drawing.nodes[i];
      if (near(n.x, n.y, n.x + n.w, n.y + n.h)) { parts.push(nodeMarkup(n, far)); }
    }
    scene.innerHTML = parts.join("");
    svg.classList.toggle("dense", edgeCount > 150);
    rendered = r;
  }
  function schedule() { if (!frame) { frame = requestAnimationFrame(function () { render(false); }); } }

  function buildSvg() {
    svg = document.createElementNS(SVGNS, "svg");
    svg.setAttribute("class", "graph");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", "Graph of " + model.dagId);
    svg.innerHTML = '<defs><marker id="graph-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" ' +
      'markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#9aa5b1"></path></marker></defs><g></g>';
    scene = svg.lastChild;
    wrap.insertBefore(svg, wrap.firstChild);
  }

  /* ---- the view: height of the box, zoom and pan ---- */
  /* As tall as the drawing, up to the bottom of the window (never below MIN_HEIGHT then). */
  function fitHeight() {
    var room = window.innerHeight - wrap.getBoundingClientRect().top - window.scrollY - 56;
    var wanted = Math.min(drawing.height + 2, Math.max(room, MIN_HEIGHT));
    wrap.style.height = Math.max(SMALLEST, Math.round(wanted)) + "px";
  }
  function fitScale() {
    var s = size();
    return Math.min(s.w / drawing.width, s.h / drawing.height);
  }
  function limits() { return { lo: Math.min(0.2, fitScale() * 0.9), hi: 2 }; }
  function zoomAt(k, px, py) {
    var l = limits();
    k = Math.min(l.hi, Math.max(l.lo, k));
    view.x = px - (px - view.x) * k / view.k;
    view.y = py - (py - view.y) * k / view.k;
    view.k = k;
    schedule();
  }
  function fit() {
    var s = size(), k = Math.min(1, fitScale());
    view = { k: k, x: k < 1 ? (s.w - drawing.width * k) / 2 : 0, y: k < 1 ? (s.h - drawing.height * k) / 2 : 0 };
    schedule();
  }
  function centerOn(node, k) {
    var s = size();
    view.k = k;
    view.x = s.w / 2 - (node.x + node.w / 2) * k;
    view.y = s.h / 2 - (node.y + node.h / 2) * k;
    schedule();
  }
  /* The whole graph when it is readable that way; else its first task, at a readable size. */
  function firstView() {
    if (fitScale() >= 0.6) { fit(); return; }
    var first = drawing.nodes.reduce(function (best, n) { return !best || n.x < best.x ? n : best; }, null);
    var s = size(), k = 0.8;
    view = { k: k, x: 16 - first.x * k, y: Math.min(0, s.h / 2 - (first.y + first.h / 2) * k) };
    schedule();
  }

  function relayout(anchorId) {
    var before = anchorId ? place(anchorId) : null;
    drawing = window.twGraph.layout(model, open);
    fitHeight();
    var after = anchorId ? place(anchorId) : null;
    if (before && after) {  // keep the group that was clicked where it was
      view.x += (before.x - after.x) * view.k;
      view.y += (before.y - after.y) * view.k;
    }
    if (fitScale() >= 1) { view = { x: 0, y: 0, k: 1 }; }
    remember();
    render(true);
  }
  function place(id) {
    var key = model.byId[id], n = drawing.byKey[key];
    if (n) { return { x: n.x, y: n.y }; }
    for (var i = 0; i < drawing.boxes.length; i++) {
      if (drawing.boxes[i].id === id) { return { x: drawing.boxes[i].x, y: drawing.boxes[i].y }; }
    }
    return null;
  }

  function toggle(id) {
    var g = model.byId[id] - model.T;
    if (!(g >= 0)) { return; }
    if (drawing.shown[g]) {  // closing a group closes the groups inside it too
      for (var h = 0; h < model.G; h++) {
        for (var a = h; a >= 0; a = model.groupParent[a]) { if (a === g) { open[h] = 0; break; } }
      }
    } else {
      open[g] = 1;
      for (var up = model.groupParent[g]; up >= 0; up = model.groupParent[up]) { open[up] = 1; }
    }
    relayout(id);
  }
  function setAll(flag) {
    open.fill(flag);
    relayout(null);
    firstView();
  }

  function find(text) {
    text = text.trim();
    if (!text) { return; }
    var key = model.byId[text], lower = text.toLowerCase();
    if (key === undefined || key >= model.T) {  // else the first task whose id holds the text
      key = undefined;
      for (var i = 0; i < model.T; i++) {
        if (model.tasks[i].id.toLowerCase().indexOf(lower) >= 0) { key = i; break; }
      }
    }
    var input = document.getElementById("graph-find-input");
    if (key === undefined) {
      input.setCustomValidity("No task id contains “" + text + "”");
      input.reportValidity();
      return;
    }
    input.setCustomValidity("");
    var up = window.twGraph.ancestors(model, key), changed = false;
    up.forEach(function (g) { if (!open[g]) { open[g] = 1; changed = true; } });
    found = key;
    if (changed) { relayout(null); }
    centerOn(drawing.byKey[key], Math.max(view.k, 0.8));
    render(true);
  }

  /* ---- states of the run ---- */
  function paint(data) {
    states = data.nodes || {};
    scene.querySelectorAll("g.gnode[data-node]").forEach(function (el) {
      var node = drawing.byKey[model.byId[el.getAttribute("data-node")]];
      var cell = states[el.getAttribute("data-node")];
      tw.setState(el, cell ? cell[0] : null);
      var title = el.querySelector("title");
      if (node && title) { title.textContent = describe(node); }
    });
    var badge = document.getElementById("run-state");
    if (badge) { badge.textContent = data.state; tw.setState(badge, data.state); }
  }
  function follow() {
    if (!statesUrl) { return; }
    var busy = true;
    function tick() {
      if (document.hidden) { setTimeout(tick, 1500); return; }
      tw.getJSON(statesUrl).then(function (data) {
        paint(data);
        busy = !data.state || data.state === "queued" || data.state === "running";
        setTimeout(tick, busy ? 1500 : 10000);
      }).catch(function () { setTimeout(tick, 5000); });
    }
    setTimeout(tick, 1500);
  }

  /* ---- pointer, wheel, keys and buttons ---- */
  function listen() {
    var drag = null, dragged = false;
    svg.addEventListener("pointerdown", function (event) {
      if (event.button !== 0) { return; }
      drag = { x: event.clientX, y: event.clientY, vx: view.x, vy: view.y, id: event.pointerId };
      dragged = false;
    });
    svg.addEventListener("pointermove", function (event) {
      if (!drag) { return; }
      var dx = event.clientX - drag.x, dy = event.clientY - drag.y;
      if (!dragged && Math.abs(dx) + Math.abs(dy) < 4) { return; }
      if (!dragged) { svg.setPointerCapture(drag.id); svg.classList.add("dragging"); }
      dragged = true;
      view.x = drag.vx + dx;
      view.y = drag.vy + dy;
      schedule();
    });
    function stop() { drag = null; svg.classList.remove("dragging"); }
    svg.addEventListener("pointerup", stop);
    svg.addEventListener("pointercancel", stop);
    svg.addEventListener("click", function (event) {
      if (dragged) { event.preventDefault(); event.stopPropagation(); dragged = false; return; }
      var link = event.target.closest && event.target.closest(".toggle-link");
      if (link) {
        event.preventDefault();
        toggle(link.getAttribute("data-toggle"));
      }
    }, true);
    svg.addEventListener("wheel", function (event) {
      event.preventDefault();
      var box = svg.getBoundingClientRect();
      if (event.shiftKey && !event.ctrlKey) {
        view.x -= event.deltaY || event.deltaX;
        schedule();
        return;
      }
      var delta = Math.max(-100, Math.min(100, event.deltaMode === 1 ? event.deltaY * 16 : event.deltaY));
      zoomAt(view.k * Math.exp(-delta * 0.002), event.clientX - box.left, event.clientY - box.top);
    }, { passive: false });
    svg.addEventListener("mouseover", function (event) {
      var node = event.target.closest && event.target.closest("g.gnode");
      scene.querySelectorAll("path.edge.lit").forEach(function (p) { p.classList.remove("lit"); });
      if (!node) { return; }
      var id = CSS.escape(node.getAttribute("data-node"));
      scene.querySelectorAll('path.edge[data-source="' + id + '"], path.edge[data-target="' + id + '"]')
        .forEach(function (p) { p.classList.add("lit"); });
    });
    wrap.addEventListener("keydown", function (event) {
      if (event.target !== wrap) { return; }
      var s = size(), step = 80, moves = { ArrowLeft: [step, 0], ArrowRight: [-step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] };
      if (moves[event.key]) { view.x += moves[event.key][0]; view.y += moves[event.key][1]; schedule(); } else if (event.key === "+" || event.key === "=") {
        zoomAt(view.k * 1.25, s.w / 2, s.h / 2);
      } else if (event.key === "-") { zoomAt(view.k / 1.25, s.w / 2, s.h / 2); } else if (event.key === "0") { fit(); } else { return; }
      event.preventDefault();
    });
    document.getElementById("graph-zoom").addEventListener("click", function (event) {
      var button = event.target.closest("[data-zoom]");
      if (!button) { return; }
      var s = size(), what = button.getAttribute("data-zoom");
      if (what === "in") { zoomAt(view.k * 1.25, s.w / 2, s.h / 2); }
      if (what === "out") { zoomAt(view.k / 1.25, s.w / 2, s.h / 2); }
      if (what === "fit") { fit(); }
      if (what === "reset") { zoomAt(1, s.w / 2, s.h / 2); }
    });
    var expandAll = document.getElementById("graph-expand-all");
    var collapseAll = document.getElementById("graph-collapse-all");
    if (expandAll) { expandAll.addEventListener("click", function () { setAll(1); }); }
    if (collapseAll) { collapseAll.addEventListener("click", function () { setAll(0); }); }
    document.getElementById("graph-find").addEventListener("submit", function (event) {
      event.preventDefault();
      find(document.getElementById("graph-find-input").value);
    });
    document.getElementById("graph-find-input").addEventListener("input", function (event) {
      event.target.setCustomValidity("");
    });
    var resized = 0;
    window.addEventListener("resize", function () {
      clearTimeout(resized);
      resized = setTimeout(function () { fitHeight(); render(true); }, 150);
    });
  }

  function start(data, first) {
    model = window.twGraph.model(data);
    open = openFromAddress();
    if (first) { states = first.nodes || {}; }
    buildSvg();
    drawing = window.twGraph.layout(model, open);
    openIds = openList();
    fitHeight();
    firstView();
    render(true);
    if (first) { paint(first); }
    say(model.T ? "" : "This DAG has no tasks.");
    wrap.setAttribute("data-drawn-ms", String(Math.round(performance.now())));
    wrap.setAttribute("data-ready", "true");
    listen();
    follow();
  }

  Promise.all([tw.getJSON(wrap.getAttribute("data-graph")), statesUrl ? tw.getJSON(statesUrl) : null])
    .then(function (answers) { start(answers[0], answers[1]); })
    .catch(function (error) { say("Could not draw the graph: " + error.message); });
})();
