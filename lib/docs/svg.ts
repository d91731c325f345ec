/**
 * Inline SVG drawn here, so the site needs nothing from outside: line and stacked bar charts,
 * a layered graph (schema dependencies) and an ER diagram of a schema's foreign keys.
 * @module
 */

/** Escapes text for HTML and SVG. */
export function esc(text: unknown): string {
  return String(text ?? "").replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

/** The palette of series, in order. */
export const PALETTE = [
  "#2563eb",
  "#d97706",
  "#059669",
  "#dc2626",
  "#7c3aed",
  "#0891b2",
  "#db2777",
  "#65a30d",
  "#475569",
  "#ea580c",
];

/** One series of a chart, aligned with the chart's labels (null: no value). */
export interface Series {
  name: string;
  values: (number | null)[];
}

/** Options of a chart. */
export interface ChartOptions {
  /** Accessible title. */
  title: string;
  /** Unit of the y axis (e.g. "s", "rows"). */
  unit: string;
  /** Default: 760. */
  width?: number;
  /** Default: 240. */
  height?: number;
}

/** A round top for an axis and how many equal parts it splits into. */
function niceMax(value: number): { top: number; parts: number } {
  if (value <= 0) return { top: 1, parts: 4 };
  const power = 10 ** Math.floor(Math.log10(value));
  for (const [step, parts] of [[1, 4], [2, 4], [2.5, 5], [5, 5], [10, 5]] as const) {
    if (step * power >= value) return { top: step * power, parts };
  }
  return { top: 10 * power, parts: 5 };
}

/** A number shortened for an axis: 1.2k, 3.4M, 0.25. */
export function short(value: number): string {
  const abs = Math.abs(value);
  if (abs >= 1e6) return `${+(value / 1e6).toFixed(1)}M`;
  if (abs >= 1e3) return `${+(value / 1e3).toFixed(1)}k`;
  if (abs >= 10 || value === 0) return String(Math.round(value));
  return String(+value.toFixed(2));
}

function frame(
  labels: string[],
  max: number,
  options: ChartOptions,
  kind: string,
  body: (x: (i: number) => number, y: (v: number) => number, step: number) => string,
  legend: Series[],
): string {
  const width = options.width ?? 760;
  const height = options.height ?? 240;
  const left = 56, right = 16, top = 16, bottom = 46;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const step = labels.length > 0 ? plotW / labels.length : plotW;
  const x = (i: number) => left + step * (i + 0.5);
  const axis = niceMax(max);
  const y = (v: number) => top + plotH - (v / axis.top) * plotH;
  const ticks = Array.from({ length: axis.parts + 1 }, (_, k) => (axis.top * k) / axis.parts);
  const every = Math.max(1, Math.ceil(labels.length / 8));
  const parts = [
    `<svg class="chart" data-chart="${esc(kind)}" role="img" viewBox="0 0 ${width} ${
      height + 20 * Math.ceil(legend.length / 4)
    }" width="${width}" xmlns="http://www.w3.org/2000/svg"><title>${esc(options.title)}</title>`,
    ...ticks.map((t) =>
      `<line x1="${left}" x2="${width - right}" y1="${y(t)}" y2="${y(t)}" class="grid"/>` +
      `<text x="${left - 6}" y="${y(t) + 4}" class="axis" text-anchor="end">${esc(short(t))}</text>`
    ),
    `<text x="12" y="${top + plotH / 2}" class="axis" transform="rotate(-90 12 ${
      top + plotH / 2
    })" text-anchor="middle">${esc(options.unit)}</text>`,
    ...labels.map((label, i) =>
      i % every === 0 || i === labels.length - 1
        ? `<text x="${x(i)}" y="${top + plotH + 16}" class="axis" text-anchor="middle">${
          esc(label)
        }</text>`
        : ""
    ),
    body(x, y, step),
    ...legend.map((s, k) => {
      const lx = left + (k % 4) * ((width - left) / 4);
      const ly = height + 4 + 20 * Math.floor(k / 4);
      return `<g class="legend"><rect x="${lx}" y="${ly - 9}" width="10" height="10" fill="${
        PALETTE[k % PALETTE.length]
      }"/><text x="${lx + 14}" y="${ly}">${esc(s.name)}</text></g>`;
    }),
    "</svg>",
  ];
  return parts.join("");
}

/** A line chart of `series` over `labels` (a dot per value, a line between neighbours). */
export function lineChart(labels: string[], series: Series[], options: ChartOptions): string {
  const max = Math.max(
    0,
    ...series.flatMap((s) => s.values.filter((v): v is number => v !== null)),
  );
  return frame(labels, max, options, "line", (x, y) =>
    series.map((s, k) => {
      const color = PALETTE[k % PALETTE.length];
      const points = s.values.map((v, i) => (v === null ? null : [x(i), y(v), v] as const));
      let path = "";
      let pen = false;
      for (const p of points) {
        if (!p) {
          pen = false;
          continue;
        }
        path += `${pen ? "L" : "M"}${p[0].toFixed(1)} ${p[1].toFixed(1)} `;
        pen = true;
      }
      return `<g class="series" data-series="${
        esc(s.name)
      }"><path d="${path.trim()}" fill="none" stroke="${color}" stroke-width="2"/>${
        points.map((p, i) =>
          p
            ? `<circle cx="${p[0].toFixed(1)}" cy="${
              p[1].toFixed(1)
            }" r="3" fill="${color}"><title>${
              esc(`${s.name} · ${labels[i]}: ${p[2]}`)
            }</title></circle>`
            : ""
        ).join("")
      }</g>`;
    }).join(""), series);
}

