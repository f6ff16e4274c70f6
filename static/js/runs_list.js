// The runs list: row selection (Compare / Clone links) and the "add a metric filter" row.
(function () {
  "use strict";

  function picks(table) {
    return Array.from(table.querySelectorAll("input.rl-pick"));
  }

  function refresh(root) {
    const table = root.querySelector("#run-table");
    if (!table) return;
    const bar = table.querySelector("[data-run-selection]");
    if (!bar) return;
    const ids = picks(table).filter((box) => box.checked).map((box) => box.value);
    bar.hidden = ids.length === 0;
    const count = bar.querySelector("[data-selected-count]");
    if (count) count.textContent = ids.length + " selected";
    const compare = bar.querySelector("[data-compare]");
    if (compare) {
      const ok = ids.length >= 2 && ids.length <= 10;
      compare.href = compare.dataset.base + "?runs=" + ids.join(",");
      compare.classList.toggle("is-disabled", !ok);
      compare.setAttribute("aria-disabled", ok ? "false" : "true");
      compare.title = ok ? "Compare the selected runs" : "Select 2 to 10 runs to compare";
    }
    const clone = bar.querySelector("[data-clone]");
    if (clone) {
      const ok = ids.length === 1;
      clone.href = clone.dataset.base + (ok ? "?clone=" + ids[0] : "");
      clone.classList.toggle("is-disabled", !ok);
      clone.setAttribute("aria-disabled", ok ? "false" : "true");
      clone.title = ok ? "Open the run form with this run's settings" : "Select one run to clone";
    }
    const remove = bar.querySelector("[data-delete]");
    if (remove) {
      // The confirmation page lists the runs and deletes them by POST; then back here.
      remove.href = remove.dataset.base + "?runs=" + ids.join(",") +
        "&next=" + encodeURIComponent(remove.dataset.next);
    }
    const all = table.querySelector("[data-select-all]");
    if (all) {
      const boxes = picks(table);
      all.checked = boxes.length > 0 && ids.length === boxes.length;
      all.indeterminate = ids.length > 0 && ids.length < boxes.length;
    }
    table.querySelectorAll("[data-selected-ids]").forEach((input) => {
      input.value = ids.join(",");
    });
  }

  document.addEventListener("change", (event) => {
    const target = event.target;
    if (!(target instanceof HTMLInputElement)) return;
    if (target.matches("[data-select-all]")) {
      const table = target.closest("#run-table");
      picks(table).forEach((box) => { box.checked = target.checked; });
    }
    if (target.matches("[data-select-all], input.rl-pick")) refresh(document);
  });

  // A changed filter reloads the table, except in the "add a metric filter" row (its button
  // submits). An event filter in hx-trigger would need eval, which the CSP forbids.
  document.addEventListener("change", (event) => {
    const form = event.target.closest && event.target.closest("#run-filters");
    if (form && !event.target.closest(".rl-add") && window.htmx) {
      window.htmx.trigger(form, "filters-changed");
    }
  });

  document.addEventListener("click", (event) => {
    const link = event.target.closest("a.is-disabled");
    if (link) event.preventDefault();
  });

  // A table wider than its box scrolls inside it (runs_list.css .is-wide): the box is then at
  // most as tall as the window, so its horizontal scrollbar stays in reach.
  function fit() {
    document.querySelectorAll("#run-table .table-wrap").forEach((wrap) => {
      const table = wrap.querySelector("table");
      if (table) wrap.classList.toggle("is-wide", table.scrollWidth > wrap.clientWidth + 1);
    });
  }
  let fitting = 0;
  window.addEventListener("resize", () => {
    cancelAnimationFrame(fitting);
    fitting = requestAnimationFrame(fit);
  });

  document.addEventListener("htmx:afterSwap", () => { refresh(document); fit(); });

  // A metric filter once added lives in the URL (and a chip): empty the "add" row again.
  document.addEventListener("htmx:afterRequest", (event) => {
    const form = event.detail.elt;
    if (!event.detail.successful || !(form instanceof HTMLFormElement) || form.id !== "run-filters") return;
    form.querySelectorAll(".rl-add input").forEach((input) => { input.value = ""; });
  });

  // ---- The live poll (run_list.html [data-run-poll]) swaps the table every 2 s: the boxes the
  // user ticked stay ticked, and the focus stays where it was. ----
  function describe(el) {
    if (!el || el === document.body || !el.closest("#run-table, #state-counts")) return null;
    if (el.id) return "#" + CSS.escape(el.id);
    if (el.matches("input.rl-pick")) return 'input.rl-pick[value="' + CSS.escape(el.value) + '"]';
    if (el.matches("[data-select-all]")) return "#run-table [data-select-all]";
    if (el.matches("input[name]")) {
      return 'input[name="' + CSS.escape(el.name) + '"][value="' + CSS.escape(el.value) + '"]';
    }
    if (el.matches("a[href]")) return 'a[href="' + CSS.escape(el.getAttribute("href")) + '"]';
    return null;
  }

  // The ticks go back on in the swap's own task (htmx:afterSwap), so the new table is never seen
  // unticked; the focus waits for the settle, when htmx has processed the new content.
  let kept = null;
  document.addEventListener("htmx:beforeSwap", (event) => {
    const source = event.detail.requestConfig && event.detail.requestConfig.elt;
    const table = document.getElementById("run-table");
    if (!table || !source || !source.matches || !source.matches("[data-run-poll]")) return;
    if (!event.detail.shouldSwap) return;
    kept = {
      ids: picks(table).filter((box) => box.checked).map((box) => box.value),
      focus: kept ? kept.focus : describe(document.activeElement),
    };
  });
  document.addEventListener("htmx:afterSwap", () => {
    const table = document.getElementById("run-table");
    if (!kept || !kept.ids || !table) return;
    // The server's table comes unticked: put back what was ticked before the swap.
    const ids = kept.ids;
    kept.ids = null;
    picks(table).forEach((box) => { box.checked = box.checked || ids.indexOf(box.value) !== -1; });
    refresh(document);
  });
  document.addEventListener("htmx:afterSettle", () => {
    if (!kept || kept.ids) return;
    const focus = kept.focus;
    kept = null;
    const again = focus && document.querySelector(focus);
    if (again && document.activeElement !== again) again.focus({ preventScroll: true });
  });

  document.addEventListener("DOMContentLoaded", () => { refresh(document); fit(); });
})();
