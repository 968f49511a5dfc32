/* Workers page: redraw the table from /workers.json every few seconds. */
(function () {
  "use strict";
  var table = document.getElementById("workers");
  if (!table) { return; }
  var body = table.querySelector("tbody");
  var empty = body.querySelector("td.empty");
  var emptyText = empty ? empty.textContent : "No worker seen recently.";

  function cell(row, text, className) {
    var td = document.createElement("td");
    if (className) { td.className = className; }
    td.textContent = text === null || text === undefined ? "" : String(text);
    row.appendChild(td);
    return td;
  }

  function draw(data) {
    var fragment = document.createDocumentFragment();
    data.workers.forEach(function (w) {
      var row = document.createElement("tr");
      row.setAttribute("data-worker", w.worker_name);
      cell(row, w.worker_name, "mono");
      var state = document.createElement("span");
      state.className = "state";
      tw.setState(state, w.state);
      state.textContent = w.state;
      cell(row, "").appendChild(state);
      cell(row, w.queues.join(", "), "mono");
      cell(row, w.concurrency);
      cell(row, w.running_tries, "running");
      cell(row, w.pid);
      cell(row, w.started_at ? tw.formatTime(w.started_at) : "", "small");
      cell(row, w.last_heartbeat ? tw.formatTime(w.last_heartbeat) : "", "small");
      fragment.appendChild(row);
    });
    if (!data.workers.length) {
      var row = document.createElement("tr");
      var td = cell(row, emptyText, "empty");
      td.colSpan = 8;
      fragment.appendChild(row);
    }
    body.textContent = "";
    body.appendChild(fragment);
    table.setAttribute("data-drawn", String(Date.now()));
  }

  var every = parseInt(table.getAttribute("data-refresh-ms"), 10) || 5000;
  tw.poll("/workers.json", every, function (data) { draw(data); return true; });
})();
