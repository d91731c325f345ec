/**
 * Progress of an extraction: live lines on a terminal, periodic log lines otherwise, and a
 * summary table at the end.
 * @module
 */
import type { Logger } from "../lib/core/mod.ts";

/** Running figures of one collection. */
export interface ProgressFigures {
  /** Documents loaded so far. */
  documents: number;
  /** BSON bytes loaded so far. */
  bytes: number;
  /** Source bytes consumed so far (dump file bytes). */
  consumed: number;
}

/** What is known in advance about a collection's size. */
export interface ProgressTotal {
  /** Approximate documents (a live server's estimatedDocumentCount). */
  documents?: number;
  /** Bytes to read (a dump file's size). */
  bytes?: number;
}

/** One finished collection, for the summary. */
export interface SummaryRow {
  /** Collection name. */
  collection: string;
  /** Documents loaded. */
  documents: number;
  /** BSON bytes loaded. */
  bytes: number;
  /** Seconds taken. */
  seconds: number;
  /** "succeeded" or "failed". */
  status: string;
}

/** Tracks one collection. */
export interface CollectionProgress {
  /** Records the latest figures. */
  update(figures: ProgressFigures): void;
  /** Marks the collection finished. */
  finish(status: string): void;
}

/** Options of {@linkcode createProgress}. */
export interface ProgressOptions {
  /** Seconds between log lines when not on a terminal. Default: 10. */
  intervalSeconds?: number;
  /** Where live lines go on a terminal. Default: stderr. */
  write?: (text: string) => void;
}

/** Progress reporting for several collections at once. */
export interface Progress extends Disposable {
  /** Starts tracking `collection`. */
  start(collection: string, total: ProgressTotal): CollectionProgress;
  /** Logs the summary table. */
  summary(rows: readonly SummaryRow[]): void;
}

interface Entry {
  collection: string;
  total: ProgressTotal;
  figures: ProgressFigures;
  started: number;
  status: string | undefined;
}

const encoder = new TextEncoder();

function rate(entry: Entry): number {
  const seconds = (performance.now() - entry.started) / 1000;
  return seconds > 0 ? entry.figures.documents / seconds : 0;
}

function eta(entry: Entry): string {
  const { total, figures } = entry;
  const seconds = (performance.now() - entry.started) / 1000;
  let fraction: number | undefined;
  if (total.bytes && figures.consumed > 0) fraction = figures.consumed / total.bytes;
  else if (total.documents && figures.documents > 0) fraction = figures.documents / total.documents;
  if (fraction === undefined || fraction <= 0 || fraction >= 1) return "";
  return ` ETA ${Math.round(seconds / fraction - seconds)}s`;
}

function line(entry: Entry): string {
  const { figures, total } = entry;
  const of = total.documents !== undefined
    ? `/${total.documents}`
    : total.bytes
    ? ` (${Math.min(100, Math.floor((figures.consumed / total.bytes) * 100))}% of ${
      (total.bytes / 1e6).toFixed(1)
    } MB)`
    : "";
  const state = entry.status ? ` ${entry.status}` : `${eta(entry)}`;
  return `${entry.collection}: ${figures.documents}${of} documents, ${
    Math.round(rate(entry))
  } docs/s${state}`;
}

/** Creates progress reporting on `logger` (live lines when `logger.interactive`). */
export function createProgress(logger: Logger, options: ProgressOptions = {}): Progress {
  const entries: Entry[] = [];
  const interactive = logger.interactive;
  const write = options.write ??
    ((text: string) => Deno.stderr.writeSync(encoder.encode(text)));
  let drawn = 0;
  const draw = () => {
    let text = drawn > 0 ? `\x1b[${drawn}A` : "";
    for (const entry of entries) text += `\r\x1b[2K${line(entry)}\n`;
    drawn = entries.length;
    write(text);
  };
  const timer = setInterval(() => {
    if (interactive) return draw();
    for (const entry of entries) {
      if (entry.status) continue;
      logger.info(`extracting ${entry.collection}`, {
        documents: entry.figures.documents,
        ...(entry.total.documents !== undefined ? { total: entry.total.documents } : {}),
        docs_per_s: Math.round(rate(entry)),
        ...(eta(entry) ? { eta_s: Number(eta(entry).replace(/\D/g, "")) } : {}),
      });
    }
  }, interactive ? 250 : (options.intervalSeconds ?? 10) * 1000);
  Deno.unrefTimer(timer);
  return {
    start(collection, total) {
      const entry: Entry = {
        collection,
        total,
        figures: { documents: 0, bytes: 0, consumed: 0 },
        started: performance.now(),
        status: undefined,
      };
      entries.push(entry);
      return {
        update(figures) {
          entry.figures = { ...figures };
        },
        finish(status) {
          entry.status = status;
          if (interactive) draw();
        },
      };
    },
    summary(rows) {
      const header = ["collection", "documents", "MB", "seconds", "docs/s"];
      const table = rows.map((r) => [
        r.status === "succeeded" ? r.collection : `${r.collection} (${r.status})`,
        String(r.documents),
        (r.bytes / 1e6).toFixed(1),
        r.seconds.toFixed(1),
        String(r.seconds > 0 ? Math.round(r.documents / r.seconds) : r.documents),
      ]);
      const widths = header.map((h, k) =>
        Math.max(h.length, ...table.map((row) => row[k]!.length))
      );
      const format = (row: string[]) =>
        row.map((cell, k) => k === 0 ? cell.padEnd(widths[k]!) : cell.padStart(widths[k]!))
          .join("  ");
      logger.info(format(header));
      for (const row of table) logger.info(format(row));
    },
    [Symbol.dispose]() {
      clearInterval(timer);
      if (interactive && entries.length > 0) draw();
    },
  };
}
