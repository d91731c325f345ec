/**
 * Alerts after a run (`notify:` in pipeline.yaml): a small summary POSTed to a webhook (JSON,
 * or a Slack/Teams-compatible text payload) and/or given to a command on standard input. URLs,
 * headers and arguments may read `${VAR}` from the environment; the values never reach a log,
 * a report or the ledger. Each target gets a timeout per attempt and its retries; a failing
 * alert is logged and recorded, never thrown.
 * @module
 */
import {
  type Logger,
  type NotifyConfig,
  type NotifyOutcome,
  type NotifyTarget,
  redactText,
  redactUrl,
  type RunResult,
  setting,
  type Sql,
} from "../core/mod.ts";
import { type PostAnswer, postUntraced, tracingEnabled } from "./http_post.ts";

/** The summary sent to every target (format "lml-alert/1"). */
export interface AlertSummary {
  /** Always "lml-alert/1". */
  format: "lml-alert/1";
  /** The run's id. */
  run_id: string;
  /** transform, assert or refresh. */
  command: string;
  /** The run's status. */
  status: "succeeded" | "failed";
  /** The most severe of `outcomes` (failure, warning, fallback, success). */
  outcome: NotifyOutcome;
  /** Every outcome of the run. */
  outcomes: NotifyOutcome[];
  /** Host the run ran on. */
  host: string;
  /** ISO times and total seconds. */
  started_at: string;
  finished_at: string;
  seconds: number;
  /** First line of the error of a failed run. */
  error: string | null;
  /** Why a refresh fell back to a full one. */
  fallback: string | null;
  /** Checks that did not pass, error severity first. */
  checks: { name: string; severity: string; status: string; offending: number }[];
  /** The run's reports (absolute paths), when written. */
  reports: { dir: string; markdown: string; json: string; junit: string } | null;
}

/** How one target fared. */
export interface AlertResult {
  /** The target as configured (`webhook <url template>` or `command <program>`): no secrets. */
  target: string;
  /** sent, or failed after every attempt. */
  status: "sent" | "failed";
  /** Attempts made. */
  attempts: number;
  /** Why the last attempt failed (redacted). */
  error?: string;
  /** Time spent on the target, retries included. */
  seconds: number;
}

/** Options of {@linkcode sendAlerts}. */
export interface SendOptions {
  /** Where sent and failed alerts are logged. */
  logger: Logger;
  /** Pause before the first retry, doubled after each, in ms. Default: 1000. */
  retryDelayMs?: number;
  /** Reads `${VAR}`. Default: the environment, then .env. */
  lookup?: (name: string) => string | undefined;
}

const SEVERITY: NotifyOutcome[] = ["failure", "warning", "fallback", "success"];

/** The outcomes of a run: failure, or success plus warning and/or fallback. */
export function runOutcomes(
  result: RunResult,
  options: { fallback?: string | undefined } = {},
): NotifyOutcome[] {
  if (result.status !== "succeeded") return ["failure"];
  const outcomes: NotifyOutcome[] = ["success"];
  if (result.checks.some((c) => c.status !== "passed")) outcomes.push("warning");
  if (options.fallback) outcomes.push("fallback");
  return SEVERITY.filter((o) => outcomes.includes(o));
}

/** The summary of a finished run; `runDir` is the folder holding its reports, when written. */
export function alertSummary(
  result: RunResult,
  options: { fallback?: string | undefined; runDir?: string | undefined } = {},
): AlertSummary {
  const outcomes = runOutcomes(result, options);
  const runDir = options.runDir;
  const dir = runDir === undefined ? undefined : absolute(runDir);
  return {
    format: "lml-alert/1",
    run_id: result.runId,
    command: result.command,
    status: result.status === "succeeded" ? "succeeded" : "failed",
    outcome: outcomes[0]!,
    outcomes,
    host: hostname(),
    started_at: result.startedAt,
    finished_at: result.finishedAt,
    seconds: Math.round(result.seconds * 1000) / 1000,
    error: result.error ? redactText(result.error.message.split("\n")[0]!) : null,
    fallback: options.fallback ?? null,
    checks: result.checks
      .filter((c) => c.status !== "passed")
      .sort((a, b) => (a.severity === b.severity ? 0 : a.severity === "error" ? -1 : 1))
      .map((c) => ({
        name: c.name,
        severity: c.severity,
        status: c.status,
        offending: c.offending,
      })),
    reports: dir === undefined ? null : {
      dir,
      markdown: `${dir}/report.md`,
      json: `${dir}/report.json`,
      junit: `${dir}/junit.xml`,
    },
  };
}

