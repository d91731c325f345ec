/**
 * The site's stylesheet and script, written as files next to the pages (nothing is fetched
 * from outside): search over the embedded index, and the lineage explorer, which draws one hop
 * around the node in focus.
 * @module
 */

/** assets/style.css */
export const STYLE = `
:root { --ink: #0f172a; --muted: #64748b; --line: #e2e8f0; --bg: #f8fafc; --card: #fff;
  --accent: #2563eb; --ok: #059669; --warn: #d97706; --fail: #dc2626; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--ink); background: var(--bg); }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
header.top { position: sticky; top: 0; z-index: 10; display: flex; align-items: center; gap: 20px;
  padding: 10px 24px; background: #0f172a; color: #fff; }
header.top .brand { font-weight: 700; font-size: 16px; color: #fff; }
header.top .brand small { font-weight: 400; color: #94a3b8; margin-left: 6px; }
header.top nav a { color: #cbd5e1; margin-right: 14px; }
header.top nav a.active { color: #fff; font-weight: 600; border-bottom: 2px solid #60a5fa; }
.search { margin-left: auto; position: relative; }
.search input { width: 340px; padding: 6px 10px; border-radius: 6px; border: 1px solid #334155;
  background: #1e293b; color: #fff; font-size: 14px; }
.search input::placeholder { color: #94a3b8; }
.search .results { position: absolute; right: 0; top: 36px; width: 520px; max-height: 70vh; overflow: auto;
  background: #fff; color: var(--ink); border: 1px solid var(--line); border-radius: 8px;
  box-shadow: 0 10px 30px rgba(15, 23, 42, .2); display: none; }
.search .results.open { display: block; }
.search .results a { display: block; padding: 7px 12px; border-bottom: 1px solid var(--line); color: var(--ink); }
.search .results a.current, .search .results a:hover { background: #eff6ff; text-decoration: none; }
.search .results .kind { display: inline-block; min-width: 54px; font-size: 11px; text-transform: uppercase;
  color: var(--muted); }
.search .results .detail { display: block; font-size: 12px; color: var(--muted); margin-left: 58px; }
.search .results .none { padding: 10px 12px; color: var(--muted); }
main { max-width: 1280px; margin: 0 auto; padding: 20px 24px 60px; }
h1 { font-size: 24px; margin: 8px 0 4px; }
h1 small { font-size: 14px; color: var(--muted); font-weight: 400; }
h2 { font-size: 18px; margin: 28px 0 10px; }
p.lead { color: #334155; max-width: 900px; }
.crumbs { color: var(--muted); font-size: 13px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 14px 0; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; min-width: 150px; }
.card .n { font-size: 22px; font-weight: 700; }
.card .l { color: var(--muted); font-size: 12px; }
table.grid { border-collapse: collapse; width: 100%; background: var(--card); border: 1px solid var(--line); }
table.grid th, table.grid td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
table.grid th { background: #f1f5f9; font-size: 12px; text-transform: uppercase; letter-spacing: .03em; color: #475569; }
table.grid td.num, table.grid th.num { text-align: right; font-variant-numeric: tabular-nums; }
code, pre, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
code.path { background: #fef3c7; padding: 1px 5px; border-radius: 4px; }
pre { background: #0f172a; color: #e2e8f0; padding: 12px; border-radius: 6px; overflow: auto; max-height: 480px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; color: #fff; }
.badge.passed, .badge.succeeded { background: var(--ok); }
.badge.warned, .badge.warn { background: var(--warn); }
.badge.failed, .badge.errored, .badge.error { background: var(--fail); }
.badge.running, .badge.abandoned, .badge.planned { background: var(--muted); }
.tag { display: inline-block; padding: 0 6px; border-radius: 4px; background: #e2e8f0; font-size: 11px; color: #334155; }
.muted { color: var(--muted); }
.panel { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 14px; overflow: auto; }
.cols2 { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
details summary { cursor: pointer; }
svg text { font-family: system-ui, sans-serif; }
svg.chart .grid { stroke: #e2e8f0; }
svg.chart .axis, svg .note { font-size: 11px; fill: #64748b; }
svg.chart .legend text { font-size: 12px; fill: #334155; }
svg .edge { fill: none; stroke: #94a3b8; stroke-width: 1.5; }
svg.graph .node rect { fill: #eff6ff; stroke: #2563eb; }
svg.graph .node .label { font-size: 13px; font-weight: 600; fill: #1e3a8a; }
svg.graph .node.selected rect { fill: #2563eb; }
svg.graph .node.selected .label, svg.graph .node.selected .note { fill: #fff; }
svg.er .body { fill: #fff; stroke: #94a3b8; }
svg.er .head { fill: #1e3a8a; }
svg.er .external .head { fill: #64748b; }
svg.er .title { fill: #fff; font-size: 12.5px; font-weight: 600; }
svg.er .col { font-size: 11.5px; fill: #0f172a; }
svg.er .col.key { font-weight: 700; }
svg.er .type { font-size: 10.5px; fill: #64748b; }
svg.er .fk { stroke: #2563eb; }
.strip { display: inline-flex; gap: 2px; vertical-align: middle; }
.strip i { display: inline-block; width: 9px; height: 16px; border-radius: 2px; background: #cbd5e1; }
.strip i.passed { background: var(--ok); } .strip i.failed.warn { background: var(--warn); }
.strip i.failed.error, .strip i.errored { background: var(--fail); }
#lineage-view svg { background: #fff; border: 1px solid var(--line); border-radius: 8px; }
#lineage-view .lnode rect { fill: #fff; stroke: #64748b; stroke-width: 1.2; }
#lineage-view .lnode.collection rect { fill: #ecfdf5; stroke: #059669; }
#lineage-view .lnode.raw rect { fill: #fffbeb; stroke: #d97706; }
#lineage-view .lnode.table rect { fill: #eff6ff; stroke: #2563eb; }
#lineage-view .lnode.focus rect { stroke-width: 3; }
#lineage-view .lnode { cursor: pointer; }
#lineage-view .lnode text { font-size: 12.5px; fill: #0f172a; }
#lineage-view .lnode .kind { font-size: 10px; fill: #64748b; text-transform: uppercase; }
#lineage-view .hop { font-size: 12px; fill: #64748b; }
.legend-keys span { margin-right: 14px; font-size: 12px; }
.legend-keys i { display: inline-block; width: 12px; height: 12px; border-radius: 3px; vertical-align: -2px; margin-right: 4px; border: 1px solid; }
footer { color: var(--muted); font-size: 12px; margin-top: 40px; }
`;

