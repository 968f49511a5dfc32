/* Task log: follow the log of a running try by asking for what was written since the last read. */
(function () {
  "use strict";
  var pre = document.getElementById("log");
  if (!pre) { return; }
  var follow = document.getElementById("follow");
  var state = document.getElementById("ti-state");
  var offset = parseInt(pre.getAttribute("data-offset") || "0", 10);
  var base = pre.getAttribute("data-url");

  /* The try is over: bring its final times and states into the page, leaving the log alone. */
  function refreshDetails() {
    fetch(window.location.href, { credentials: "same-origin", headers: { "X-Tradewind-Partial": "1" } })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        ["ti-details", "tries", "try-tabs", "ti-state"].forEach(function (id) {
          var now = document.getElementById(id), next = fresh.getElementById(id);
          if (now && next) { now.replaceWith(next); }
        });
      });
  }

  function atBottom() { return pre.scrollHeight - pre.scrollTop - pre.clientHeight < 40; }
  if (pre.textContent) { pre.scrollTop = pre.scrollHeight; }
  if (pre.getAttribute("data-done")) { return; }
  follow.classList.remove("hidden");

  tw.poll(function () { return base + "&offset=" + offset; }, 1000, function (data) {
    if (data.text) {
      var stick = atBottom();
      if (offset === 0 && pre.textContent.indexOf("*** No log yet") === 0) { pre.textContent = ""; }
      pre.appendChild(document.createTextNode(data.text));
      if (stick) { pre.scrollTop = pre.scrollHeight; }
    }
    offset = data.offset;
    if (state) { tw.setState(state, data.state); state.textContent = data.state || "no status"; }
    if (data.end_of_log) {
      follow.classList.add("hidden");
      refreshDetails();
      return false;
    }
    return true;
  });
})();