/** True when `notify` asks for an alert on one of the summary's outcomes. */
export function wantsAlert(notify: NotifyConfig, summary: AlertSummary): boolean {
  return summary.outcomes.some((o) => notify.on.includes(o));
}

/** The Slack/Teams-compatible payload: `{ "text": ... }` in their common markdown. */
export function slackPayload(summary: AlertSummary): { text: string } {
  const icon = {
    failure: ":x:",
    warning: ":warning:",
    fallback: ":arrows_counterclockwise:",
    success: ":white_check_mark:",
  }[summary.outcome];
  const lines = [
    `${icon} *lml ${summary.command} ${summary.status}* on ${summary.host}: run \`${summary.run_id}\`, ${
      Math.round(summary.seconds)
    } s`,
  ];
  if (summary.error) lines.push(`> ${summary.error}`);
  if (summary.fallback) lines.push(`Fell back to a full refresh: ${summary.fallback}`);
  if (summary.checks.length > 0) {
    lines.push(
      "Checks: " +
        summary.checks.map((c) => `\`${c.name}\` ${c.offending} offending (${c.severity})`).join(
          ", ",
        ),
    );
  }
  if (summary.reports) lines.push(`Report: ${summary.reports.markdown}`);
  return { text: lines.join("\n") };
}

/**
 * Sends `summary` to every target of `notify` (at the same time), each with its timeout and
 * retries; never rejects. Failures are logged as errors with every `${VAR}` value hidden.
 */
export async function sendAlerts(
  summary: AlertSummary,
  notify: NotifyConfig,
  options: SendOptions,
): Promise<AlertResult[]> {
  const lookup = options.lookup ?? ((name: string) => setting(name));
  return await Promise.all(notify.targets.map(async (target) => {
    const started = performance.now();
    const name = targetName(target);
    const secrets = new Secrets();
    let attempts = 0;
    let error: string | undefined;
    try {
      const send = prepare(target, summary, lookup, secrets);
      for (;;) {
        attempts++;
        try {
          await send(notify.timeoutMs);
          error = undefined;
          break;
        } catch (caught) {
          error = secrets.redact(caught instanceof Error ? caught.message : String(caught));
          if (attempts > notify.retries) break;
          options.logger.warn(`alert to ${name}: ${error}; retrying`, { attempt: attempts });
          const pause = (options.retryDelayMs ?? 1000) * 2 ** (attempts - 1);
          await new Promise((resolve) => setTimeout(resolve, pause));
        }
      }
    } catch (caught) {
      // A missing variable or a bad expanded URL: no attempt can succeed.
      error = secrets.redact(caught instanceof Error ? caught.message : String(caught));
    }
    const seconds = (performance.now() - started) / 1000;
    if (error === undefined) {
      options.logger.info(`alert sent to ${name}`, { outcome: summary.outcome, attempts });
      return { target: name, status: "sent", attempts, seconds };
    }
    options.logger.error(
      `alert to ${name} failed after ${attempts} ${
        attempts === 1 ? "attempt" : "attempts"
      }: ${error}`,
      { outcome: summary.outcome, run_id: summary.run_id },
    );
    return { target: name, status: "failed", attempts, error, seconds };
  }));
}

/** Records alert results in `<meta>.alerts`; the run's row may be missing (a run that never started). */
export async function recordAlerts(
  sql: Sql,
  metaSchema: string,
  summary: AlertSummary,
  results: readonly AlertResult[],
): Promise<void> {
  const meta = sql(metaSchema);
  for (const r of results) {
    await sql`
      insert into ${meta}.alerts (run_id, target, outcome, status, attempts, error, seconds)
      values ((select run_id from ${meta}.runs where run_id = ${summary.run_id}), ${r.target},
              ${summary.outcome}, ${r.status}, ${r.attempts}, ${r.error ?? null}, ${r.seconds})
    `;
  }
}

/** How a target is named in logs and the ledger: its templates, never their values. */
export function targetName(target: NotifyTarget): string {
  return target.kind === "webhook"
    ? `webhook ${redactUrl(target.url)}`
    : `command ${target.argv[0]}`;
}

