/**
 * Renders a collection profile: a text table for the terminal, Markdown, and the report files
 * reports/profile_<collection>.md and .json.
 * @module
 */
import { DEFAULTS, escapeControl, truncate } from "../core/mod.ts";
import type { CollectionProfile, FieldProfile } from "./types.ts";

/** Options of {@linkcode formatProfile}. */
export interface FormatProfileOptions {
  /** Widest a cell may be before it is cut with "…". Default: 48. */
  maxCell?: number;
}

/** The types cell: "objectId", or "date 60%, string 40%". */
function typesCell(field: FieldProfile): string {
  if (field.types.length === 1) return field.types[0]!.type;
  return field.types.map((t) => `${t.type} ${fmtPct(t.pct)}`).join(", ");
}

/** The range cell: numbers, dates or array lengths, "" when none applies. */
function rangeCell(field: FieldProfile): string {
  const parts: string[] = [];
  if (field.minNumber !== null) parts.push(`${field.minNumber} .. ${field.maxNumber}`);
  if (field.minDate !== null) parts.push(`${field.minDate} .. ${field.maxDate}`);
  if (field.arrayLength) {
    const a = field.arrayLength;
    parts.push(`len ${a.min}/${a.avg}/${a.max}`);
  }
  return parts.join("; ");
}

/** A summary line: "lml_raw.x: 10,000 of 1,200,000 documents (...)". */
function samplingLine(profile: CollectionProfile): string {
  return `${profile.rawTable}: profiled ${profile.sampling.description}`;
}

/**
 * The fields worth a row: children of a variable structure are left out (the JSON report keeps
 * them); `collapsed` maps each variable structure's path to how many paths it hides.
 */
function visibleFields(
  profile: CollectionProfile,
): { fields: FieldProfile[]; collapsed: Map<string, number> } {
  const variable = profile.fields
    .filter((f) => f.hints.some((h) => h.kind === "variable_structure"))
    .map((f) => f.path);
  const collapsed = new Map<string, number>();
  const fields = profile.fields.filter((f) => {
    const parent = variable.find((v) => f.path.startsWith(v + ".") || f.path.startsWith(v + "[]"));
    if (parent === undefined) return true;
    collapsed.set(parent, (collapsed.get(parent) ?? 0) + 1);
    return false;
  });
  return { fields, collapsed };
}

/** Renders the profile as an aligned text table followed by the hints, for the terminal. */
export function formatProfile(
  profile: CollectionProfile,
  options: FormatProfileOptions = {},
): string {
  const maxCell = options.maxCell ?? 48;
  const header = ["path", "types", "present", "null", "distinct", "range / length", "examples"];
  const { fields, collapsed } = visibleFields(profile);
  const rows = fields.map((f) =>
    [
      collapsed.has(f.path) ? `${f.path}.*` : f.path,
      typesCell(f),
      fmtPct(f.presencePct),
      f.nullPct === 0 ? "" : fmtPct(f.nullPct),
      String(f.distinct),
      rangeCell(f),
      f.examples.join(" "),
    ].map((cell) => truncate(oneLine(cell), maxCell))
  );
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i >= 2 && i <= 4 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join("  ").trimEnd();
  const out = [
    samplingLine(profile),
    "",
    line(header),
    line(widths.map((w) => "-".repeat(w))),
    ...rows.map(line),
  ];
  const hinted = profile.fields.filter((f) => f.hints.length > 0);
  if (hinted.length > 0) {
    out.push("", "hints:");
    for (const f of hinted) {
      for (const h of f.hints) out.push(`  ${oneLine(f.path)}: ${oneLine(h.message)}`);
    }
  }
  if (collapsed.size > 0) {
    const list = [...collapsed].map(([path, n]) => `${oneLine(path)} (${n})`).join(", ");
    out.push("", `paths inside variable structures are in the JSON report: ${list}`);
  }
  return out.join("\n") + "\n";
}

/** Renders the profile as a Markdown document. */
export function profileMarkdown(profile: CollectionProfile): string {
  const esc = (s: string) => oneLine(s.replaceAll("|", "\\|"));
  const out = [
    `# Profile of ${profile.collection}`,
    "",
    `- Raw table: \`${profile.rawTable}\``,
    `- Documents: ${profile.totalDocuments.toLocaleString("en-US")}`,
    `- Sampling: ${profile.sampling.description}`,
    `- Generated at: ${profile.generatedAt}`,
    "",
    "Presence is the share of profiled documents having the path; null is the share of the",
    "path's values that are null; `[]` marks array elements.",
    "",
    "## Hints",
    "",
  ];
  const hinted = profile.fields.filter((f) => f.hints.length > 0);
  if (hinted.length === 0) out.push("None.");
  for (const f of hinted) {
    for (const h of f.hints) out.push(`- \`${f.path}\`: ${h.message}`);
  }
  out.push(
    "",
    "## Fields",
    "",
    "| path | types | present | null | distinct | range / length | examples |",
    "| --- | --- | ---: | ---: | ---: | --- | --- |",
  );
  const { fields, collapsed } = visibleFields(profile);
  for (const f of fields) {
    const cells = [
      `\`${collapsed.has(f.path) ? `${f.path}.*` : f.path}\``,
      typesCell(f),
      fmtPct(f.presencePct),
      fmtPct(f.nullPct),
      String(f.distinct),
      rangeCell(f),
      f.examples.map((e) => `\`${truncate(e, 40).replaceAll("`", "'")}\``).join(" "),
    ];
    out.push(`| ${cells.map(esc).join(" | ")} |`);
  }
  if (collapsed.size > 0) {
    const list = [...collapsed].map(([path, n]) => `\`${path}\` (${n})`).join(", ");
    out.push("", `Paths inside variable structures are listed in the JSON report only: ${list}.`);
  }
  const timestamps = fields.filter((f) => f.timestampFormats);
  if (timestamps.length > 0) {
    out.push("", "## Timestamp formats", "", "| path | formats |", "| --- | --- |");
    for (const f of timestamps) {
      const formats = Object.entries(f.timestampFormats!).map(([k, n]) => `${k}: ${n}`);
      out.push(`| \`${f.path}\` | ${formats.join(", ")} |`);
    }
  }
  return out.join("\n") + "\n";
}

/** Options of {@linkcode writeProfileReports}. */
export interface WriteProfileOptions {
  /** Folder of the reports, created when missing. Default: "reports". */
  reportsDir?: string;
}

/** Writes reports/profile_<collection>.md and .json; returns their paths. */
export async function writeProfileReports(
  profile: CollectionProfile,
  options: WriteProfileOptions = {},
): Promise<{ markdown: string; json: string }> {
  const dir = options.reportsDir ?? DEFAULTS.reportsDir;
  await Deno.mkdir(dir, { recursive: true });
  const base = `${dir.replace(/\/+$/, "")}/profile_${profile.collection}`;
  const markdown = `${base}.md`;
  const json = `${base}.json`;
  // Owner-only: the examples are real values, personal data among them.
  await Deno.writeTextFile(markdown, profileMarkdown(profile), { mode: 0o600 });
  await Deno.writeTextFile(json, JSON.stringify(profile, null, 2) + "\n", { mode: 0o600 });
  return { markdown, json };
}

/** Text on one terminal line: breaks and escape sequences shown as `\xNN`, never run. */
function oneLine(text: string): string {
  return escapeControl(text, { newlines: false });
}

function fmtPct(n: number): string {
  return `${Number.isInteger(n) ? n : n.toFixed(1)}%`;
}
