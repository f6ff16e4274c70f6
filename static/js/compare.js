// The compare page: the "differences only" switch without a reload, and the ECharts charts
// (a bar chart per metric, metric histories and ROC curves with every run in one chart,
// parallel coordinates, confusion matrices).
// Every run keeps the colour the server gave it. Without JavaScript the tables say it all.
(function () {
  "use strict";

  var data = null;
  var charts = [];

  function readData() {
    var el = document.getElementById("compare-data");
    if (!el) return null;
    try { return JSON.parse(el.textContent); } catch (e) { return null; }
  }

  function fmt(v) {
    if (v === null || v === undefined || v === "") return "—";
    if (typeof v !== "number") return String(v);
    if (Number.isInteger(v)) return String(v);
    var a = Math.abs(v);
    return a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(3) : String(+v.toFixed(4));
  }

  // Names, parameter values and labels are what runs and steps wrote: escaped for tooltips.
  var esc = window.ydp.esc;

  function init(el, option) {
    var chart = window.echarts.init(el, null, { renderer: "svg" });
    chart.setOption(option);
    charts.push(chart);
    el.classList.add("is-drawn");
    return chart;
  }

  // ---- "Differences only" ----
  function setupDiffToggle() {
    var toggle = document.querySelector("[data-diff-toggle]");
    var table = document.querySelector("[data-params-table]");
    if (!toggle || !table) return;
    toggle.addEventListener("click", function (event) {
      event.preventDefault();
      var on = !table.classList.contains("diff-only");
      table.classList.toggle("diff-only", on);
      toggle.classList.toggle("is-on", on);
      toggle.setAttribute("aria-checked", on ? "true" : "false");
      var url = new URL(window.location.href);
      if (on) url.searchParams.set("diff", "1"); else url.searchParams.delete("diff");
      url.hash = "parameters";
      window.history.replaceState(null, "", url);
      var next = new URL(url);
      if (on) next.searchParams.delete("diff"); else next.searchParams.set("diff", "1");
      toggle.setAttribute("href", next.pathname + next.search + "#parameters");
    });
  }

  // ---- A bar chart per metric ----
  function barOption(metric) {
    var runs = data.runs;
    var values = metric.values;
    var present = values.filter(function (v) { return v !== null; });
    var best = present.length > 1 ? (metric.lowerBetter ? Math.min.apply(null, present) : Math.max.apply(null, present)) : null;
    return {
      animation: false,
      grid: { left: 8, right: 8, top: 22, bottom: 4, containLabel: true },
      tooltip: {
        trigger: "item",
        formatter: function (p) {
          return '<span style="color:' + esc(runs[p.dataIndex].color) + '">●</span> ' + esc(runs[p.dataIndex].name) + "<br><b>" + esc(metric.name) + "</b> " + esc(fmt(values[p.dataIndex]));
        }
      },
      xAxis: {
        type: "category",
        data: runs.map(function (r) { return r.short; }),
        axisTick: { show: false },
        axisLabel: { color: "#435062", fontSize: 11 }
      },
      yAxis: { type: "value", scale: present.length > 1 && Math.min.apply(null, present) > 0, splitNumber: 3, axisLabel: { fontSize: 10, color: "#6b7686", formatter: fmt } },
      series: [{
        type: "bar",
        barMaxWidth: 36,
        data: values.map(function (v, i) {
          return {
            value: v,
            itemStyle: { color: runs[i].color, opacity: best === null || v === best ? 1 : 0.55, borderRadius: [3, 3, 0, 0] }
          };
        }),
        label: {
          show: true, position: "top", fontSize: 10, color: "#18212f",
          formatter: function (p) { return (p.value === best ? "★ " : "") + fmt(p.value); }
        }
      }]
    };
  }

  function drawBars() {
    document.querySelectorAll("[data-metric]").forEach(function (el) {
      var metric = data.metrics[+el.getAttribute("data-metric")];
      if (metric) init(el, barOption(metric));
    });
  }

  // ---- Parallel coordinates over the differing parameters and the metrics ----
  function drawParallel() {
    var el = document.querySelector("[data-parallel]");
    if (!el || data.axes.length < 2) return;
    var axes = data.axes.map(function (axis, i) {
      var spec = {
        dim: i,
        name: axis.name,
        nameLocation: "end",
        nameTextStyle: { color: axis.kind === "metric" ? "#1f7a3d" : "#2148c4", fontWeight: 600, fontSize: 11 },
        axisLabel: { fontSize: 10, color: "#6b7686", formatter: axis.type === "value" ? fmt : null }
      };
      if (axis.type === "category") { spec.type = "category"; spec.data = axis.categories; }
      else {
        // Each run is its own series (its own colour): give every axis the range of all runs.
        var vs = axis.values.filter(function (v) { return v !== null; });
        var lo = Math.min.apply(null, vs), hi = Math.max.apply(null, vs);
        var pad = (hi - lo) * 0.08 || Math.abs(hi) * 0.1 || 1;
        spec.type = "value";
        var whole = vs.every(function (v) { return Number.isInteger(v); });
        spec.min = whole ? Math.floor(lo - pad) : +(lo - pad).toPrecision(3);
        spec.max = whole ? Math.ceil(hi + pad) : +(hi + pad).toPrecision(3);
        if (lo >= 0 && spec.min < 0) spec.min = 0;
      }
      return spec;
    });
    var series = data.runs.map(function (run, r) {
      return {
        name: run.name,
        type: "parallel",
        smooth: false,
        lineStyle: { width: 3, color: run.color, opacity: 0.9 },
        emphasis: { lineStyle: { width: 5 } },
        data: [data.axes.map(function (axis) { var v = axis.values[r]; return v === null ? null : v; })]
      };
    });
    init(el, {
      animation: false,
      tooltip: {
        trigger: "item",
        formatter: function (p) {
          var r = p.seriesIndex;
          return '<span style="color:' + esc(data.runs[r].color) + '">●</span> <b>' + esc(data.runs[r].name) + "</b><br>" +
            data.axes.map(function (a) { return esc(a.name) + ": " + esc(fmt(a.values[r])); }).join("<br>");
        }
      },
      parallel: { left: 60, right: 90, top: 40, bottom: 24, parallelAxisDefault: { nameGap: 14 } },
      parallelAxis: axes,
      series: series
    });
  }

  // ---- ROC curves: every run's curve in one chart ----
  function drawRocs() {
    document.querySelectorAll("[data-roc]").forEach(function (el) {
      var name = el.getAttribute("data-roc");
      var roc = (data.rocs || []).filter(function (r) { return r.name === name; })[0];
      if (!roc) return;
      var series = roc.curves.map(function (curve) {
        var run = data.runs[curve.run];
        return {
          name: run.name,
          type: "line",
          showSymbol: false,
          data: curve.points.map(function (p) { return [p[0], p[1], p[2]]; }),
          lineStyle: { width: 2.5, color: run.color },
          itemStyle: { color: run.color }
        };
      });
      series.push({ name: "chance", type: "line", data: [[0, 0], [1, 1]], silent: true, showSymbol: false, lineStyle: { type: "dashed", color: "#9aa5b8", width: 1 }, tooltip: { show: false } });
      init(el, {
        animation: false,
        tooltip: {
          trigger: "item",
          formatter: function (p) {
            var v = p.value;
            return esc(p.seriesName) + "<br>FPR " + (+v[0]).toFixed(3) + ", TPR " + (+v[1]).toFixed(3) + (v[2] !== "" && v[2] !== undefined && v[2] !== null ? "<br>threshold " + esc(v[2]) : "");
          }
        },
        grid: { left: 56, right: 24, top: 16, bottom: 48 },
        xAxis: { type: "value", min: 0, max: 1, name: "False positive rate", nameLocation: "middle", nameGap: 28 },
        yAxis: { type: "value", min: 0, max: 1, name: "True positive rate", nameLocation: "middle", nameGap: 40 },
        series: series
      });
    });
  }

  // ---- Metric histories: every run's curve of one metric in one chart ----
  function drawHistories() {
    document.querySelectorAll("[data-history]").forEach(function (el) {
      var history = (data.histories || [])[+el.getAttribute("data-history")];
      if (!history) return;
      var series = history.curves.map(function (curve) {
        var run = data.runs[curve.run];
        return {
          name: run.name,
          type: "line",
          showSymbol: curve.points.length <= 50,
          symbolSize: 5,
          data: curve.points,
          lineStyle: { width: 2.5, color: run.color },
          itemStyle: { color: run.color }
        };
      });
      init(el, {
        animation: false,
        tooltip: {
          trigger: "axis",
          formatter: function (items) {
            var head = "<b>" + esc(history.name) + "</b> at step " + esc(items.length ? items[0].value[0] : "");
            return head + items.map(function (p) {
              var run = data.runs[history.curves[p.seriesIndex].run];
              return '<br><span style="color:' + esc(run.color) + '">●</span> ' + esc(run.name) + ": " + esc(fmt(p.value[1]));
            }).join("");
          }
        },
        grid: { left: 8, right: 16, top: 14, bottom: 18, containLabel: true },
        xAxis: { type: "value", name: "step", nameLocation: "middle", nameGap: 22, nameTextStyle: { fontSize: 10, color: "#6b7686" }, minInterval: 1, axisLabel: { fontSize: 10, color: "#6b7686" } },
        yAxis: { type: "value", scale: true, splitNumber: 4, axisLabel: { fontSize: 10, color: "#6b7686", formatter: fmt } },
        series: series
      });
    });
  }

  // ---- Confusion matrices: heatmaps in a row, on one colour scale per row ----
  function drawConfusions() {
    document.querySelectorAll(".artifact-row").forEach(function (row) {
      var cells = row.querySelectorAll('[data-chart="confusion_matrix"]');
      if (!cells.length) return;
      var parsed = [];
      var max = 0;
      cells.forEach(function (el) {
        var d;
        try { d = JSON.parse(el.getAttribute("data-chart-json") || "{}"); } catch (e) { return; }
        (d.matrix || []).forEach(function (r) { r.forEach(function (v) { if (v > max) max = v; }); });
        parsed.push([el, d]);
      });
      parsed.forEach(function (pair) {
        var el = pair[0], d = pair[1];
        var labels = d.labels || [];
        var points = [];
        (d.matrix || []).forEach(function (r, i) { r.forEach(function (v, j) { points.push([j, i, v]); }); });
        el.innerHTML = "";
        init(el, {
          animation: false,
          tooltip: { formatter: function (p) { return "true <b>" + esc(labels[p.value[1]]) + "</b>, predicted <b>" + esc(labels[p.value[0]]) + "</b>: " + esc(p.value[2]); } },
          grid: { left: 70, right: 12, top: 8, bottom: 56 },
          xAxis: { type: "category", data: labels, name: "Predicted", nameLocation: "middle", nameGap: 26, splitArea: { show: true }, axisLabel: { fontSize: 11 } },
          yAxis: { type: "category", data: labels, name: "True", nameLocation: "middle", nameGap: 52, inverse: true, splitArea: { show: true }, axisLabel: { fontSize: 11 } },
          visualMap: { min: 0, max: max || 1, show: false, inRange: { color: ["#f4f7ff", "#2f5bea"] } },
          series: [{ type: "heatmap", data: points, label: { show: true, fontSize: 12, formatter: function (p) { return fmt(p.value[2]); } } }]
        });
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupDiffToggle();
    data = readData();
    if (!data || !window.echarts) return;
    drawBars();
    drawParallel();
    drawRocs();
    drawHistories();
    drawConfusions();
  });
  window.addEventListener("resize", function () {
    charts.forEach(function (c) { c.resize(); });
  });
})();