/** The values `${VAR}` expanded to, hidden again wherever text leaves the process. */
class Secrets {
  #values = new Map<string, string>();

  /** Replaces every `${VAR}` of `template` with its value; throws when one is not set. */
  expand(template: string, lookup: (name: string) => string | undefined): string {
    return template.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
      const value = lookup(name);
      if (value === undefined || value === "") {
        throw new Error(`environment variable ${name} is not set (named in the notify config)`);
      }
      this.#values.set(value, name);
      return value;
    });
  }

  /** `text` with every expanded value replaced by its `${VAR}`, and URL passwords hidden. */
  redact(text: string): string {
    let out = text;
    const values = [...this.#values.keys()].sort((a, b) => b.length - a.length);
    for (const value of values) {
      const name = this.#values.get(value)!;
      for (const form of new Set([value, ...encodings(value)])) {
        out = out.split(form).join(`\${${name}}`);
      }
    }
    return redactText(out);
  }
}

/** Expands the target's templates and returns one attempt (given its timeout in ms). */
function prepare(
  target: NotifyTarget,
  summary: AlertSummary,
  lookup: (name: string) => string | undefined,
  secrets: Secrets,
): (timeoutMs: number) => Promise<void> {
  if (target.kind === "webhook") {
    const url = secrets.expand(target.url, lookup);
    if (!/^https?:\/\//i.test(url)) throw new Error("the webhook url must start with http(s)://");
    const headers = new Headers({ "content-type": "application/json", "user-agent": "lml" });
    for (const [name, value] of Object.entries(target.headers)) {
      headers.set(name, secrets.expand(value, lookup));
    }
    const body = JSON.stringify(target.format === "slack" ? slackPayload(summary) : summary);
    // Deno's OpenTelemetry export records every fetch's URL, tokens included: not this one.
    const post = tracingEnabled()
      ? (signal: AbortSignal) => postUntraced(new URL(url), { headers, body, signal })
      : async (signal: AbortSignal) => {
        const answer = await fetch(url, { method: "POST", headers, body, signal });
        const text = await answer.text().catch(() => "");
        return { status: answer.status, statusText: answer.statusText, text };
      };
    return async (timeoutMs) => {
      let response: PostAnswer;
      try {
        response = await post(AbortSignal.timeout(timeoutMs));
      } catch (error) {
        if ((error as Error).name === "TimeoutError") {
          throw new Error(`no answer within ${timeoutMs / 1000} s`);
        }
        throw error;
      }
      const { text } = response;
      if (response.status < 200 || response.status > 299) {
        const said = text.trim().split("\n")[0]!.slice(0, 200);
        throw new Error(`HTTP ${response.status} ${response.statusText}${said ? `: ${said}` : ""}`);
      }
    };
  }
  const [program, ...args] = target.argv.map((part) => secrets.expand(part, lookup));
  const input = new TextEncoder().encode(JSON.stringify(summary) + "\n");
  return async (timeoutMs) => {
    const signal = AbortSignal.timeout(timeoutMs);
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(program!, {
        args,
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
        signal,
        env: {
          LML_RUN_ID: summary.run_id,
          LML_STATUS: summary.status,
          LML_OUTCOME: summary.outcome,
          LML_REPORT: summary.reports?.markdown ?? "",
        },
      }).spawn();
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) throw new Error(`program not found: ${program}`);
      throw error;
    }
    const writer = child.stdin.getWriter();
    // A program that exits without reading its input is no failure of the alert.
    await writer.write(input).catch(() => {});
    await writer.close().catch(() => {});
    const output = await child.output();
    if (signal.aborted) throw new Error(`did not finish within ${timeoutMs / 1000} s (killed)`);
    if (!output.success) {
      const said = new TextDecoder().decode(output.stderr).trim().split("\n")[0]!.slice(0, 200);
      throw new Error(`exited with code ${output.code}${said ? `: ${said}` : ""}`);
    }
  };
}

/** The URL-encoded forms of `value` (a URL may be shown encoded in an error). */
function encodings(value: string): string[] {
  try {
    return [encodeURI(value), encodeURIComponent(value)];
  } catch {
    return [];
  }
}

function absolute(path: string): string {
  return path.startsWith("/") ? path : `${Deno.cwd()}/${path.replace(/^\.\//, "")}`;
}

function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "unknown";
  }
}
