/* DAG list: draw each DAG's recent runs as bars (height: duration), and keep them current. */
(function () {
  "use strict";
  var data = document.getElementById("run-marks");
  if (!data) { return; }
  var boxes = {};
  document.querySelectorAll(".marks[data-dag]").forEach(function (box) { boxes[box.getAttribute("data-dag")] = box; });

  function draw(marks) {
    Object.keys(marks).forEach(function (dagId) {
      var box = boxes[dagId];
      if (!box) { return; }
      var base = box.closest("tr").querySelector("a.dag-id").getAttribute("href") + "/runs/";
      var fragment = document.createDocumentFragment();
      marks[dagId].forEach(function (bar) {
        var a = document.createElement("a");
        a.href = base + bar[0];
        a.setAttribute("data-state", bar[1]);
        a.style.height = bar[2] + "px";
        a.title = bar[1] + " · " + (bar[3] ? tw.formatTime(new Date(bar[3] * 1000).toISOString(), false) : "-") +
          (bar[4] !== null ? " · " + tw.formatDuration(bar[4]) : "");
        fragment.appendChild(a);
      });
      box.textContent = "";
      box.appendChild(fragment);
      var last = marks[dagId][marks[dagId].length - 1];
      var badge = box.closest("tr").querySelector(".last-state");
      if (badge && last) { tw.setState(badge, last[1]); badge.textContent = last[1]; }
    });
  }

  draw(JSON.parse(data.textContent));
  var ids = Object.keys(boxes);
  if (ids.length && ids.length <= 100) {
    tw.poll("/dags/recent.json?ids=" + encodeURIComponent(ids.join(",")), 3000, function (marks) { draw(marks); return true; });
  }
})();
