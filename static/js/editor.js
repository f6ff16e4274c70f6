/* The pipeline editor (templates/editor/editor.html): files palette, SVG canvas, properties.
 *
 * The document (apps/editor/document.py) is the one state: every edit changes it through
 * change(), which keeps undo/redo snapshots, redraws, and autosaves to the server. A save names
 * the revision it started from; the server answers 409 when another tab or person saved in
 * between (the page says so and stops saving), and otherwise returns the importer's check,
 * whose messages are shown on the nodes. No inline scripts (the CSP forbids them): the state
 * comes from json_script tags. */
(function () {
  "use strict";

  // The "new draft" form (templates/editor/draft_list.html): a folder chosen keeps its structure,
  // which a plain form post loses (the server sees base names only), so send the paths too.
  var createForm = document.getElementById("draft-create");
  if (createForm) {
    createForm.addEventListener("submit", function (event) {
      var chosen = [];
      ["draft-files", "draft-folder"].forEach(function (id) {
        var input = document.getElementById(id);
        Array.prototype.forEach.call((input && input.files) || [], function (f) { chosen.push(f); });
      });
      if (!chosen.length || !window.fetch) return; // nothing to keep: the plain post will do
      event.preventDefault();
      var form = new FormData();
      form.append("csrfmiddlewaretoken", createForm.querySelector("[name=csrfmiddlewaretoken]").value);
      form.append("name", document.getElementById("draft-name").value);
      chosen.forEach(function (f) {
        form.append("files", f, f.name);
        form.append("paths", f.webkitRelativePath || f.name);
      });
      var button = createForm.querySelector("button[type=submit]");
      button.disabled = true;
      fetch(createForm.action, { method: "POST", body: form, credentials: "same-origin" }).then(function (response) {
        window.location.assign(response.url);
      }, function () { button.disabled = false; });
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("form[data-confirm]"), function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
    });
  });

  var stateEl = document.getElementById("editor-state");
  if (!stateEl) return;
  var S = JSON.parse(stateEl.textContent);
  var IMAGES = JSON.parse(document.getElementById("editor-images").textContent);
  var CSRF = (JSON.parse(document.body.getAttribute("hx-headers") || "{}") || {})["x-csrftoken"];
  var SVGNS = "http://www.w3.org/2000/svg";
  var NODE_W = 200, NODE_H = 52, GAP_X = 90, GAP_Y = 36;
  var KINDS = { notebook: "N", python: "Py", r: "R" };
  var RUNNABLE = /\.(ipynb|py|r)$/i;

  var doc = S.document;
  doc.defaults = doc.defaults || { runtime_image: "", env: [] };
  var revision = S.revision;
  var files = S.files;
  var check = S.check;
  var selection = [];       // selected node ids
  var selectedEdge = null;  // {from, to}
  var undoStack = [], redoStack = [], lastCoalesce = null;
  var view = { x: 40, y: 30, k: 1 };
  var conflict = false, saving = false, dirty = false, saveTimer = null;
  var connectFrom = null;   // keyboard connect mode: the source node id
  var connectTarget = null;

  var $ = function (id) { return document.getElementById(id); };
  var svg = $("canvas"), wrap = $("canvas-wrap"), props = $("props");

  // -- small helpers ---------------------------------------------------------------------------

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) return;
      if (key === "text") node.textContent = value;
      else if (key === "className") node.className = value;
      else if (key.slice(0, 2) === "on") node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    });
    (children || []).forEach(function (child) {
      if (child) node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }
  function sv(tag, attrs) {
    var node = document.createElementNS(SVGNS, tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    return node;
  }
  function nodeById(id) {
    for (var i = 0; i < doc.nodes.length; i++) if (doc.nodes[i].id === id) return doc.nodes[i];
    return null;
  }
  function kindOf(filename) {
    var m = /\.(ipynb|py|r)$/i.exec(filename || "");
    if (!m) return "";
    return { ipynb: "notebook", py: "python", r: "r" }[m[1].toLowerCase()];
  }
  function basename(path) { return (path || "").split("/").pop(); }
  function dirname(path) { var i = (path || "").lastIndexOf("/"); return i < 0 ? "" : path.slice(0, i); }
  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "n" + Date.now().toString(36) + Math.random().toString(36).slice(2, 8);
  }
  function toast(text, isError) {
    var t = $("canvas-toast");
    t.textContent = text;
    t.className = "canvas-toast" + (isError ? " is-error" : "");
    t.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(function () { t.hidden = true; }, 4000);
  }
  function request(url, options) {
    options = options || {};
    var headers = { "X-CSRFToken": CSRF };
    var body = options.body;
    if (body && !(body instanceof FormData)) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(body);
    }
    // keepalive lets a save started as the page unloads (a reload mid-edit) still arrive; the
    // browser allows it for bodies up to 64 KiB.
    var keepalive = typeof body === "string" && body.length < 60000;
    return fetch(url, { method: options.method || (body ? "POST" : "GET"), headers: headers,
      body: body, credentials: "same-origin", keepalive: keepalive }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        data.status = response.status;
        return data;
      });
    });
  }

  // -- changes, undo/redo, autosave ------------------------------------------------------------

  function change(mutate, options) {
    options = options || {};
    var coalesce = options.coalesce || null;
    if (!coalesce || coalesce !== lastCoalesce) {
      undoStack.push(JSON.stringify(doc));
      if (undoStack.length > 200) undoStack.shift();
      redoStack = [];
    }
    lastCoalesce = coalesce;
    mutate();
    afterChange(options.keepPanel);
  }
  function afterChange(keepPanel) {
    drawCanvas();
    drawFiles(); // the palette marks the files that nodes use
    if (!keepPanel) drawPanel(true);
    updateTools();
    scheduleSave();
  }
  function undo() {
    if (!undoStack.length) return;
    redoStack.push(JSON.stringify(doc));
    doc = JSON.parse(undoStack.pop());
    lastCoalesce = null;
    selection = selection.filter(nodeById);
    selectedEdge = null;
    afterChange(false);
  }
  function redo() {
    if (!redoStack.length) return;
    undoStack.push(JSON.stringify(doc));
    doc = JSON.parse(redoStack.pop());
    lastCoalesce = null;
    selection = selection.filter(nodeById);
    afterChange(false);
  }
  function setStatus(text, kind) {
    var status = $("save-status");
    status.textContent = text;
    status.className = "save-status" + (kind ? " is-" + kind : "");
  }
  // Unsaved edits also wait in localStorage, so a reload or a closed tab mid-edit loses nothing:
  // the next load of this draft adopts them if nobody saved the draft in between.
  var PENDING = "ydp-draft-" + S.id;
  // `inflight`: a save of an earlier state was on its way when this was kept; if it landed, the
  // draft is one revision further (our own) and what is kept still holds everything of it.
  function keepPending() {
    var kept = { revision: revision, document: doc, inflight: saving };
    try { localStorage.setItem(PENDING, JSON.stringify(kept)); } catch (e) { /* full or off */ }
  }
  function dropPending() {
    try { localStorage.removeItem(PENDING); } catch (e) { /* off */ }
  }
  function readPending() {
    try { return JSON.parse(localStorage.getItem(PENDING) || "null"); } catch (e) { return null; }
  }
  function scheduleSave() {
    if (conflict) return;
    keepPending();
    dirty = true;
    setStatus("Unsaved changes…");
    clearTimeout(saveTimer);
    saveTimer = setTimeout(function () { save().catch(function () {}); }, 500);
  }
  function save() {
    clearTimeout(saveTimer);
    if (conflict) return Promise.reject(new Error("conflict"));
    if (saving) {
      return new Promise(function (resolve) { setTimeout(resolve, 150); }).then(save);
    }
    if (!dirty) return Promise.resolve();
    saving = true;
    dirty = false;
    setStatus("Saving…");
    return request(S.urls.document, { body: { document: doc, revision: revision } }).then(function (data) {
      saving = false;
      if (data.status === 200) {
        revision = data.revision;
        check = data.check;
        if (dirty) keepPending(); else dropPending();
        hideError();
        var more = dirty || formPending();
        setStatus(more ? "Unsaved changes…" : "Saved", more ? "" : "ok");
        drawCanvas();
        return;
      }
      if (data.status === 409) {
        conflict = true;
        dropPending();
        setStatus("Not saved", "error");
        showError("Someone else changed this draft", data.error, true);
        throw new Error("conflict");
      }
      dirty = true;
      setStatus("Not saved", "error");
      showError("Not saved", data.error || "The server refused the change.", false);
      throw new Error(data.error || "refused");
    }, function (error) {
      saving = false;
      dirty = true;
      setStatus("Offline: not saved", "error");
      throw error;
    });
  }
  function showError(title, text, reload) {
    $("editor-error").hidden = false;
    $("editor-error-title").textContent = title;
    $("editor-error-text").textContent = text || "";
    $("editor-reload").hidden = !reload;
  }
  function hideError() { $("editor-error").hidden = true; }
  $("editor-reload").addEventListener("click", function () { window.location.reload(); });
  window.addEventListener("beforeunload", function (event) {
    if (conflict) return;
    // An edit typed in the properties panel reaches the document only with the server's answer
    // (a moment after typing): send it now, and ask to stay until it is in.
    if (formPending()) { flushForm(); event.preventDefault(); return; }
    if (!dirty) return;
    if (saving) { event.preventDefault(); return; } // one save at a time: ask to stay a moment
    save().catch(function () {});
  });

  // -- the graph ---------------------------------------------------------------------------------

  function downstreamOf(id) {
    var seen = {}, todo = [id];
    while (todo.length) {
      var current = todo.pop();
      doc.nodes.forEach(function (node) {
        if (node.depends_on.indexOf(current) >= 0 && !seen[node.id]) {
          seen[node.id] = true;
          todo.push(node.id);
        }
      });
    }
    return seen;
  }
  function connect(fromId, toId) {
    var target = nodeById(toId), source = nodeById(fromId);
    if (!target || !source || fromId === toId) return false;
    if (target.depends_on.indexOf(fromId) >= 0) { toast("These nodes are already connected."); return false; }
    if (downstreamOf(toId)[fromId]) {
      toast("Refused: a link from “" + label(source) + "” to “" + label(target) +
        "” would make a cycle (" + label(target) + " already runs before " + label(source) + ").", true);
      return false;
    }
    change(function () { target.depends_on.push(fromId); });
    return true;
  }
  function label(node) { return node.label || basename(node.filename) || "node"; }
  function blankNode(path, x, y) {
    return {
      id: newId(), label: basename(path).replace(/\.(ipynb|py|r)$/i, ""), filename: path,
      x: x, y: y, depends_on: [], runtime_image: "", cpu: "", cpu_limit: "", memory: "",
      memory_limit: "", gpu: "", gpu_limit: "", gpu_vendor: "", env: [], dependencies: [],
      include_subdirectories: false, outputs: [], parameters: [], secrets: [], volumes: [],
      tolerations: [], pod_labels: [], pod_annotations: [], shm_size: "", retries: "",
      timeout_seconds: ""
    };
  }
  function addNode(path, x, y) {
    if (!kindOf(path)) {
      toast(basename(path) + " is not a notebook (.ipynb), Python (.py) or R (.r) file.", true);
      return;
    }
    if (x === undefined) {
      var spot = freeSpot();
      x = spot.x; y = spot.y;
    }
    var node = blankNode(path, x, y);
    var image = lastImage();
    if (image) node.runtime_image = image;
    change(function () { doc.nodes.push(node); }, { keepPanel: true });
    selection = [node.id];
    selectedEdge = null;
    drawCanvas();
    drawPanel();
    return node;
  }
  function lastImage() {
    if (doc.defaults.runtime_image) return ""; // the pipeline's default applies
    for (var i = doc.nodes.length - 1; i >= 0; i--) if (doc.nodes[i].runtime_image) return doc.nodes[i].runtime_image;
    return IMAGES[0] || "";
  }
  function freeSpot() {
    if (!doc.nodes.length) return { x: 40, y: 40 };
    var maxX = -Infinity, top = Infinity;
    doc.nodes.forEach(function (n) { maxX = Math.max(maxX, n.x || 0); top = Math.min(top, n.y || 0); });
    return { x: maxX + NODE_W + GAP_X, y: top };
  }
  function deleteSelection() {
    if (selectedEdge) {
      var edge = selectedEdge;
      change(function () {
        var target = nodeById(edge.to);
        if (target) target.depends_on = target.depends_on.filter(function (id) { return id !== edge.from; });
      });
      selectedEdge = null;
      drawCanvas();
      return;
    }
    if (!selection.length) return;
    var gone = selection.slice();
    change(function () {
      doc.nodes = doc.nodes.filter(function (n) { return gone.indexOf(n.id) < 0; });
      doc.nodes.forEach(function (n) {
        n.depends_on = n.depends_on.filter(function (id) { return gone.indexOf(id) < 0; });
      });
    });
    selection = [];
    drawCanvas();
    drawPanel();
  }
  function autoLayout(opening) {
    opening = opening === true;
    var level = {}, order = [];
    var visiting = {};
    function depth(node) {
      if (level[node.id] !== undefined) return level[node.id];
      if (visiting[node.id]) return 0;
      visiting[node.id] = true;
      var d = 0;
      node.depends_on.forEach(function (id) {
        var pred = nodeById(id);
        if (pred) d = Math.max(d, depth(pred) + 1);
      });
      level[node.id] = d;
      return d;
    }
    doc.nodes.forEach(function (n) { depth(n); order.push(n); });
    var columns = [];
    order.forEach(function (n) { (columns[level[n.id]] = columns[level[n.id]] || []).push(n); });
    var rank = {};
    change(function () {
      columns.forEach(function (column, c) {
        if (c > 0) {
          // Barycentre of the predecessors' rows: fewer crossings than the input order.
          column.sort(function (a, b) { return bary(a) - bary(b); });
        }
        column.forEach(function (n, r) {
          rank[n.id] = r;
          n.x = 40 + c * (NODE_W + GAP_X);
          n.y = 40 + r * (NODE_H + GAP_Y);
        });
      });
    });
    fit(opening ? openingZoom() : undefined);
    function bary(node) {
      var preds = node.depends_on.filter(function (id) { return rank[id] !== undefined; });
      if (!preds.length) return 1e9;
      return preds.reduce(function (sum, id) { return sum + rank[id]; }, 0) / preds.length;
    }
  }

  // -- drawing the canvas ----------------------------------------------------------------------

  var layer = sv("g", { "class": "viewport" });
  var edgeLayer = sv("g", { "class": "edges" });
  var nodeLayer = sv("g", { "class": "nodes" });
  var ghost = sv("path", { "class": "edge ghost" });
  var band = sv("rect", { "class": "band" });
  var defs = sv("defs");
  var marker = sv("marker", { id: "ed-arrow", viewBox: "0 0 10 10", refX: "9", refY: "5",
    markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" });
  marker.appendChild(sv("path", { d: "M0 0L10 5L0 10z", "class": "arrow" }));
  defs.appendChild(marker);
  svg.appendChild(defs);
  layer.appendChild(edgeLayer);
  layer.appendChild(nodeLayer);
  layer.appendChild(ghost);
  layer.appendChild(band);
  svg.appendChild(layer);
  ghost.style.display = "none";
  band.style.display = "none";

  function applyView() {
    layer.setAttribute("transform", "translate(" + view.x + "," + view.y + ") scale(" + view.k + ")");
    $("zoom-level").textContent = Math.round(view.k * 100) + "%";
  }
  function edgePath(a, b) {
    var x1 = a.x + NODE_W, y1 = a.y + NODE_H / 2, x2 = b.x, y2 = b.y + NODE_H / 2;
    if (x2 >= x1 - NODE_W / 2) {
      var dx = Math.max(40, (x2 - x1) / 2);
      return "M" + x1 + " " + y1 + " C" + (x1 + dx) + " " + y1 + " " + (x2 - dx) + " " + y2 + " " + x2 + " " + y2;
    }
    // The target sits left of the source's port: leave right, cross between the rows, enter left.
    var ym = Math.abs(y2 - y1) >= NODE_H ? (y1 + y2) / 2 : Math.max(y1, y2) + NODE_H;
    var xm = (x1 + x2) / 2;
    return "M" + x1 + " " + y1 + " C" + (x1 + 50) + " " + y1 + " " + (x1 + 50) + " " + ym + " " + xm + " " + ym +
      " C" + (x2 - 50) + " " + ym + " " + (x2 - 50) + " " + y2 + " " + x2 + " " + y2;
  }
  function drawCanvas() {
    edgeLayer.textContent = "";
    nodeLayer.textContent = "";
    $("canvas-empty").hidden = doc.nodes.length > 0;
    var byNode = (check && check.by_node) || {};
    doc.nodes.forEach(function (target) {
      target.depends_on.forEach(function (sourceId) {
        var source = nodeById(sourceId);
        if (!source) return;
        var d = edgePath(source, target);
        var isSel = selectedEdge && selectedEdge.from === sourceId && selectedEdge.to === target.id;
        var g = sv("g", { "class": "link" + (isSel ? " is-selected" : ""), "data-from": sourceId, "data-to": target.id });
        g.appendChild(sv("path", { d: d, "class": "edge-hit" }));
        g.appendChild(sv("path", { d: d, "class": "edge", "marker-end": "url(#ed-arrow)" }));
        edgeLayer.appendChild(g);
      });
    });
    doc.nodes.forEach(function (node) {
      var kind = kindOf(node.filename);
      var problems = byNode[node.id] || [];
      var classes = "enode kind-" + (kind || "unknown");
      if (selection.indexOf(node.id) >= 0) classes += " is-selected";
      if (problems.length) classes += " has-problems";
      if (connectTarget === node.id) classes += " is-target";
      var g = sv("g", { "class": classes, transform: "translate(" + node.x + "," + node.y + ")",
        "data-id": node.id, "aria-label": label(node) });
      var title = sv("title");
      title.textContent = label(node) + "\n" + (node.filename || "no file") +
        (problems.length ? "\n\n" + problems.join("\n") : "");
      g.appendChild(title);
      g.appendChild(sv("rect", { "class": "box", width: NODE_W, height: NODE_H, rx: 8, ry: 8 }));
      g.appendChild(sv("rect", { "class": "icon", x: 8, y: 10, width: 32, height: 32, rx: 6, ry: 6 }));
      var letter = sv("text", { "class": "letter", x: 24, y: 31 });
      letter.textContent = KINDS[kind] || "?";
      g.appendChild(letter);
      var name = sv("text", { "class": "label", x: 50, y: 23 });
      name.textContent = clip(label(node), 19);
      g.appendChild(name);
      var file = sv("text", { "class": "file", x: 50, y: 40 });
      file.textContent = clip(node.filename || "no file", 24);
      g.appendChild(file);
      if (problems.length) {
        var badge = sv("g", { "class": "problem-badge", transform: "translate(" + (NODE_W - 14) + ",-6)" });
        badge.appendChild(sv("circle", { r: 9 }));
        var count = sv("text", { y: 4 });
        count.textContent = String(problems.length);
        badge.appendChild(count);
        g.appendChild(badge);
      }
      g.appendChild(sv("circle", { "class": "port port-in", cx: 0, cy: NODE_H / 2, r: 6 }));
      g.appendChild(sv("circle", { "class": "port port-out", cx: NODE_W, cy: NODE_H / 2, r: 6, "data-port": "out" }));
      nodeLayer.appendChild(g);
    });
  }
  function clip(text, n) { return text.length > n ? text.slice(0, n - 1) + "…" : text; }

  function fit(minK) {
    // minK (on opening a big graph): never below a readable scale; show its top-left instead.
    minK = typeof minK === "number" ? minK : 0.15;
    var rect = wrap.getBoundingClientRect();
    if (!doc.nodes.length || !rect.width) { view = { x: 40, y: 30, k: 1 }; applyView(); return; }
    var minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    doc.nodes.forEach(function (n) {
      minX = Math.min(minX, n.x); minY = Math.min(minY, n.y);
      maxX = Math.max(maxX, n.x + NODE_W); maxY = Math.max(maxY, n.y + NODE_H);
    });
    var k = Math.min(1.25, (rect.width - 60) / (maxX - minX || 1), (rect.height - 60) / (maxY - minY || 1));
    if (k < minK) {
      view = { k: minK, x: 30 - minX * minK, y: 30 - minY * minK };
    } else {
      view = { k: k, x: (rect.width - (maxX - minX) * k) / 2 - minX * k, y: (rect.height - (maxY - minY) * k) / 2 - minY * k };
    }
    applyView();
  }
  // On opening: a small graph is shown whole; a big one no smaller than readable (its top-left).
  function openingZoom() { return doc.nodes.length <= 12 ? 0.35 : 0.6; }
  function zoomAt(factor, cx, cy) {
    var k = Math.min(3, Math.max(0.15, view.k * factor));
    view.x = cx - (cx - view.x) * (k / view.k);
    view.y = cy - (cy - view.y) * (k / view.k);
    view.k = k;
    applyView();
  }
  function toCanvas(clientX, clientY) {
    var rect = svg.getBoundingClientRect();
    return { x: (clientX - rect.left - view.x) / view.k, y: (clientY - rect.top - view.y) / view.k };
  }

  // -- pointer interactions --------------------------------------------------------------------

  var drag = null;
  svg.addEventListener("pointerdown", function (event) {
    if (event.button !== 0) return;
    svg.focus({ preventScroll: true });
    var target = event.target;
    var nodeG = target.closest ? target.closest("g.enode") : null;
    var linkG = target.closest ? target.closest("g.link") : null;
    var p = toCanvas(event.clientX, event.clientY);
    if (nodeG && target.getAttribute("data-port") === "out") {
      drag = { mode: "link", from: nodeG.getAttribute("data-id") };
      ghost.style.display = "";
    } else if (nodeG) {
      var id = nodeG.getAttribute("data-id");
      selectedEdge = null;
      if (event.shiftKey || event.metaKey || event.ctrlKey) {
        var at = selection.indexOf(id);
        if (at >= 0) selection.splice(at, 1); else selection.push(id);
      } else if (selection.indexOf(id) < 0) {
        selection = [id];
      }
      drag = { mode: "move", start: p, snapshot: JSON.stringify(doc), moved: false,
        origin: selection.map(function (sid) { var n = nodeById(sid); return { n: n, x: n.x, y: n.y }; }) };
      drawCanvas();
      drawPanel();
    } else if (linkG) {
      selection = [];
      selectedEdge = { from: linkG.getAttribute("data-from"), to: linkG.getAttribute("data-to") };
      drawCanvas();
      drawPanel();
      return;
    } else if (event.shiftKey) {
      drag = { mode: "band", start: p };
      band.style.display = "";
    } else {
      drag = { mode: "pan", x: event.clientX, y: event.clientY, vx: view.x, vy: view.y, moved: false };
      wrap.classList.add("is-panning");
    }
    svg.setPointerCapture(event.pointerId);
  });
  svg.addEventListener("pointermove", function (event) {
    if (!drag) return;
    var p = toCanvas(event.clientX, event.clientY);
    if (drag.mode === "move") {
      var dx = p.x - drag.start.x, dy = p.y - drag.start.y;
      if (Math.abs(dx) + Math.abs(dy) > 2) drag.moved = true;
      drag.origin.forEach(function (o) { o.n.x = Math.round(o.x + dx); o.n.y = Math.round(o.y + dy); });
      drawCanvas();
    } else if (drag.mode === "link") {
      var source = nodeById(drag.from);
      ghost.setAttribute("d", edgePath(source, { x: p.x, y: p.y - NODE_H / 2 }));
    } else if (drag.mode === "band") {
      band.setAttribute("x", Math.min(p.x, drag.start.x));
      band.setAttribute("y", Math.min(p.y, drag.start.y));
      band.setAttribute("width", Math.abs(p.x - drag.start.x));
      band.setAttribute("height", Math.abs(p.y - drag.start.y));
    } else if (drag.mode === "pan") {
      view.x = drag.vx + event.clientX - drag.x;
      view.y = drag.vy + event.clientY - drag.y;
      if (Math.abs(event.clientX - drag.x) + Math.abs(event.clientY - drag.y) > 3) drag.moved = true;
      applyView();
    }
  });
  svg.addEventListener("pointerup", function (event) {
    if (!drag) return;
    var current = drag;
    drag = null;
    wrap.classList.remove("is-panning");
    if (current.mode === "move" && current.moved) {
      undoStack.push(current.snapshot);
      redoStack = [];
      lastCoalesce = null;
      afterChange(true);
    } else if (current.mode === "link") {
      ghost.style.display = "none";
      var hit = document.elementFromPoint(event.clientX, event.clientY);
      var nodeG = hit && hit.closest ? hit.closest("g.enode") : null;
      if (nodeG) connect(current.from, nodeG.getAttribute("data-id"));
    } else if (current.mode === "band") {
      band.style.display = "none";
      var x = +band.getAttribute("x"), y = +band.getAttribute("y");
      var w = +band.getAttribute("width"), h = +band.getAttribute("height");
      selection = doc.nodes.filter(function (n) {
        return n.x < x + w && n.x + NODE_W > x && n.y < y + h && n.y + NODE_H > y;
      }).map(function (n) { return n.id; });
      drawCanvas();
      drawPanel();
    } else if (current.mode === "pan" && !current.moved) {
      selection = [];
      selectedEdge = null;
      drawCanvas();
      drawPanel();
    }
  });
  svg.addEventListener("wheel", function (event) {
    event.preventDefault();
    var rect = svg.getBoundingClientRect();
    zoomAt(event.deltaY < 0 ? 1.1 : 1 / 1.1, event.clientX - rect.left, event.clientY - rect.top);
  }, { passive: false });

  // Files dragged from the palette (or from the desktop) onto the canvas.
  wrap.addEventListener("dragover", function (event) {
    var types = Array.prototype.slice.call(event.dataTransfer.types || []);
    if (types.indexOf("application/x-ydp-file") >= 0 || types.indexOf("Files") >= 0) {
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
      wrap.classList.add("is-drop");
    }
  });
  wrap.addEventListener("dragleave", function () { wrap.classList.remove("is-drop"); });
  wrap.addEventListener("drop", function (event) {
    event.preventDefault();
    wrap.classList.remove("is-drop");
    var p = toCanvas(event.clientX, event.clientY);
    var path = event.dataTransfer.getData("application/x-ydp-file");
    if (path) { addNode(path, Math.round(p.x - NODE_W / 2), Math.round(p.y - NODE_H / 2)); return; }
    collectDropped(event.dataTransfer).then(function (items) {
      return upload(items).then(function (added) {
        (added || []).filter(function (a) { return RUNNABLE.test(a); }).forEach(function (a, i) {
          addNode(a, Math.round(p.x - NODE_W / 2), Math.round(p.y - NODE_H / 2 + i * (NODE_H + GAP_Y)));
        });
      });
    });
  });

  // -- keyboard ----------------------------------------------------------------------------------

  function inField(event) {
    var t = event.target;
    return t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
  }
  document.addEventListener("keydown", function (event) {
    if (document.querySelector("dialog[open]")) return;
    var mod = event.ctrlKey || event.metaKey;
    if (mod && event.key.toLowerCase() === "s") { event.preventDefault(); openVersionDialog(false); return; }
    if (inField(event)) return;
    if (mod && event.key.toLowerCase() === "z") { event.preventDefault(); if (event.shiftKey) redo(); else undo(); return; }
    if (mod && event.key.toLowerCase() === "y") { event.preventDefault(); redo(); return; }
    if (document.activeElement !== svg) return;
    canvasKey(event, mod);
  });
  function canvasKey(event, mod) {
    var key = event.key;
    if (mod && key.toLowerCase() === "a") {
      event.preventDefault();
      selection = doc.nodes.map(function (n) { return n.id; });
      drawCanvas(); drawPanel();
    } else if (key === "Tab" && doc.nodes.length) {
      event.preventDefault();
      var current = connectFrom ? connectTarget || connectFrom : selection[selection.length - 1];
      var index = doc.nodes.findIndex(function (n) { return n.id === current; });
      index = (index + (event.shiftKey ? -1 : 1) + doc.nodes.length) % doc.nodes.length;
      if (connectFrom) { connectTarget = doc.nodes[index].id; drawCanvas(); }
      else { selection = [doc.nodes[index].id]; selectedEdge = null; drawCanvas(); drawPanel(); }
      announce(doc.nodes[index]);
    } else if (key === "Enter" && connectFrom) {
      event.preventDefault();
      var from = connectFrom, to = connectTarget;
      connectFrom = connectTarget = null;
      if (to) connect(from, to);
      drawCanvas();
    } else if (key === "c" && selection.length === 1 && !mod) {
      connectFrom = selection[0];
      connectTarget = null;
      toast("Connect “" + label(nodeById(connectFrom)) + "” to…: Tab to a node, Enter to connect, Escape to cancel.");
    } else if (key === "Escape") {
      connectFrom = connectTarget = null;
      selection = []; selectedEdge = null;
      drawCanvas(); drawPanel();
    } else if (key === "Delete" || key === "Backspace") {
      event.preventDefault();
      deleteSelection();
    } else if (key.indexOf("Arrow") === 0 && selection.length) {
      event.preventDefault();
      var step = event.shiftKey ? 40 : 10;
      var dx = key === "ArrowLeft" ? -step : key === "ArrowRight" ? step : 0;
      var dy = key === "ArrowUp" ? -step : key === "ArrowDown" ? step : 0;
      change(function () {
        selection.forEach(function (id) { var n = nodeById(id); n.x += dx; n.y += dy; });
      }, { coalesce: "move:" + selection.join(","), keepPanel: true });
    } else if (key.indexOf("Arrow") === 0) {
      // Nothing selected: the arrows pan the canvas.
      event.preventDefault();
      view.x += key === "ArrowLeft" ? 60 : key === "ArrowRight" ? -60 : 0;
      view.y += key === "ArrowUp" ? 60 : key === "ArrowDown" ? -60 : 0;
      applyView();
    } else if (key === "l" || key === "L") {
      autoLayout();
    } else if (key === "+" || key === "=") {
      zoomAt(1.2, wrap.clientWidth / 2, wrap.clientHeight / 2);
    } else if (key === "-") {
      zoomAt(1 / 1.2, wrap.clientWidth / 2, wrap.clientHeight / 2);
    } else if (key === "0") {
      fit();
    } else if (key === "?") {
      $("keys-dialog").showModal();
    }
  }
  function announce(node) { $("canvas-hint").textContent = "Selected: " + label(node) + " (" + node.filename + ")"; }

  // -- toolbar -----------------------------------------------------------------------------------

  $("tool-undo").addEventListener("click", undo);
  $("tool-redo").addEventListener("click", redo);
  $("tool-layout").addEventListener("click", function () { autoLayout(); });
  $("tool-delete").addEventListener("click", deleteSelection);
  $("tool-zoom-in").addEventListener("click", function () { zoomAt(1.2, wrap.clientWidth / 2, wrap.clientHeight / 2); });
  $("tool-zoom-out").addEventListener("click", function () { zoomAt(1 / 1.2, wrap.clientWidth / 2, wrap.clientHeight / 2); });
  $("tool-fit").addEventListener("click", function () { fit(); });
  $("keys-close").addEventListener("click", function () { $("keys-dialog").close(); });
  function updateTools() {
    $("tool-undo").disabled = !undoStack.length;
    $("tool-redo").disabled = !redoStack.length;
    $("tool-delete").disabled = !selection.length && !selectedEdge;
  }

  // -- files palette -----------------------------------------------------------------------------

  // The palette is rebuilt only when its files change: any edit (an answer of the properties
  // panel arriving mid-drag included) only updates the marks, so a drag that has started from an
  // item keeps its item (a rebuilt one would cancel the drag).
  var shownFiles = null;
  function markUsed(item, used) {
    var mark = item.querySelector(".file-used");
    if (used && !mark) item.insertBefore(el("span", { className: "file-used", title: "Used by a node", text: "●" }), item.querySelector(".file-action"));
    if (!used && mark) mark.remove();
  }
  function drawFiles() {
    var list = $("file-list");
    var key = JSON.stringify(files.map(function (f) { return f.path; }));
    if (key === shownFiles) {
      Array.prototype.forEach.call(list.querySelectorAll(".file-item"), function (item) {
        var path = item.getAttribute("data-path");
        markUsed(item, doc.nodes.some(function (n) { return n.filename === path; }));
      });
      return;
    }
    shownFiles = key;
    list.textContent = "";
    $("file-count").textContent = files.length ? files.length + " file" + (files.length === 1 ? "" : "s") : "";
    if (!files.length) {
      list.appendChild(el("li", { className: "muted file-empty", text: "No files yet." }));
    }
    files.forEach(function (f) {
      var kind = kindOf(f.path);
      var used = doc.nodes.some(function (n) { return n.filename === f.path; });
      var item = el("li", { className: "file-item" + (kind ? " is-runnable" : ""),
        draggable: kind ? "true" : null, "data-path": f.path }, [
        el("span", { className: "file-kind kind-" + (kind || "other"), text: KINDS[kind] || "·", "aria-hidden": "true" }),
        el("button", { type: "button", className: "file-name", title: f.path + (kind ? " — drag onto the canvas, or press Enter to add a node" : ""),
          text: f.path, onclick: function () { openFile(f.path); },
          onkeydown: function (event) {
            if (event.key === "Enter" && kind && !event.shiftKey) { event.preventDefault(); addNode(f.path); svg.focus(); }
          } }),
        el("button", { type: "button", className: "btn btn-ghost btn-sm file-action", "aria-label": "Rename " + f.path,
          title: "Rename", text: "Rename", onclick: function () { renameFile(f.path); } }),
        el("button", { type: "button", className: "btn btn-ghost btn-sm file-action", "aria-label": "Delete " + f.path,
          title: "Delete", text: "Delete", onclick: function () { deleteFile(f.path); } })
      ]);
      markUsed(item, used);
      if (kind) {
        item.addEventListener("dragstart", function (event) {
          event.dataTransfer.setData("application/x-ydp-file", f.path);
          event.dataTransfer.setData("text/plain", f.path);
          event.dataTransfer.effectAllowed = "copy";
        });
      }
      list.appendChild(item);
    });
  }
  function upload(items) {
    if (!items.length) return Promise.resolve([]);
    var form = new FormData();
    items.forEach(function (item) { form.append("files", item.file, basename(item.path)); form.append("paths", item.path); });
    setStatus("Uploading…");
    return request(S.urls.files, { body: form }).then(function (data) {
      if (data.status !== 200) {
        setStatus("Not saved", "error");
        showError("Files not added", data.error || "The upload was refused.", false);
        return [];
      }
      hideError();
      files = data.files;
      check = data.check;
      setStatus("Saved", "ok");
      drawFiles(); drawCanvas(); drawPanel(true);
      return data.added;
    });
  }
  function collectDropped(transfer) {
    // Folders keep their structure: walk the entries (webkitGetAsEntry) when the browser has them.
    var entries = Array.prototype.map.call(transfer.items || [], function (item) {
      return item.webkitGetAsEntry ? item.webkitGetAsEntry() : null;
    }).filter(Boolean);
    if (!entries.length) {
      return Promise.resolve(Array.prototype.map.call(transfer.files || [], function (f) { return { file: f, path: f.name }; }));
    }
    var out = [];
    function walk(entry, prefix) {
      if (entry.isFile) {
        return new Promise(function (resolve) {
          entry.file(function (f) { out.push({ file: f, path: prefix + f.name }); resolve(); }, resolve);
        });
      }
      return new Promise(function (resolve) {
        var reader = entry.createReader(), all = [];
        (function more() {
          reader.readEntries(function (batch) {
            if (!batch.length) {
              Promise.all(all.map(function (e) { return walk(e, prefix + entry.name + "/"); })).then(resolve);
            } else { all = all.concat(batch); more(); }
          }, resolve);
        })();
      });
    }
    return Promise.all(entries.map(function (e) { return walk(e, ""); })).then(function () { return out; });
  }
  function fromInput(input) {
    var items = Array.prototype.map.call(input.files, function (f) {
      return { file: f, path: f.webkitRelativePath || f.name };
    });
    input.value = "";
    return upload(items);
  }
  $("file-input").addEventListener("change", function () { fromInput(this); });
  $("folder-input").addEventListener("change", function () { fromInput(this); });
  var dropzone = $("dropzone");
  dropzone.addEventListener("dragover", function (event) { event.preventDefault(); dropzone.classList.add("is-over"); });
  dropzone.addEventListener("dragleave", function () { dropzone.classList.remove("is-over"); });
  dropzone.addEventListener("drop", function (event) {
    event.preventDefault();
    dropzone.classList.remove("is-over");
    collectDropped(event.dataTransfer).then(upload);
  });
  dropzone.addEventListener("keydown", function (event) {
    if (event.key === "Enter" || event.key === " ") { event.preventDefault(); $("file-input").click(); }
  });
  function renameFile(path) {
    var next = window.prompt("New path for " + path, path);
    if (!next || next === path) return;
    request(S.urls.rename, { body: { old: path, "new": next } }).then(function (data) {
      if (data.status !== 200) { toast(data.error || "Not renamed.", true); return; }
      files = data.files;
      // Nodes follow their file.
      change(function () {
        doc.nodes.forEach(function (n) { if (n.filename === path) n.filename = data.path; });
      });
      drawFiles();
    });
  }
  function deleteFile(path) {
    var users = doc.nodes.filter(function (n) { return n.filename === path; }).length;
    var question = "Delete " + path + "?" + (users ? " " + users + " node(s) run it." : "");
    if (!window.confirm(question)) return;
    request(S.urls["delete"], { body: { path: path } }).then(function (data) {
      if (data.status !== 200) { toast(data.error || "Not deleted.", true); return; }
      files = data.files;
      check = data.check;
      drawFiles(); drawCanvas(); drawPanel(true);
    });
  }

  // -- the file dialog: code editor, notebook view -----------------------------------------------

  var cm = null, openPath = null;
  function openFile(path) {
    var dialog = $("file-dialog"), body = $("file-dialog-body");
    openPath = path;
    $("file-dialog-title").textContent = path;
    $("file-dialog-note").textContent = "";
    $("file-save").hidden = true;
    $("file-replace").hidden = true;
    body.textContent = "Loading…";
    dialog.showModal();
    request(S.urls.file + "?path=" + encodeURIComponent(path)).then(function (data) {
      body.textContent = "";
      cm = null;
      if (data.status !== 200) { body.appendChild(el("p", { className: "muted", text: data.error || "Cannot show this file." })); return; }
      var kind = kindOf(path);
      if (kind === "notebook") {
        $("file-dialog-note").textContent = "Read-only: replace it by uploading a new version.";
        $("file-replace").hidden = false;
        renderNotebook(body, data.text);
      } else if ((kind === "python" || kind === "r") && window.CodeMirror) {
        $("file-save").hidden = false;
        cm = window.CodeMirror(body, { value: data.text, mode: kind === "python" ? "python" : "r",
          lineNumbers: true, indentUnit: 4, viewportMargin: 50 });
        setTimeout(function () { cm.refresh(); cm.focus(); }, 0);
      } else {
        $("file-dialog-note").textContent = "Read-only.";
        body.appendChild(el("pre", { className: "file-text", text: data.text }));
      }
    });
  }
  function renderNotebook(body, text) {
    var nb;
    try { nb = JSON.parse(text); } catch (e) { body.appendChild(el("p", { className: "muted", text: "Not a valid notebook (JSON)." })); return; }
    var cells = (nb && nb.cells) || [];
    if (!cells.length) body.appendChild(el("p", { className: "muted", text: "The notebook has no cells." }));
    cells.forEach(function (cell, i) {
      var source = Array.isArray(cell.source) ? cell.source.join("") : String(cell.source || "");
      var code = cell.cell_type === "code";
      body.appendChild(el("div", { className: "nb-cell nb-" + (code ? "code" : "text") }, [
        el("div", { className: "nb-prompt", text: code ? "In [" + (cell.execution_count || " ") + "]" : "" }),
        el("pre", { className: "nb-source", text: source || " " })
      ]));
    });
  }
  $("file-close").addEventListener("click", function () { $("file-dialog").close(); });
  $("file-save").addEventListener("click", function () {
    if (!cm) return;
    request(S.urls.file, { body: { path: openPath, text: cm.getValue() } }).then(function (data) {
      if (data.status !== 200) { $("file-dialog-note").textContent = data.error || "Not saved."; return; }
      files = data.files;
      $("file-dialog-note").textContent = "Saved.";
      drawFiles();
    });
  });
  $("file-replace-input").addEventListener("change", function () {
    var file = this.files[0];
    this.value = "";
    if (!file) return;
    upload([{ file: file, path: openPath }]).then(function () { openFile(openPath); });
  });

  // -- properties panel --------------------------------------------------------------------------
  //
  // The forms are the server's (apps/editor/forms.py, templates/editor/_node_form.html and
  // _pipeline_form.html): selecting a node loads its form for the document this page holds;
  // an edit posts back (htmx, a moment after typing) and the server answers with the importer's
  // messages on the fields and an `ydp:properties` event carrying the values the document takes.
  // This script applies them as any change (undo, autosave), and keeps only the graph.

  var panelSeq = 0, formDirty = false, formRequests = 0, idleWaiters = [];
  function onIdle() {
    if (formRequests > 0) return;
    var waiters = idleWaiters;
    idleWaiters = [];
    waiters.forEach(function (resolve) { resolve(); });
  }
  // An edit typed but not posted yet (its delay running) is sent before the form is replaced,
  // and its answer awaited, so that nothing typed is lost on a switch of node.
  function flushForm() {
    var form = $("props-form");
    if (form && formDirty && window.htmx) htmx.trigger(form, "flush");
    if (!formRequests) return Promise.resolve();
    return new Promise(function (resolve) { idleWaiters.push(resolve); });
  }
  props.addEventListener("input", function (event) {
    if (!event.target.closest || !event.target.closest("#props-form")) return;
    formDirty = true;
    if (!conflict) setStatus("Unsaved changes…");
  });
  function formPending() { return formDirty || formRequests > 0; }
  function inPanel(elt) { return elt && props.contains(elt); }
  document.body.addEventListener("htmx:configRequest", function (event) {
    if (!inPanel(event.detail.elt)) return;
    event.detail.parameters.document = JSON.stringify(doc);
  });
  document.body.addEventListener("htmx:beforeRequest", function (event) {
    if (!inPanel(event.detail.elt) || !event.detail.xhr) return;
    formDirty = false;
    formRequests++;
    // loadend follows the answer's handling (its event, its swap), and an abort too.
    event.detail.xhr.addEventListener("loadend", function () {
      formRequests = Math.max(0, formRequests - 1);
      // An edit that changed nothing leaves nothing to save.
      if (!formPending() && !dirty && !saving && !conflict && !panelRefused) setStatus("Saved", "ok");
      onIdle();
    });
  });
  // A refused edit (a value over the document's limits, a page whose document the server cannot
  // read) says so where saves report theirs; the next accepted edit clears it.
  var panelRefused = false;
  document.body.addEventListener("htmx:responseError", function (event) {
    if (!inPanel(event.detail.elt)) return;
    var xhr = event.detail.xhr;
    var text = (xhr.responseText || "").trim().slice(0, 300) || "HTTP " + xhr.status;
    panelRefused = true;
    setStatus("Not saved", "error");
    showError("That change was not taken", text, false);
  });
  document.body.addEventListener("htmx:sendError", function (event) {
    if (!inPanel(event.detail.elt)) return;
    panelRefused = true;
    setStatus("Offline: not saved", "error");
    showError("That change was not taken", "The server could not be reached; type it again once it is back.", false);
  });
  document.body.addEventListener("htmx:afterRequest", function (event) {
    if (!inPanel(event.detail.elt) || !event.detail.successful || !panelRefused) return;
    panelRefused = false;
    hideError();
  });
  // The answer to a form another selection has replaced meanwhile is not shown.
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    var elt = event.detail.requestConfig && event.detail.requestConfig.elt;
    if (elt && elt.closest && !elt.isConnected) event.detail.shouldSwap = false;
  });
  document.body.addEventListener("ydp:properties", function (event) {
    var detail = event.detail || {};
    var target = detail.node ? nodeById(detail.node) : doc;
    if (target && detail.values) {
      var changed = Object.keys(detail.values).filter(function (key) {
        return JSON.stringify(target[key]) !== JSON.stringify(detail.values[key]);
      });
      if (changed.length) {
        change(function () {
          changed.forEach(function (key) { target[key] = detail.values[key]; });
        }, { coalesce: "props:" + (detail.node || "pipeline") + ":" + changed.join(","), keepPanel: true });
      }
      if (!detail.node) $("editor-title").textContent = doc.name || "Untitled pipeline";
    }
    if (detail.check) { check = detail.check; drawCanvas(); }
  });
  // A field whose error slot holds a message is marked (the slots are swapped out of band).
  function markErrors() {
    Array.prototype.forEach.call(props.querySelectorAll(".field, .records, .param-card"), function (box) {
      box.classList.toggle("has-error", !!box.querySelector(":scope > .field-errors .field-error"));
    });
  }
  if (window.MutationObserver) new MutationObserver(markErrors).observe(props, { childList: true, subtree: true });
  props.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-action]") : null;
    if (!button) return;
    if (button.getAttribute("data-action") === "open-file") openFile(button.getAttribute("data-path"));
    if (button.getAttribute("data-action") === "delete-node") deleteSelection();
  });

  // `force`: the document changed under the form (undo, a link, files): ask for it again even if
  // it is the form shown; a selection that did not change keeps the form (and what is typed).
  function drawPanel(force) {
    updateTools();
    if (selectedEdge || selection.length > 1) {
      var seq = ++panelSeq;
      loadingPanel = false;
      // Not before an edit typed in the form has been applied (its answer needs the form).
      flushForm().then(function () { if (seq === panelSeq) drawSelectionPanel(); });
      return;
    }
    var nodeId = selection.length === 1 && nodeById(selection[0]) ? selection[0] : "";
    var shown = $("props-form");
    if (!force && shown && shown.getAttribute("data-node") === nodeId && !loadingPanel) return;
    loadPanel(nodeId);
  }
  function drawSelectionPanel() {
    props.textContent = "";
    if (selectedEdge) {
      var from = nodeById(selectedEdge.from), to = nodeById(selectedEdge.to);
      $("props-title").textContent = "Link";
      props.appendChild(el("p", { text: label(from) + " → " + label(to) }));
      props.appendChild(el("button", { type: "button", className: "btn btn-sm", text: "Delete link", onclick: deleteSelection }));
    } else {
      $("props-title").textContent = selection.length + " nodes";
      props.appendChild(el("p", { className: "muted", text: "Move them together by dragging or with the arrow keys." }));
      props.appendChild(el("button", { type: "button", className: "btn btn-sm", text: "Delete " + selection.length + " nodes", onclick: deleteSelection }));
    }
  }
  var loadingPanel = false;
  function loadPanel(nodeId) {
    var seq = ++panelSeq;
    loadingPanel = true;
    // The form shown is another node's (or about to be redrawn): nothing more typed into it.
    var shown = $("props-form");
    if (shown && shown.getAttribute("data-node") !== nodeId) shown.inert = true;
    return flushForm().then(function () {
      if (seq !== panelSeq) return;
      var body = new FormData();
      body.append("document", JSON.stringify(doc));
      if (nodeId) body.append("node", nodeId);
      return fetch(S.urls.properties, { method: "POST", body: body, credentials: "same-origin",
        headers: { "X-CSRFToken": CSRF, "HX-Request": "true" } }).then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.text();
      }).then(function (html) {
        if (seq !== panelSeq) return;
        // Typed into the form shown meanwhile: apply that first, then ask again.
        if (formDirty || formRequests) return loadPanel(nodeId);
        loadingPanel = false;
        htmx.swap(props, html, { swapStyle: "innerHTML", swapDelay: 0, settleDelay: 0 });
        markErrors();
      });
    }).catch(function () {
      if (seq !== panelSeq) return;
      props.textContent = "";
      props.appendChild(el("p", { className: "muted", text: "The properties could not be loaded: reload the page." }));
    });
  }

  // -- save as version / save and run -----------------------------------------------------------

  var runAfter = false;
  function openVersionDialog(run) {
    runAfter = run;
    $("version-dialog-title").textContent = run ? "Save and run" : "Save as version";
    $("version-submit").textContent = run ? "Save and go to the run form" : "Save version";
    $("version-error").hidden = true;
    $("version-dialog").showModal();
    $("version-name").focus();
  }
  $("save-version").addEventListener("click", function () { openVersionDialog(false); });
  $("save-run").addEventListener("click", function () { openVersionDialog(true); });
  $("version-cancel").addEventListener("click", function () { $("version-dialog").close(); });
  $("version-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var button = $("version-submit");
    button.disabled = true;
    save().then(function () {
      return request(S.urls.save_version, { body: { version_name: $("version-name").value,
        description: $("version-description").value, run: runAfter } });
    }).then(function (data) {
      button.disabled = false;
      if (data.status === 200) { dirty = false; window.location.assign(data.url); return; }
      $("version-error").hidden = false;
      $("version-error-text").textContent = data.error || "Refused.";
      if (data.check) { check = data.check; drawCanvas(); drawPanel(true); }
    }, function () {
      button.disabled = false;
      $("version-error").hidden = false;
      $("version-error-text").textContent = conflict ? "Someone else changed this draft: reload it first." : "The draft could not be saved.";
    });
  });

  // -- start -------------------------------------------------------------------------------------

  drawFiles();
  drawCanvas();
  updateTools(); // the pipeline's form came with the page
  if (doc.nodes.some(function (n) { return n.x === null || n.y === null; })) {
    autoLayout(true);
    undoStack = [];
    updateTools();
  } else {
    fit(openingZoom());
  }
  setStatus("Saved", "ok");
  adoptPending();

  function adoptPending() {
    var pending = readPending();
    var ours = pending && (pending.revision === S.revision ||
      (pending.inflight && pending.revision + 1 === S.revision));
    if (!ours) { dropPending(); return; }
    if (JSON.stringify(pending.document) === JSON.stringify(S.document)) { dropPending(); return; }
    // A save sent as the last page unloaded may still be on its way: ask again in a moment.
    setStatus("Restoring unsaved changes…");
    setTimeout(function () {
      request(S.urls.document).then(function (data) {
        if (data.status !== 200) { setStatus("Saved", "ok"); return; }
        if (data.revision !== S.revision) {
          // Saved meanwhile (that last save arrived, or someone else): show the draft as stored.
          dropPending();
          doc = data.document; revision = data.revision; files = data.files; check = data.check;
          selection = selection.filter(nodeById);
          drawCanvas(); drawFiles(); drawPanel(true);
          setStatus("Saved", "ok");
          return;
        }
        doc = pending.document;
        doc.defaults = doc.defaults || { runtime_image: "", env: [] };
        selection = selection.filter(nodeById);
        afterChange(false);
      });
    }, 700);
  }
})();
