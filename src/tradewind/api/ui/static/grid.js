/* Grid view: collapsible task groups, and live colours from grid.json. */
(function () {
  "use strict";
  var container = document.getElementById("grid-container");
  if (!container) { return; }
  var dagId = document.getElementById("grid").getAttribute("data-dag");
  var storeKey = "tw-grid-open:" + dagId;

  function openGroups() {
    try { return JSON.parse(localStorage.getItem(storeKey) || "[]"); } catch (e) { return []; }
  }
  function saveOpen(list) { try { localStorage.setItem(storeKey, JSON.stringify(list)); } catch (e) { /* private mode */ } }

  function applyGroups() {
    var open = openGroups();
    var rows = container.querySelectorAll("tr.task-row");
    var parentOf = {};
    rows.forEach(function (row) { parentOf[row.getAttribute("data-node")] = row.getAttribute("data-parent"); });
    rows.forEach(function (row) {
      var visible = true, parent = row.getAttribute("data-parent");
      while (parent) {
        if (open.indexOf(parent) < 0) { visible = false; break; }
        parent = parentOf[parent];
      }
      row.classList.toggle("hidden", !visible);
      if (row.getAttribute("data-kind") === "group") {
        var twisty = row.querySelector(".twisty");
        if (twisty) { twisty.textContent = open.indexOf(row.getAttribute("data-node")) >= 0 ? "▾" : "▸"; }
      }
    });
  }

  container.addEventListener("click", function (event) {
    var id = event.target.getAttribute && event.target.getAttribute("data-toggle");
    if (!id) { return; }
    var open = openGroups(), at = open.indexOf(id);
    if (at >= 0) { open.splice(at, 1); } else { open.push(id); }
    saveOpen(open);
    applyGroups();
  });
  document.getElementById("expand-all").addEventListener("click", function () {
    var all = [];
    container.querySelectorAll("tr.task-row[data-kind=group]").forEach(function (r) { all.push(r.getAttribute("data-node")); });
    saveOpen(all);
    applyGroups();
  });
  document.getElementById("collapse-all").addEventListener("click", function () { saveOpen([]); applyGroups(); });

  function reloadGrid() {
    return fetch(window.location.href, { credentials: "same-origin", headers: { "X-Tradewind-Partial": "1" } }).then(function (r) { return r.text(); }).then(function (html) {
      var doc = new DOMParser().parseFromString(html, "text/html");
      var fresh = doc.getElementById("grid-container");
      if (fresh) { container.innerHTML = fresh.innerHTML; applyGroups(); }
    });
  }

  function recolour(data) {
    var table = document.getElementById("grid");
    var ids = data.runs.map(function (r) { return r.run_id; }).join("|");
    if (ids !== table.getAttribute("data-runs")) { reloadGrid(); return; }
    var longest = 0;
    data.runs.forEach(function (r) { longest = Math.max(longest, r.duration || 0); });
    data.runs.forEach(function (r) {
      var bar = table.querySelector('.runbar[data-run="' + CSS.escape(r.run_id) + '"]');
      if (bar) {
        tw.setState(bar, r.state);
        bar.style.height = (4 + Math.floor(52 * (r.duration || 0) / (longest || 1))) + "px";
      }
    });
    table.querySelectorAll(".cell[data-node]").forEach(function (cell) {
      var byRun = data.cells[cell.getAttribute("data-node")] || {};
      var value = byRun[cell.getAttribute("data-run")];
      tw.setState(cell, value ? value[0] : null);
      var n = cell.querySelector(".n");
      if (n) { n.textContent = value && value[1] ? value[1] : ""; }
    });
  }

  applyGroups();
  var url = document.getElementById("grid").getAttribute("data-json");
  tw.poll(url, 1500, function (data) { recolour(data); return true; });
})();
