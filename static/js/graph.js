// Pan and zoom for the server-rendered pipeline graph: wheel zoom around the pointer, drag to pan,
// buttons and keys (+ - 0 1 arrows) for the keyboard. Without this file the SVG simply scrolls.
(function () {
  "use strict";

  var MIN = 0.05;
  var MAX = 4;
  var READABLE = 0.55; // below this, 100+ node graphs start at readable size instead of fit

  function setup(card) {
    var viewport = card.querySelector("[data-graph-viewport]");
    var canvas = card.querySelector("[data-graph-canvas]");
    var svg = canvas && canvas.querySelector("svg");
    if (!viewport || !svg || card.hasAttribute("data-graph-ready")) return;
    card.setAttribute("data-graph-ready", "");

    var size = svgSize(svg);
    svg.setAttribute("width", size.width);
    svg.setAttribute("height", size.height);
    var level = card.querySelector("[data-graph-level]");
    var state = { scale: 1, x: 0, y: 0 };

    function apply() {
      canvas.style.transform =
        "translate(" + state.x + "px," + state.y + "px) scale(" + state.scale + ")";
      if (level) level.textContent = Math.round(state.scale * 100) + "%";
    }

    function zoomAt(factor, cx, cy) {
      var next = Math.min(MAX, Math.max(MIN, state.scale * factor));
      var ratio = next / state.scale;
      state.x = cx - (cx - state.x) * ratio;
      state.y = cy - (cy - state.y) * ratio;
      state.scale = next;
      apply();
    }

    function fitScale() {
      var pad = 32;
      return Math.min(
        (viewport.clientWidth - pad) / size.width,
        (viewport.clientHeight - pad) / size.height,
        1.25
      );
    }

    function fit() {
      state.scale = Math.max(MIN, fitScale());
      state.x = (viewport.clientWidth - size.width * state.scale) / 2;
      state.y = (viewport.clientHeight - size.height * state.scale) / 2;
      apply();
    }

    function initial() {
      // A short graph gets a shorter viewport instead of a sea of empty space around it.
      var widthScale = Math.min((viewport.clientWidth - 32) / size.width, 1.25);
      var wanted = size.height * Math.max(widthScale, READABLE) + 48;
      if (wanted < viewport.clientHeight) {
        viewport.style.height = Math.max(240, wanted) + "px";
      }
      // Small graphs fit; big ones open at a readable size, centred on the top of the graph.
      var scale = fitScale();
      if (scale >= READABLE) return fit();
      state.scale = READABLE;
      state.x = (viewport.clientWidth - size.width * state.scale) / 2;
      state.y = 16;
      apply();
    }

    viewport.classList.add("is-interactive");
    viewport.style.overflow = "hidden";
    card.querySelectorAll("[data-graph-tools], [data-graph-hint]").forEach(function (el) {
      el.hidden = false;
    });

    viewport.addEventListener(
      "wheel",
      function (event) {
        event.preventDefault();
        var rect = viewport.getBoundingClientRect();
        var factor = Math.exp(-event.deltaY * (event.deltaMode === 1 ? 0.05 : 0.0015));
        zoomAt(factor, event.clientX - rect.left, event.clientY - rect.top);
      },
      { passive: false }
    );

    // Clicking a node (a press that did not pan) or Enter on a focused node opens its details.
    var panel = card.querySelector("#node-panel");
    var nodeUrl = viewport.getAttribute("data-node-url");
    function openNode(node) {
      if (!panel || !nodeUrl || !window.htmx) return;
      svg.querySelectorAll(".node.is-selected").forEach(function (other) {
        other.classList.remove("is-selected");
      });
      node.classList.add("is-selected");
      window.htmx.ajax("GET", nodeUrl + encodeURIComponent(node.getAttribute("data-node")), {
        target: "#node-panel",
        swap: "outerHTML",
      });
    }
    card.addEventListener("click", function (event) {
      var close = event.target.closest("[data-node-close]");
      if (!close) return;
      event.preventDefault();
      var current = card.querySelector("#node-panel");
      current.hidden = true;
      current.innerHTML = "";
      svg.querySelectorAll(".node.is-selected").forEach(function (node) {
        node.classList.remove("is-selected");
      });
      viewport.focus();
    });
    svg.addEventListener("keydown", function (event) {
      var node = event.target.closest && event.target.closest(".node");
      if (node && (event.key === "Enter" || event.key === " ")) {
        event.preventDefault();
        event.stopPropagation();
        openNode(node);
      }
    });

    var drag = null;
    viewport.addEventListener("pointerdown", function (event) {
      if (event.button !== 0) return;
      drag = {
        x: event.clientX, y: event.clientY, ox: state.x, oy: state.y,
        node: event.target.closest && event.target.closest(".node"),
      };
      viewport.setPointerCapture(event.pointerId);
      viewport.classList.add("is-panning");
    });
    viewport.addEventListener("pointermove", function (event) {
      if (!drag) return;
      state.x = drag.ox + event.clientX - drag.x;
      state.y = drag.oy + event.clientY - drag.y;
      apply();
    });
    function endDrag() {
      drag = null;
      viewport.classList.remove("is-panning");
    }
    viewport.addEventListener("pointerup", function (event) {
      var moved = drag && Math.abs(event.clientX - drag.x) + Math.abs(event.clientY - drag.y);
      if (drag && drag.node && moved < 5) openNode(drag.node);
      endDrag();
    });
    viewport.addEventListener("pointercancel", endDrag);

    function centre(factor) {
      zoomAt(factor, viewport.clientWidth / 2, viewport.clientHeight / 2);
    }

    viewport.addEventListener("keydown", function (event) {
      var step = 60;
      switch (event.key) {
        case "+": case "=": centre(1.25); break;
        case "-": case "_": centre(0.8); break;
        case "0": fit(); break;
        case "1": centre(1 / state.scale); break;
        case "ArrowLeft": state.x += step; apply(); break;
        case "ArrowRight": state.x -= step; apply(); break;
        case "ArrowUp": state.y += step; apply(); break;
        case "ArrowDown": state.y -= step; apply(); break;
        default: return;
      }
      event.preventDefault();
    });

    card.querySelectorAll("[data-graph-zoom]").forEach(function (button) {
      button.addEventListener("click", function () {
        var action = button.getAttribute("data-graph-zoom");
        if (action === "in") centre(1.25);
        else if (action === "out") centre(0.8);
        else if (action === "fit") fit();
        else if (action === "reset") { centre(1 / state.scale); }
      });
    });

    // Find a node by name: Enter goes to the next match, which is centred and outlined.
    var find = card.querySelector("[data-graph-find]");
    var findCount = card.querySelector("[data-graph-find-count]");
    var matches = [];
    var current = -1;
    function centreOn(node) {
      if (state.scale < 0.9) zoomAt(1 / state.scale, viewport.clientWidth / 2, viewport.clientHeight / 2);
      var box = node.getBoundingClientRect();
      var view = viewport.getBoundingClientRect();
      state.x += view.left + view.width / 2 - (box.left + box.width / 2);
      state.y += view.top + view.height / 2 - (box.top + box.height / 2);
      apply();
    }
    function search() {
      var query = find.value.trim().toLowerCase();
      svg.querySelectorAll(".node.is-match, .node.is-current").forEach(function (node) {
        node.classList.remove("is-match", "is-current");
      });
      matches = [];
      current = -1;
      if (query) {
        svg.querySelectorAll(".node").forEach(function (node) {
          var text = (node.getAttribute("data-node") + " " + node.textContent).toLowerCase();
          if (text.indexOf(query) !== -1) {
            node.classList.add("is-match");
            matches.push(node);
          }
        });
      }
      svg.classList.toggle("is-searching", matches.length > 0);
      if (findCount) findCount.textContent = query ? (matches.length ? matches.length + " found" : "no match") : "";
    }
    function next() {
      if (!matches.length) return;
      if (current >= 0) matches[current].classList.remove("is-current");
      current = (current + 1) % matches.length;
      matches[current].classList.add("is-current");
      if (findCount) findCount.textContent = (current + 1) + " of " + matches.length;
      centreOn(matches[current]);
    }
    if (find) {
      find.addEventListener("input", search);
      find.addEventListener("keydown", function (event) {
        if (event.key === "Enter") {
          event.preventDefault();
          if (current === -1) search();
          next();
        }
      });
    }

    window.addEventListener("resize", function () { apply(); });
    initial();
  }

  function svgSize(svg) {
    var box = svg.viewBox && svg.viewBox.baseVal;
    if (box && box.width && box.height) return { width: box.width, height: box.height };
    var width = parseFloat(svg.getAttribute("width")) || 800;
    var height = parseFloat(svg.getAttribute("height")) || 600;
    return { width: width, height: height };
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-graph]").forEach(setup);
  });
  // A run page redraws its graph card when iterations appear: set the new one up too.
  document.addEventListener("htmx:load", function (event) {
    var elt = event.detail.elt;
    if (elt && elt.matches && elt.matches("[data-graph]")) setup(elt);
  });
})();