/** A stacked bar chart: one bar per label, one segment per series. */
export function stackedBars(labels: string[], series: Series[], options: ChartOptions): string {
  const totals = labels.map((_, i) => series.reduce((n, s) => n + (s.values[i] ?? 0), 0));
  return frame(labels, Math.max(0, ...totals), options, "bars", (x, y, step) => {
    const w = Math.max(2, Math.min(36, step * 0.7));
    return labels.map((label, i) => {
      let base = 0;
      return series.map((s, k) => {
        const v = s.values[i] ?? 0;
        if (v <= 0) return "";
        const rect = `<rect class="bar" x="${(x(i) - w / 2).toFixed(1)}" y="${
          y(base + v).toFixed(1)
        }" width="${w.toFixed(1)}" height="${(y(base) - y(base + v)).toFixed(1)}" fill="${
          PALETTE[k % PALETTE.length]
        }"><title>${esc(`${label} · ${s.name}: ${short(v)} ${options.unit}`)}</title></rect>`;
        base += v;
        return rect;
      }).join("");
    }).join("");
  }, series);
}

/** A small line of values (e.g. offending rows of a check over runs). */
export function sparkline(values: (number | null)[], options: { title: string }): string {
  const w = 160, h = 28;
  const nums = values.filter((v): v is number => v !== null);
  const max = Math.max(1, ...nums);
  const step = values.length > 1 ? (w - 6) / (values.length - 1) : 0;
  const pts = values.map((
    v,
    i,
  ) => (v === null ? null : [3 + i * step, h - 3 - (v / max) * (h - 6)]));
  const d = pts.filter((p): p is number[] => p !== null)
    .map((p, i) => `${i === 0 ? "M" : "L"}${p[0]!.toFixed(1)} ${p[1]!.toFixed(1)}`).join(" ");
  return `<svg class="spark" data-chart="spark" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" xmlns="http://www.w3.org/2000/svg"><title>${
    esc(options.title)
  }</title><path d="${d}" fill="none" stroke="#2563eb" stroke-width="1.5"/>${
    pts.map((p) => (p
      ? `<circle cx="${p[0]!.toFixed(1)}" cy="${p[1]!.toFixed(1)}" r="1.8" fill="#2563eb"/>`
      : "")
    )
      .join("")
  }</svg>`;
}

/** A graph node. */
export interface GraphNode {
  id: string;
  label: string;
  /** Second line (e.g. row count). */
  note?: string;
  href?: string;
  /** CSS class (e.g. "selected", "external"). */
  className?: string;
}

/**
 * A left-to-right layered drawing of a DAG: each node sits one layer right of its rightmost
 * dependency. `edges` are [from, to] pairs, from the dependency to the dependent.
 */
