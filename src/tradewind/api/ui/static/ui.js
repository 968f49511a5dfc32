/* Tradewind UI: small helpers shared by every page. Plain JavaScript, no build. */
(function () {
  "use strict";
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var zone = (document.querySelector('meta[name="ui-zone"]') || {}).content || "UTC";
  var zoneAbbr = (document.querySelector('meta[name="ui-zone-abbr"]') || {}).content || zone;

  function post(url, fields) {
    var body = new URLSearchParams(fields || {});
    body.set("csrf_token", csrf);
    return fetch(url, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf, "Accept": "application/json" }
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) { throw new Error(data.detail || ("HTTP " + response.status)); }
        return data;
      });
    });
  }

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (response.status === 401) { window.location.reload(); throw new Error("signed out"); }
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      });
  }

  /* Call fn with fresh JSON every `every` ms while it returns true; pauses in hidden tabs. */
  function poll(url, every, fn) {
    var timer = null;
    function tick() {
      if (document.hidden) { timer = setTimeout(tick, every); return; }
      getJSON(typeof url === "function" ? url() : url).then(function (data) {
        if (fn(data) !== false) { timer = setTimeout(tick, every); }
      }).catch(function () { timer = setTimeout(tick, every * 2); });
    }
    timer = setTimeout(tick, every);
    return function stop() { clearTimeout(timer); };
  }

  function setState(el, state) {
    if (!el) { return; }
    if (state) { el.setAttribute("data-state", state); } else { el.removeAttribute("data-state"); }
  }

  var formatters = {};
  function formatter(withSeconds) {
    var key = withSeconds === false ? "m" : "s";
    if (!formatters[key]) {
      formatters[key] = new Intl.DateTimeFormat("en-CA", {
        timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit",
        minute: "2-digit", second: withSeconds === false ? undefined : "2-digit", hour12: false
      });
    }
    return formatters[key];
  }

  /* "2024-03-01 09:30:00 KST": the page's zone, as the server writes times. */
  function formatTime(iso, withSeconds) {
    if (!iso) { return "-"; }
    var d = new Date(iso);
    try {
      var p = {};
      formatter(withSeconds).formatToParts(d).forEach(function (part) { p[part.type] = part.value; });
      var hour = p.hour === "24" ? "00" : p.hour;
      var time = hour + ":" + p.minute + (withSeconds === false ? "" : ":" + p.second);
      return p.year + "-" + p.month + "-" + p.day + " " + time + " " + zoneAbbr;
    } catch (e) { return d.toISOString(); }
  }

  function formatDuration(seconds) {
    if (seconds === null || seconds === undefined) { return "-"; }
    if (seconds < 10) { return seconds.toFixed(2) + "s"; }
    if (seconds < 60) { return Math.round(seconds) + "s"; }
    var m = Math.floor(seconds / 60), s = Math.floor(seconds % 60);
    if (m < 60) { return m + "m " + (s < 10 ? "0" : "") + s + "s"; }
    var h = Math.floor(m / 60); m = m % 60;
    if (h < 24) { return h + "h " + (m < 10 ? "0" : "") + m + "m"; }
    return Math.floor(h / 24) + "d " + (h % 24) + "h";
  }

  function startClock() {
    var el = document.getElementById("clock");
    if (!el) { return; }
    function draw() { el.textContent = formatTime(new Date().toISOString(), false); }
    draw();
    setInterval(draw, 15000);
  }

  function zoneSelect() {
    var select = document.getElementById("tz-select");
    if (!select) { return; }
    var local = "";
    try { local = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { local = ""; }
    var exists = Array.prototype.some.call(select.options, function (o) { return o.value === local; });
    if (local && !exists) {
      var option = document.createElement("option");
      option.value = local;
      option.textContent = local + " (browser)";
      select.appendChild(option);
    }
    select.addEventListener("change", function () { select.form.submit(); });
  }

  function pauseToggles() {
    document.querySelectorAll("input[data-pause-url]").forEach(function (box) {
      box.addEventListener("change", function () {
        var paused = !box.checked;
        box.disabled = true;
        post(box.getAttribute("data-pause-url"), { paused: paused ? "true" : "false" }).then(function (data) {
          box.checked = !data.is_paused;
          box.title = data.is_paused ? "Paused: click to unpause" : "Active: click to pause";
        }).catch(function (error) {
          box.checked = paused;
          window.alert("Could not change the DAG: " + error.message);
        }).then(function () { box.disabled = false; });
      });
    });
  }

  function confirms() {
    document.addEventListener("submit", function (event) {
      var form = event.target;
      var text = form.getAttribute && form.getAttribute("data-confirm");
      var submitter = event.submitter;
      if (text && submitter && submitter.getAttribute("data-trigger")) {
        text = "Trigger " + submitter.getAttribute("data-trigger") + " now?";
      }
      if (text && !window.confirm(text)) { event.preventDefault(); }
    }, true);
  }

  document.addEventListener("DOMContentLoaded", function () {
    startClock();
    zoneSelect();
    pauseToggles();
    confirms();
  });

  window.tw = {
    csrf: csrf, zone: zone, post: post, getJSON: getJSON, poll: poll, setState: setState,
    formatTime: formatTime, formatDuration: formatDuration
  };
})();
