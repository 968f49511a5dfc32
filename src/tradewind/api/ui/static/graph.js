/* Graph view: expand and collapse task groups without a reload, and live state colours. */
(function () {
  "use strict";
  var wrap = document.getElementById("graph");
  if (!wrap) { return; }
  var runSelect = document.getElementById("run-select");

  function currentRun() { return runSelect ? runSelect.value : ""; }

  function setExpanded(expanded) {
    var params = new URLSearchParams();
    if (currentRun()) { params.set("run_id", currentRun()); }
    if (expanded) { params.set("expanded", expanded); }
    return fetch(wrap.getAttribute("data-fragment") + "?" + params.toString(), { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.text(); })
      .then(function (html) {
        wrap.innerHTML = html;
        history.replaceState(null, "", window.location.pathname + "?" + params.toString());
        var hidden = document.querySelector('#run-picker input[name="expanded"]');
        if (!hidden && expanded) {
          hidden = document.createElement("input");
          hidden.type = "hidden"; hidden.name = "expanded";
          document.getElementById("run-picker").appendChild(hidden);
        }
        if (hidden) { hidden.value = expanded; }
        refresh();
      });
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest(".toggle-link");
    if (!link) { return; }
    event.preventDefault();
    setExpanded(link.getAttribute("data-expanded") || "").catch(function () {
      window.location.href = link.getAttribute("href");
    });
  });

  var lastStates = null;
  function paint(data) {
    lastStates = data;
    wrap.querySelectorAll("g.gnode[data-node]").forEach(function (node) {
      var value = data.nodes[node.getAttribute("data-node")];
      tw.setState(node, value ? value[0] : null);
    });
    var badge = document.getElementById("run-state");
    if (badge) { badge.textContent = data.state; tw.setState(badge, data.state); }
  }
  function refresh() { if (lastStates) { paint(lastStates); } }

  var statesUrl = wrap.getAttribute("data-states");
  if (statesUrl) {
    tw.poll(statesUrl, 1500, function (data) { paint(data); return true; });
  }
})();
