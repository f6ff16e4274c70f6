// Small progressive enhancements; every page works without this file.
// It also defines window.ydp, the helpers the page scripts share (loaded before them).
(function () {
  "use strict";

  // Text to HTML: whatever a step or an upload wrote (names, labels, thresholds, values) goes
  // through this before it reaches innerHTML or an ECharts tooltip, which is innerHTML too.
  var HTML_ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
  function esc(value) {
    if (value === null || value === undefined) return "";
    return String(value).replace(/[&<>"']/g, function (c) { return HTML_ESCAPES[c]; });
  }
  window.ydp = Object.freeze({ esc: esc });

  function enhance(root) {
    // Dismissible messages.
    root.querySelectorAll("[data-dismiss]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        button.closest(".alert").remove();
      });
    });

    // Forms that submit when a choice changes (the project switcher); a <noscript> button
    // submits them without this file.
    root.querySelectorAll("form[data-autosubmit] select").forEach(function (select) {
      select.addEventListener("change", function () { select.form.submit(); });
    });

    // Copy buttons: data-copy="<selector of the element whose text is copied>".
    root.querySelectorAll("[data-copy]").forEach(function (button) {
      if (!navigator.clipboard) return;
      button.hidden = false;
      button.addEventListener("click", function () {
        var source = document.querySelector(button.getAttribute("data-copy"));
        var label = button.querySelector("[data-copy-label]") || button;
        navigator.clipboard.writeText(source ? source.textContent : "").then(
          function () { label.textContent = "Copied"; },
          function () { label.textContent = "Copy failed"; }
        );
        setTimeout(function () { label.textContent = "Copy"; }, 1800);
      });
    });
  }

  // Menus built on <details>: close on Escape and on a click elsewhere.
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details[open].user-menu, details[open].switcher").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.open = false;
    });
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    document.querySelectorAll("details[open].user-menu, details[open].switcher").forEach(function (menu) {
      menu.open = false;
      var summary = menu.querySelector("summary");
      if (summary) summary.focus();
    });
  });

  document.addEventListener("DOMContentLoaded", function () { enhance(document); });
  document.addEventListener("htmx:load", function (event) { enhance(event.detail.elt); });
})();