/** assets/app.js: search, and the lineage explorer on lineage.html. */
export const SCRIPT = `"use strict";
(function () {
  var docs = window.LML_DOCS || { index: [], lineage: { nodes: {}, edges: [] } };

  // Search over tables, columns, schemas and checks (every page).
  var input = document.getElementById("search");
  var box = document.getElementById("search-results");
  var current = -1;
  function escapeHtml(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function search(query) {
    var terms = query.toLowerCase().split(/\\s+/).filter(Boolean);
    if (terms.length === 0) return [];
    var hits = [];
    docs.index.forEach(function (e) {
      var name = e.name.toLowerCase();
      var text = (e.name + " " + (e.detail || "")).toLowerCase();
      if (!terms.every(function (t) { return text.indexOf(t) >= 0; })) return;
      var last = name.split(".").pop();
      var score = terms.reduce(function (n, t) {
        return n + (last === t ? 8 : last.indexOf(t) === 0 ? 5 : name.indexOf(t) >= 0 ? 3 : 1);
      }, 0) + (e.kind === "table" ? 2 : e.kind === "schema" ? 3 : 0);
      hits.push({ e: e, score: score });
    });
    hits.sort(function (a, b) { return b.score - a.score || a.e.name.localeCompare(b.e.name); });
    return hits.slice(0, 30).map(function (h) { return h.e; });
  }
  function render() {
    var hits = search(input.value);
    current = hits.length ? 0 : -1;
    if (!input.value.trim()) { box.classList.remove("open"); box.innerHTML = ""; return; }
    box.innerHTML = hits.length
      ? hits.map(function (e, i) {
          return '<a href="' + escapeHtml(e.href) + '" class="' + (i === 0 ? "current" : "") + '">' +
            '<span class="kind">' + escapeHtml(e.kind) + "</span>" + escapeHtml(e.name) +
            (e.detail ? '<span class="detail">' + escapeHtml(e.detail) + "</span>" : "") + "</a>";
        }).join("")
      : '<div class="none">No table, column, schema or check matches.</div>';
    box.classList.add("open");
  }
  if (input && box) {
    input.addEventListener("input", render);
    input.addEventListener("keydown", function (ev) {
      var links = box.querySelectorAll("a");
      if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
        if (!links.length) return;
        ev.preventDefault();
        if (current >= 0) links[current].classList.remove("current");
        current = (current + (ev.key === "ArrowDown" ? 1 : links.length - 1)) % links.length;
        links[current].classList.add("current");
        links[current].scrollIntoView({ block: "nearest" });
      } else if (ev.key === "Enter" && current >= 0 && links[current]) {
        window.location.href = links[current].getAttribute("href");
      } else if (ev.key === "Escape") {
        box.classList.remove("open");
      }
    });
    document.addEventListener("click", function (ev) {
      if (!box.contains(ev.target) && ev.target !== input) box.classList.remove("open");
    });
  }

  // Lineage explorer: the node in focus, what feeds it (left) and what it feeds (right).
  var view = document.getElementById("lineage-view");
  if (!view) return;
  var nodes = docs.lineage.nodes, edges = docs.lineage.edges;
  var NS = "http://www.w3.org/2000/svg";
  function el(name, attrs, text) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function focusId() {
    var id = decodeURIComponent(window.location.hash.slice(1));
    if (nodes[id]) return id;
    return Object.keys(nodes)[0];
  }
  function draw() {
    var id = focusId();
    var node = nodes[id];
    var up = edges.filter(function (e) { return e.to === id; });
    var down = edges.filter(function (e) { return e.from === id; });
    var W = 1100, bw = 300, bh = 46, gap = 14;
    var rows = Math.max(up.length, down.length, 1);
    var H = Math.max(200, rows * (bh + gap) + 70);
    var svg = el("svg", { viewBox: "0 0 " + W + " " + H, width: W, height: H, "data-chart": "lineage" });
    var defs = el("defs", {});
    var marker = el("marker", { id: "larrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto" });
    marker.appendChild(el("path", { d: "M0 0L10 5L0 10z", fill: "#64748b" }));
    defs.appendChild(marker);
    svg.appendChild(defs);
    svg.appendChild(el("text", { x: 20, y: 22, class: "hop" }, up.length ? "comes from (" + up.length + ")" : "nothing upstream"));
    svg.appendChild(el("text", { x: W - 20, y: 22, class: "hop", "text-anchor": "end" }, down.length ? "feeds (" + down.length + ")" : "nothing downstream"));
    function box(nid, x, y, focus) {
      var n = nodes[nid];
      var g = el("g", { class: "lnode " + n.kind + (focus ? " focus" : ""), "data-node": nid });
      g.appendChild(el("rect", { x: x, y: y, width: bw, height: bh, rx: 7 }));
      g.appendChild(el("text", { x: x + 12, y: y + 17, class: "kind" }, n.kind === "collection" ? "MongoDB collection" : n.kind === "raw" ? "raw table (lml_raw)" : "table"));
      g.appendChild(el("text", { x: x + 12, y: y + 35 }, n.label));
      g.addEventListener("click", function () { window.location.hash = encodeURIComponent(nid); });
      svg.appendChild(g);
    }
    var cx = (W - bw) / 2, cy = (H - bh) / 2 + 10;
    function link(x1, y1, x2, y2, via) {
      var mid = (x1 + x2) / 2;
      var p = el("path", { d: "M" + x1 + " " + y1 + " C" + mid + " " + y1 + " " + mid + " " + y2 + " " + (x2 - 6) + " " + y2, class: "edge", "marker-end": "url(#larrow)" });
      p.appendChild(el("title", {}, "via " + via.join(", ")));
      svg.appendChild(p);
    }
    function column(list, x, key) {
      var top = (H - list.length * (bh + gap) + gap) / 2 + 10;
      list.forEach(function (e, i) {
        var y = top + i * (bh + gap);
        if (key === "from") link(x + bw, y + bh / 2, cx, cy + bh / 2, e.via);
        else link(cx + bw, cy + bh / 2, x, y + bh / 2, e.via);
        box(e[key], x, y, false);
      });
    }
    column(up, 20, "from");
    column(down, W - bw - 20, "to");
    box(id, cx, cy, true);
    view.innerHTML = "";
    view.appendChild(svg);
    var info = document.getElementById("lineage-info");
    var html = "<h2>" + escapeHtml(node.label) + "</h2>";
    if (node.href) html += '<p><a href="' + escapeHtml(node.href) + '">Open its page</a></p>';
    if (node.description) html += "<p>" + escapeHtml(node.description) + "</p>";
    if (up.length) {
      html += "<p><b>Comes from</b> " + up.map(function (e) {
        return escapeHtml(nodes[e.from].label) + ' <span class="muted">(' + escapeHtml(e.via.join(", ")) + ")</span>";
      }).join("; ") + "</p>";
    }
    if (node.columns && node.columns.length) {
      html += '<table class="grid"><tr><th>column</th><th>type</th><th>MongoDB path</th></tr>' +
        node.columns.map(function (c) {
          return "<tr><td>" + escapeHtml(c.name) + '</td><td class="mono">' + escapeHtml(c.type) + "</td><td>" +
            (c.path ? '<code class="path">' + escapeHtml(c.path) + "</code>" : '<span class="muted">derived</span>') + "</td></tr>";
        }).join("") + "</table>";
    }
    info.innerHTML = html;
    document.title = node.label + " · lineage";
  }
  window.addEventListener("hashchange", draw);
  draw();
})();
`;
