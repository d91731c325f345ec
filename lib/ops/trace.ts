/**
 * The run as an OpenTelemetry trace, for operators who enable Deno's built-in export
 * (`OTEL_DENO=true`, `OTEL_EXPORTER_OTLP_ENDPOINT=...`): one span for the run, one per stage
 * (extract, transform, checks), one per collection extracted, SQL file run and check.
 *
 * The spans are emitted when the run ends, from the timings it recorded: durations are the
 * measured ones; collection spans use the extraction log's start and end; SQL file and check
 * spans, which ran one after the other, are laid end to end from their stage's start. Without
 * `OTEL_DENO` the API is a no-op and this costs nothing.
 * @module
 */
import { context, type Span, SpanStatusCode, trace } from "@opentelemetry/api";
import { redactText, type RunResult } from "../core/mod.ts";

/** Start and end of one collection's extraction (from the ledger's extract_log). */
export interface ExtractTiming {
  /** Collection name. */
  collection: string;
  /** Start. */
  startedAt: Date;
  /** End. */
  finishedAt: Date;
}

/** Options of {@linkcode traceRun}. */
export interface TraceOptions {
  /** When the whole run started. Default: the result's startedAt. */
  runStartedAt?: Date | undefined;
  /** Per-collection extraction times. Default: laid from the run's start with their durations. */
  extractTimings?: readonly ExtractTiming[];
}

/** Emits the run's trace; returns its trace id (all zeros when tracing is off). */
export function traceRun(result: RunResult, options: TraceOptions = {}): string {
  const tracer = trace.getTracer("lml");
  const runStart = options.runStartedAt ?? new Date(result.startedAt);
  const runEnd = new Date(result.finishedAt);
  const root = tracer.startSpan(`lml ${result.command}`, {
    startTime: runStart,
    attributes: {
      "lml.run_id": result.runId,
      "lml.command": result.command,
      "lml.status": result.status,
      "lml.peak_rss_bytes": result.peakRssBytes,
    },
  });
  if (result.error) {
    root.setStatus({
      code: SpanStatusCode.ERROR,
      message: redactText(result.error.message.split("\n")[0]!),
    });
  }
  const inRoot = trace.setSpan(context.active(), root);
  const child = (
    name: string,
    start: Date | number,
    end: Date | number,
    parent: Span,
    attributes = {},
  ) => {
    const span = tracer.startSpan(
      name,
      { startTime: start, attributes },
      parent === root ? inRoot : trace.setSpan(context.active(), parent),
    );
    span.end(end);
    return span;
  };
  const stage = (name: string, start: Date | number) =>
    tracer.startSpan(name, { startTime: start }, inRoot);

  const transformStart = new Date(result.startedAt);
  if (result.command === "refresh" && (result.extract.length > 0 || result.error)) {
    const extracted = result.extract.length > 0 &&
      result.extract.every((e) => e.status === "succeeded");
    const extractEnd = extracted ? transformStart : runEnd;
    const span = stage("extract", runStart);
    for (const e of result.extract) {
      const timing = options.extractTimings?.find((t) => t.collection === e.collection);
      const start = timing?.startedAt ?? runStart;
      const end = timing?.finishedAt ?? new Date(start.getTime() + e.seconds * 1000);
      const c = child(`extract ${e.collection}`, start, end, span, {
        "lml.collection": e.collection,
        "lml.documents": e.documents,
        "lml.bytes": e.bytes,
        "lml.status": e.status,
      });
      if (e.status === "failed") c.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end(extractEnd);
  }
  // Milliseconds since the epoch, with fractions: Dates would round each span to the ms.
  let clock = transformStart.getTime();
  const files = result.files.filter((f) => f.kind !== "check");
  if (files.length > 0) {
    const span = stage("transform", clock);
    for (const f of files) {
      const start = clock;
      clock += f.seconds * 1000;
      child(f.path, start, clock, span, {
        "code.filepath": f.path,
        "lml.schema": f.schema ?? "",
        "lml.rows": f.rows,
        "lml.sha256": f.sha256,
      });
    }
    span.end(clock);
  }
  if (result.checks.length > 0) {
    const span = stage("checks", clock);
    for (const c of result.checks) {
      const start = clock;
      clock += c.seconds * 1000;
      const s = child(`check ${c.name}`, start, clock, span, {
        "lml.check": c.name,
        "lml.severity": c.severity,
        "lml.status": c.status,
        "lml.offending": c.offending,
        "code.filepath": c.source,
      });
      if (c.status !== "passed" && c.severity === "error") {
        s.setStatus({ code: SpanStatusCode.ERROR });
      }
    }
    span.end(clock);
  }
  root.end(Math.max(runEnd.getTime(), clock));
  return root.spanContext().traceId;
}
