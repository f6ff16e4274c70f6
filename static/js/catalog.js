// The Artifacts and Executions lists: the preview drawer (a modal <dialog>) and small touches.
// Every page works without it: a row's link opens the artifact's own page, filters submit.
(function () {
  "use strict";

  function drawer() { return document.getElementById("preview-dialog"); }

  // Open the drawer before the preview is fetched, so that charts drawn on swap have a size.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var target = event.detail.target;
    if (!target || target.id !== "preview-body") return;
    var dialog = drawer();
    if (!dialog) return;
    if (!dialog.open) {
      target.innerHTML = '<p class="drawer-loading" role="status"><span class="spinner" aria-hidden="true"></span>Loading the preview…</p>';
      dialog.showModal();
    }
    document.querySelectorAll("tr.is-previewed").forEach(function (row) { row.classList.remove("is-previewed"); });
    var row = event.detail.elt.closest && event.detail.elt.closest("tr");
    if (row) row.classList.add("is-previewed");
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "preview-body") {
      var close = event.detail.target.querySelector("[data-drawer-close]");
      if (close) close.focus();
    }
  });
  document.addEventListener("htmx:responseError", function (event) {
    if (event.detail.target && event.detail.target.id === "preview-body") {
      event.detail.target.innerHTML = '<p class="alert alert-error" role="alert">The preview could not be loaded (HTTP ' + event.detail.xhr.status + ').</p>';
    }
  });

  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-drawer-close]")) {
      var dialog = event.target.closest("dialog");
      if (dialog) dialog.close();
      return;
    }
    // A click on the backdrop (the dialog element itself, outside its content) closes it.
    var open = drawer();
    if (open && event.target === open) { open.close(); return; }
    // A click anywhere on a row opens its preview, unless it was on a link or control.
    var row = event.target.closest("tr[data-row]");
    if (row && !event.target.closest("a, button, input, select, label")) {
      var link = row.querySelector("[data-preview]");
      if (link) link.click();
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    var dialog = drawer();
    if (!dialog) return;
    dialog.addEventListener("close", function () {
      // Stop whatever the preview runs (an iframe, a chart) and give the row its focus back.
      var body = document.getElementById("preview-body");
      if (body) body.innerHTML = "";
      var row = document.querySelector("tr.is-previewed");
      if (row) {
        row.classList.remove("is-previewed");
        var link = row.querySelector("[data-preview]");
        if (link) link.focus();
      }
    });
  });

  // Pushed URLs carry only the filters in use, not every empty field of the form.
  document.addEventListener("htmx:configRequest", function (event) {
    if (event.detail.verb !== "get" || !event.detail.elt.closest || !event.detail.elt.closest(".catalog-filters")) return;
    var params = event.detail.parameters;
    var names = [];
    if (params instanceof FormData) {
      params.forEach(function (value, name) { if (value === "") names.push(name); });
      names.forEach(function (name) { params.delete(name); });
    } else {
      Object.keys(params).forEach(function (name) { if (params[name] === "") delete params[name]; });
    }
  });
})();
