// Push, not poll. An element that polls while a run is live ([data-live-poll], an htmx poll
// whose hx-trigger also lists "ydp-push") may name a server-sent events stream
// ([data-live-events]). While that stream is open, the page refreshes the element the moment the
// server says a run changed, and holds its timed poll back (one still goes every SAFETY_MS in
// case an event was lost). When the stream drops, or is refused (429: the server holds too many;
// 503: no push here), the poll runs as before and the page reconnects with a growing delay.
(function () {
  "use strict";

  var SAFETY_MS = 15000;
  var source = null;
  var url = null;
  var open = false;
  var retryMs = 1000;
  var retryTimer = null;
  var lastRefresh = 0;
  var pending = null;

  function state(text) {
    document.documentElement.setAttribute("data-live-stream", text);
  }

  function refresh() {
    pending = null;
    document.querySelectorAll("[data-live-poll]").forEach(function (el) {
      window.htmx.trigger(el, "ydp-push");
    });
  }

  // Events come in bursts (a step ends, the next starts): one refresh for each burst.
  function schedule() {
    if (pending) return;
    var el = document.querySelector("[data-live-events]");
    var delay = el ? +(el.getAttribute("data-live-delay") || 50) : 50;
    pending = setTimeout(refresh, delay);
  }

  function close() {
    if (retryTimer) clearTimeout(retryTimer);
    retryTimer = null;
    if (source) source.close();
    source = null;
    url = null;
    open = false;
  }

  function connect() {
    var el = document.querySelector("[data-live-events]");
    if (!el || !window.EventSource || !window.htmx) {
      if (source || retryTimer) state("closed");
      close();
      return;
    }
    var wanted = el.getAttribute("data-live-events");
    if (wanted === url && (source || retryTimer)) return;
    close();
    url = wanted;
    var es = new EventSource(wanted);
    source = es;
    es.addEventListener("open", function () {
      open = true;
      retryMs = 1000;
      state("open");
      schedule(); // what changed between the page's render and now
    });
    es.addEventListener("change", schedule);
    es.addEventListener("unavailable", function () { es.close(); drop(es); });
    es.addEventListener("error", function () { drop(es); });
  }

  function drop(es) {
    if (es !== source) return;
    open = false;
    state("polling");
    // A dropped stream reconnects by itself; a refused one is closed: try again later.
    if (es.readyState === EventSource.CLOSED) {
      source = null;
      var again = url;
      retryTimer = setTimeout(function () {
        retryTimer = null;
        url = null;
        if (again) connect();
      }, retryMs);
      retryMs = Math.min(retryMs * 2, 30000);
    }
  }

  // The timed poll is held back while the stream is open; a pushed refresh always goes.
  document.addEventListener("htmx:confirm", function (event) {
    var elt = event.detail.elt;
    if (!open || !elt || !elt.hasAttribute("data-live-poll")) return;
    var trigger = event.detail.triggeringEvent;
    if (trigger && trigger.type === "ydp-push") return;
    if (Date.now() - lastRefresh < SAFETY_MS) event.preventDefault();
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var elt = event.detail.elt;
    if (elt && elt.hasAttribute && elt.hasAttribute("data-live-poll")) lastRefresh = Date.now();
  });

  // A swap may end the live part (the run ended: no more [data-live-events]) or start one.
  document.addEventListener("htmx:afterSettle", connect);
  document.addEventListener("DOMContentLoaded", function () {
    lastRefresh = Date.now();
    connect();
  });
  window.addEventListener("pagehide", close);
})();
