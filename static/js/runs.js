// The run pages' enhancements: confirmation dialogs, the graph's clickable nodes and live phases,
// the step panel, the live log's scrolling, and ECharts charts. Every page works without it:
// links lead to confirmation pages and to the run page with ?node=<step>.
(function () {
  "use strict";

  // ---- Confirmation dialogs: <a href="confirm page" data-dialog="dialog id"> ----
  document.addEventListener("click", function (event) {
    var opener = event.target.closest("[data-dialog]");
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-dialog"));
      if (dialog && typeof dialog.showModal === "function") {
        event.preventDefault();
        dialog.showModal();
        var first = dialog.querySelector("button[type=submit]");
        if (first) first.focus();
      }
      return;
    }
    var closer = event.target.closest("[data-dialog-close]");
    if (closer) {
      var open = closer.closest("dialog");
      if (open) open.close();
    }
  });

  // ---- The graph: click or Enter on a node opens its panel ----
  function graphRoot() {
    return document.querySelector("[data-run-graph]");
  }

  function nodeUrl(root, key, panel) {
    var url = root.getAttribute("data-node-url").replace("__node__", encodeURIComponent(key));
    return panel ? url + "?panel=" + encodeURIComponent(panel) : url;
  }

  function select(root, key) {
    root.querySelectorAll(".node.is-selected").forEach(function (n) { n.classList.remove("is-selected"); });
    if (!key) return;
    var node = root.querySelector('.node[data-node="' + CSS.escape(key) + '"]');
    if (node) node.classList.add("is-selected");
  }

  function setUrl(key) {
    var url = new URL(window.location.href);
    if (key) url.searchParams.set("node", key);
    else url.searchParams.delete("node");
    url.searchParams.delete("panel");
    url.hash = "";
    history.replaceState(history.state, "", url.toString());
  }

  function openNode(key) {
    var root = graphRoot();
    var panel = document.getElementById("step-panel");
    if (!root || !panel || !window.htmx) return false;
    var opening = panel.hidden;
    panel.hidden = false;
    root.classList.add("has-panel");
    // The viewport just got narrower: fit the graph to it once, then leave pan/zoom alone.
    var fit = opening && root.querySelector('[data-graph-zoom="fit"]');
    if (fit) requestAnimationFrame(function () { fit.click(); });
    select(root, key);
    setUrl(key);
    window.htmx.ajax("GET", nodeUrl(root, key), { target: "#step-panel", swap: "innerHTML" });
    return true;
  }

  function closePanel() {
    var root = graphRoot();
    var panel = document.getElementById("step-panel");
    if (!root || !panel) return;
    panel.hidden = true;
    panel.innerHTML = "";
    root.classList.remove("has-panel");
    var fit = root.querySelector('[data-graph-zoom="fit"]');
    if (fit) requestAnimationFrame(function () { fit.click(); });
    select(root, null);
    setUrl(null);
  }

  function setupGraph() {
    var root = graphRoot();
    if (!root) return;
    var viewport = root.querySelector("[data-graph-viewport]");
    var current = new URL(window.location.href).searchParams.get("node");
    if (current) select(root, current);
    if (!viewport || viewport.hasAttribute("data-run-bound")) return;
    viewport.setAttribute("data-run-bound", "");
    // graph.js captures the pointer for panning, so a click is told from a drag here: a press
    // and release on the same spot over a node opens it.
    var press = null;
    viewport.addEventListener("pointerdown", function (event) {
      var node = event.target.closest && event.target.closest(".node[data-node]");
      press = node ? { key: node.getAttribute("data-node"), x: event.clientX, y: event.clientY } : null;
    }, true);
    viewport.addEventListener("pointerup", function (event) {
      if (press && Math.abs(event.clientX - press.x) < 5 && Math.abs(event.clientY - press.y) < 5) {
        openNode(press.key);
      }
      press = null;
    });
    // Capture phase: graph.js handles Enter on a node for the version page's own panel and
    // stops it there; on a run page the step panel takes it first.
    viewport.addEventListener("keydown", function (event) {
      if (event.key !== "Enter" && event.key !== " ") return;
      var node = event.target.closest && event.target.closest(".node[data-node]");
      if (!node) return;
      event.preventDefault();
      event.stopPropagation();
      openNode(node.getAttribute("data-node"));
    }, true);
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest("[data-open-node]");
    if (link && openNode(link.getAttribute("data-open-node"))) {
      event.preventDefault();
      var panel = document.getElementById("step-panel");
      if (panel) panel.scrollIntoView({ block: "nearest" });
      return;
    }
    if (event.target.closest("[data-panel-close]") && graphRoot()) {
      event.preventDefault();
      closePanel();
    }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && !document.querySelector("dialog[open]")) {
      var panel = document.getElementById("step-panel");
      if (panel && !panel.hidden) {
        logPinned = true;
        closePanel();
      }
    }
  });

  // ---- Live phases: the poll swaps #run-phases out of band; move them onto the SVG ----
  function phaseClass(phase) {
    return "phase-" + String(phase || "pending").toLowerCase().replace(/[^a-z]/g, "");
  }

  function applyPhases() {
    var holder = document.getElementById("run-phases");
    var data = document.getElementById("run-phases-data");
    if (!holder || !data) return;
    var phases;
    var waiting = {};
    try { phases = JSON.parse(data.textContent); } catch (e) { return; }
    var waitingData = document.getElementById("run-waiting-data");
    try { if (waitingData) waiting = JSON.parse(waitingData.textContent) || {}; } catch (e) { waiting = {}; }
    var final = holder.getAttribute("data-final") === "true";
    document.querySelectorAll("[data-run-graph] .node[data-node]").forEach(function (node) {
      var key = node.getAttribute("data-node");
      var phase = phases[key] || (final ? "Omitted" : "Pending");
      var wanted = phaseClass(phase);
      // the tooltip: label, kind and key, phase, then why the step waits (if it does)
      var title = node.querySelector("title");
      if (title) {
        var lines = title.textContent.split("\n").slice(0, 2);
        lines.push(phase === "Omitted" ? "not run" : phase);
        if (waiting[key]) lines.push(waiting[key]);
        if (title.textContent !== lines.join("\n")) title.textContent = lines.join("\n");
      }
      if (node.classList.contains(wanted)) return;
      Array.prototype.slice.call(node.classList).forEach(function (c) {
        if (c.indexOf("phase-") === 0) node.classList.remove(c);
      });
      node.classList.add(wanted);
      var row = document.querySelector('[data-node-row="' + CSS.escape(key) + '"] [data-phase-badge]');
      if (row) {
        row.className = "badge phase " + wanted;
        row.textContent = phase === "Omitted" ? "not run" : phase;
      }
    });
  }

  // ---- New iterations or attempts since the graph was drawn: fetch the graph card again ----
  var reshaping = false;
  function refreshGraphShape() {
    var holder = document.getElementById("run-phases");
    var card = document.querySelector("[data-run-graph] [data-graph]");
    if (!holder || !card || reshaping || !window.htmx) return;
    var wanted = holder.getAttribute("data-shape");
    if (!wanted || wanted === card.getAttribute("data-graph-shape")) return;
    reshaping = true;
    var done = function () { reshaping = false; };
    window.htmx.ajax("GET", card.getAttribute("data-graph-url"), { target: card, swap: "outerHTML" })
      .then(done, done);
  }

  // ---- The live log: stay at the bottom unless the reader scrolled up ----
  var logPinned = true;
  var logScroll = 0;
  document.addEventListener("htmx:beforeSwap", function (event) {
    var log = document.querySelector("#log-view [data-log]");
    if (log && event.detail.target && event.detail.target.id === "log-view") {
      logPinned = log.scrollHeight - log.scrollTop - log.clientHeight < 24;
      logScroll = log.scrollTop;
    }
  });
  function scrollLog() {
    var log = document.querySelector("#log-view [data-log]");
    if (log) log.scrollTop = logPinned ? log.scrollHeight : logScroll;
  }

  // ---- Charts (ECharts): confusion matrix heatmap, ROC curve ----
  // Labels, cells and thresholds are the step's output: escaped before they reach the tooltip.
  var esc = window.ydp.esc;

  function confusionOption(data) {
    var labels = data.labels || [];
    var cells = [];
    var max = 0;
    (data.matrix || []).forEach(function (row, i) {
      row.forEach(function (value, j) {
        cells.push([j, i, value]);
        if (value > max) max = value;
      });
    });
    return {
      tooltip: {
        formatter: function (p) {
          return "true <b>" + esc(labels[p.value[1]]) + "</b>, predicted <b>" + esc(labels[p.value[0]]) + "</b>: " + esc(p.value[2]);
        }
      },
      grid: { left: 90, right: 24, top: 16, bottom: 70 },
      xAxis: { type: "category", data: labels, name: "Predicted", nameLocation: "middle", nameGap: 32, splitArea: { show: true } },
      yAxis: { type: "category", data: labels, name: "True", nameLocation: "middle", nameGap: 64, inverse: true, splitArea: { show: true } },
      visualMap: { min: 0, max: max || 1, calculable: false, orient: "horizontal", left: "center", bottom: 0, itemHeight: 120, inRange: { color: ["#f4f7ff", "#2f5bea"] } },
      series: [{ type: "heatmap", data: cells, label: { show: true }, emphasis: { itemStyle: { borderColor: "#18212f", borderWidth: 1 } } }]
    };
  }

  function rocOption(data) {
    var points = (data.points || []).map(function (p) { return [p[0], p[1], p[2]]; });
    return {
      tooltip: {
        trigger: "item",
        formatter: function (p) {
          var v = p.value;
          return "FPR " + (+v[0]).toFixed(3) + ", TPR " + (+v[1]).toFixed(3) + (v[2] !== "" && v[2] !== undefined && v[2] !== null ? "<br>threshold " + esc(v[2]) : "");
        }
      },
      grid: { left: 56, right: 24, top: 16, bottom: 48 },
      xAxis: { type: "value", min: 0, max: 1, name: "False positive rate", nameLocation: "middle", nameGap: 28 },
      yAxis: { type: "value", min: 0, max: 1, name: "True positive rate", nameLocation: "middle", nameGap: 40 },
      series: [
        { type: "line", data: points, showSymbol: points.length < 60, symbolSize: 5, lineStyle: { width: 2, color: "#2f5bea" }, itemStyle: { color: "#2f5bea" }, areaStyle: { color: "rgba(47,91,234,0.08)" } },
        { type: "line", data: [[0, 0], [1, 1]], silent: true, showSymbol: false, lineStyle: { type: "dashed", color: "#9aa5b8", width: 1 } }
      ]
    };
  }

  var charts = [];
  function initCharts(root) {
    if (!window.echarts) return;
    (root || document).querySelectorAll("[data-chart]:not([data-chart-ready])").forEach(function (el) {
      var data;
      try { data = JSON.parse(el.getAttribute("data-chart-json") || "{}"); } catch (e) { return; }
      var kind = el.getAttribute("data-chart");
      var option = kind === "confusion_matrix" ? confusionOption(data) : kind === "roc" ? rocOption(data) : null;
      if (!option) return;
      el.setAttribute("data-chart-ready", "true");
      el.innerHTML = "";
      el.classList.add("is-drawn");
      var chart = window.echarts.init(el, null, { renderer: "svg" });
      chart.setOption(option);
      charts.push(chart);
    });
  }

  // Metric history (Output tab): a line chart per metric from #metric-history-data.
  function fmt(v) {
    if (typeof v !== "number") return String(v);
    var a = Math.abs(v);
    return a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(3) : String(+v.toFixed(4));
  }
  function historyOption(series) {
    return {
      animation: false,
      grid: { left: 8, right: 16, top: 14, bottom: 18, containLabel: true },
      tooltip: {
        trigger: "axis",
        formatter: function (items) {
          var p = items[0];
          return esc(series.name) + " at step " + esc(p.value[0]) + ": <b>" + esc(fmt(p.value[1])) + "</b>";
        }
      },
      xAxis: { type: "value", name: "step", nameLocation: "middle", nameGap: 22, nameTextStyle: { fontSize: 10, color: "#6b7686" }, minInterval: 1, axisLabel: { fontSize: 10, color: "#6b7686" } },
      yAxis: { type: "value", scale: true, splitNumber: 4, axisLabel: { fontSize: 10, color: "#6b7686", formatter: fmt } },
      series: [{ type: "line", data: series.points, showSymbol: series.points.length <= 50, symbolSize: 5, lineStyle: { width: 2, color: "#4e79a7" }, itemStyle: { color: "#4e79a7" } }]
    };
  }
  function initHistory(root) {
    var source = document.getElementById("metric-history-data");
    if (!window.echarts || !source) return;
    var all;
    try { all = JSON.parse(source.textContent); } catch (e) { return; }
    (root || document).querySelectorAll("[data-history]:not([data-chart-ready])").forEach(function (el) {
      var series = all[+el.getAttribute("data-history")];
      if (!series) return;
      el.setAttribute("data-chart-ready", "true");
      el.innerHTML = "";
      el.classList.add("is-drawn");
      var chart = window.echarts.init(el, null, { renderer: "svg" });
      chart.setOption(historyOption(series));
      charts.push(chart);
    });
  }
  window.addEventListener("resize", function () {
    charts = charts.filter(function (c) { return !c.isDisposed() && document.body.contains(c.getDom()); });
    charts.forEach(function (c) { c.resize(); });
  });

  document.addEventListener("DOMContentLoaded", function () {
    setupGraph();
    initCharts(document);
    initHistory(document);
    scrollLog();
  });
  document.addEventListener("htmx:load", function (event) {
    initCharts(event.detail.elt);
    initHistory(event.detail.elt);
    var elt = event.detail.elt;
    if (elt && elt.matches && elt.matches("[data-graph]")) setupGraph();
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    applyPhases();
    refreshGraphShape();
    var elt = event.target;
    if (elt && (elt.id === "log-view" || elt.id === "step-panel")) scrollLog();
  });
})();