export function layeredGraph(
  nodes: GraphNode[],
  edges: [string, string][],
  options: { title: string },
): string {
  const layer = new Map<string, number>();
  const visit = (id: string, seen: Set<string>): number => {
    if (layer.has(id)) return layer.get(id)!;
    if (seen.has(id)) return 0;
    seen.add(id);
    const deps = edges.filter(([, to]) => to === id).map(([from]) => from);
    const l = deps.length === 0 ? 0 : Math.max(...deps.map((d) => visit(d, seen) + 1));
    layer.set(id, l);
    return l;
  };
  for (const n of nodes) visit(n.id, new Set());
  const columns = new Map<number, GraphNode[]>();
  for (const n of nodes) {
    columns.set(layer.get(n.id)!, [...(columns.get(layer.get(n.id)!) ?? []), n]);
  }
  const boxW = 170, boxH = 44, gapX = 70, gapY = 22;
  const height = Math.max(...[...columns.values()].map((c) => c.length)) * (boxH + gapY) + gapY +
    2 * LANE;
  const width = columns.size * (boxW + gapX) + gapX / 2;
  const pos = new Map<string, { x: number; y: number }>();
  for (const [l, list] of columns) {
    const offset = (height - list.length * (boxH + gapY) + gapY) / 2;
    list.forEach((n, i) =>
      pos.set(n.id, { x: gapX / 2 + l * (boxW + gapX), y: offset + i * (boxH + gapY) })
    );
  }
  const arrows = edges.filter(([a, b]) => pos.has(a) && pos.has(b)).map(([a, b]) => {
    const p = pos.get(a)!, q = pos.get(b)!;
    const x1 = p.x + boxW, y1 = p.y + boxH / 2, x2 = q.x, y2 = q.y + boxH / 2;
    if (layer.get(b)! - layer.get(a)! > 1) {
      // Past the layers in between: along the free lane above (or below) every box.
      const lane = (y1 + y2) / 2 <= height / 2 ? LANE / 2 : height - LANE / 2;
      return `<path class="edge" d="M${x1} ${y1} C${x1 + 30} ${y1} ${x1 + 30} ${lane} ${
        x1 + 60
      } ${lane} L${x2 - 60} ${lane} C${x2 - 30} ${lane} ${x2 - 30} ${y2} ${
        x2 - 6
      } ${y2}" marker-end="url(#arrow)"/>`;
    }
    const mid = (x1 + x2) / 2;
    return `<path class="edge" d="M${x1} ${y1} C${mid} ${y1} ${mid} ${y2} ${
      x2 - 6
    } ${y2}" marker-end="url(#arrow)"/>`;
  });
  const boxes = nodes.map((n) => {
    const p = pos.get(n.id)!;
    const box = `<rect x="${p.x}" y="${p.y}" width="${boxW}" height="${boxH}" rx="6"/>` +
      `<text x="${p.x + boxW / 2}" y="${
        p.y + (n.note ? 18 : 27)
      }" text-anchor="middle" class="label">${esc(n.label)}</text>` +
      (n.note
        ? `<text x="${p.x + boxW / 2}" y="${p.y + 34}" text-anchor="middle" class="note">${
          esc(n.note)
        }</text>`
        : "");
    const g = `<g class="node ${esc(n.className ?? "")}" data-node="${esc(n.id)}">${box}</g>`;
    return n.href ? `<a href="${esc(n.href)}">${g}</a>` : g;
  });
  return `<svg class="graph" data-chart="graph" viewBox="0 0 ${width} ${height}" width="${width}" xmlns="http://www.w3.org/2000/svg"><title>${
    esc(options.title)
  }</title>${ARROW}${arrows.join("")}${boxes.join("")}</svg>`;
}

/** Room above and below the boxes of a layered graph, for edges that skip layers. */
const LANE = 28;

const ARROW =
  `<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" fill="#64748b"/></marker></defs>`;

/** A table of an ER diagram. */
export interface ErTable {
  /** `schema.table`. */
  id: string;
  label: string;
  href?: string;
  /** Columns shown (all, for the schema's own tables; the key, for tables of other schemas). */
  columns: { name: string; type: string; key: boolean; fk: boolean }[];
  /** A table of another schema. */
  external: boolean;
}

/** A foreign key of an ER diagram, column to column. */
export interface ErLink {
  from: string;
  fromColumns: string[];
  to: string;
  toColumns: string[];
  name: string;
}

/**
 * An ER diagram: tables as boxes listing their columns (key and FK marked), foreign keys as
 * lines from the referencing columns to the referenced ones. Tables of other schemas stand
 * on the left; the schema's own are layered by their foreign keys.
 */
export function erDiagram(tables: ErTable[], links: ErLink[], options: { title: string }): string {
  const own = tables.filter((t) => !t.external);
  const layer = new Map<string, number>();
  const depth = (id: string, seen: Set<string>): number => {
    if (layer.has(id)) return layer.get(id)!;
    if (seen.has(id)) return 0;
    seen.add(id);
    const parents = links.filter((l) =>
      l.from === id && l.to !== id && own.some((t) => t.id === l.to)
    );
    const d = parents.length === 0 ? 0 : Math.max(...parents.map((p) => depth(p.to, seen) + 1));
    layer.set(id, d);
    return d;
  };
  for (const t of own) depth(t.id, new Set());
  const external = tables.filter((t) => t.external);
  const columns: ErTable[][] = [];
  if (external.length > 0) columns.push(external);
  const shift = external.length > 0 ? 1 : 0;
  for (const t of own) {
    const c = layer.get(t.id)! + shift;
    (columns[c] ??= []).push(t);
  }
  const boxW = 230, rowH = 17, headH = 24, gapX = 90, gapY = 24;
  const pos = new Map<string, { x: number; y: number; h: number }>();
  let height = 0;
  columns.forEach((list, c) => {
    let y = gapY;
    for (const t of list ?? []) {
      const h = headH + rowH * t.columns.length + 6;
      pos.set(t.id, { x: gapX / 2 + c * (boxW + gapX), y, h });
      y += h + gapY;
    }
    height = Math.max(height, y);
  });
  const width = columns.length * (boxW + gapX);
  const rowY = (t: ErTable, column: string) => {
    const p = pos.get(t.id)!;
    const i = Math.max(0, t.columns.findIndex((c) => c.name === column));
    return p.y + headH + rowH * i + rowH / 2 + 2;
  };
  const byId = new Map(tables.map((t) => [t.id, t]));
  const lines = links.filter((l) => pos.has(l.from) && pos.has(l.to)).map((l) => {
    const a = byId.get(l.from)!, b = byId.get(l.to)!;
    const p = pos.get(l.from)!, q = pos.get(l.to)!;
    const y1 = rowY(a, l.fromColumns[0]!), y2 = rowY(b, l.toColumns[0]!);
    let d: string;
    if (l.from === l.to) {
      d = `M${p.x + boxW} ${y1} C${p.x + boxW + 50} ${y1} ${p.x + boxW + 50} ${y2} ${
        p.x + boxW + 6
      } ${y2}`;
    } else if (q.x < p.x) {
      const mid = (p.x + q.x + boxW) / 2;
      d = `M${p.x} ${y1} C${mid} ${y1} ${mid} ${y2} ${q.x + boxW + 6} ${y2}`;
    } else {
      const mid = (p.x + boxW + q.x) / 2;
      d = `M${p.x + boxW} ${y1} C${mid} ${y1} ${mid} ${y2} ${q.x - 6} ${y2}`;
    }
    return `<path class="edge fk" d="${d}" marker-end="url(#arrow)"><title>${
      esc(`${l.name}: ${l.from}(${l.fromColumns.join(", ")}) → ${l.to}(${l.toColumns.join(", ")})`)
    }</title></path>`;
  });
  const boxes = tables.map((t) => {
    const p = pos.get(t.id)!;
    const rows = t.columns.map((c, i) => {
      const y = p.y + headH + rowH * i + rowH - 3;
      const mark = c.key ? "PK" : c.fk ? "FK" : "";
      return `<text x="${p.x + 8}" y="${y}" class="col${c.key ? " key" : ""}">${
        esc(c.name)
      }</text>` +
        `<text x="${p.x + boxW - 8}" y="${y}" text-anchor="end" class="type">${
          esc(mark ? `${mark} ` : "")
        }${esc(c.type.replace("timestamp with time zone", "timestamptz"))}</text>`;
    }).join("");
    const g = `<g class="er-table${t.external ? " external" : ""}" data-table="${esc(t.id)}">` +
      `<rect x="${p.x}" y="${p.y}" width="${boxW}" height="${p.h}" rx="5" class="body"/>` +
      `<rect x="${p.x}" y="${p.y}" width="${boxW}" height="${headH}" rx="5" class="head"/>` +
      `<text x="${p.x + 8}" y="${p.y + 16}" class="title">${esc(t.label)}</text>${rows}</g>`;
    return t.href ? `<a href="${esc(t.href)}">${g}</a>` : g;
  });
  return `<svg class="er" data-chart="er" viewBox="0 0 ${width} ${height}" width="${width}" xmlns="http://www.w3.org/2000/svg"><title>${
    esc(options.title)
  }</title>${ARROW}${lines.join("")}${boxes.join("")}</svg>`;
}
