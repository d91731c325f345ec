/**
 * The monitoring sections of sql/pipeline.yaml: `notify:` (who hears about a run, and on which
 * outcomes) and `retention_days:` (how long run folders and ledger rows are kept). Validated
 * like the rest of the config: errors name the file, the line and the field.
 * @module
 */
import { isMap, isScalar, isSeq, type YAMLMap } from "yaml";
import { didYouMean } from "./errors.ts";

/** Outcomes a run can have, as `notify.on` names them. */
export const NOTIFY_OUTCOMES = ["failure", "warning", "success", "fallback"] as const;

/**
 * `failure`: the run failed; `warning`: it succeeded with warn checks offending; `success`:
 * it succeeded; `fallback`: a refresh had to fall back to a full one.
 */
export type NotifyOutcome = typeof NOTIFY_OUTCOMES[number];

/** POST of the run summary (JSON, or a Slack/Teams-compatible `{ "text" }` payload). */
export interface WebhookTarget {
  /** Target kind. */
  kind: "webhook";
  /** URL template; `${VAR}` is read from the environment (or .env) when sending. */
  url: string;
  /** `json` (the summary object) or `slack` (`{ "text": ... }`). */
  format: "json" | "slack";
  /** Extra request headers (values may hold `${VAR}`). */
  headers: Record<string, string>;
  /** Line of the target in the config file. */
  line: number;
}

/** A program run with the summary on standard input (no shell). */
export interface CommandTarget {
  /** Target kind. */
  kind: "command";
  /** Program and arguments (each may hold `${VAR}`). */
  argv: string[];
  /** Line of the target in the config file. */
  line: number;
}

/** Where alerts go. */
export type NotifyTarget = WebhookTarget | CommandTarget;

/** The validated `notify:` section. */
export interface NotifyConfig {
  /** Outcomes that send an alert. Default: ["failure"]. */
  on: NotifyOutcome[];
  /** Webhook and/or command. */
  targets: NotifyTarget[];
  /** Time allowed to one attempt, in ms. Default: 10000 (`timeout_seconds: 10`). */
  timeoutMs: number;
  /** Attempts after the first one failed. Default: 2. */
  retries: number;
}

/** Retention when the config names none, in days. */
export const DEFAULT_RETENTION_DAYS = 30;

/** What the section parsers need from the config parser. */
export interface SectionContext {
  /** Throws a ConfigError located at `node`. */
  fail(message: string, node?: unknown): never;
  /** Line of `node`, when known. */
  lineOf(node: unknown): number | undefined;
}

const NOTIFY_KEYS = ["on", "webhook", "command", "timeout_seconds", "retries"];
const WEBHOOK_KEYS = ["url", "format", "headers"];
const VARIABLE = /\$\{([^}]*)\}/g;

/** Parses `retention_days` (a whole number of days, at least 1). */
export function parseRetentionDays(node: unknown, ctx: SectionContext): number {
  if (node === undefined) return DEFAULT_RETENTION_DAYS;
  const value = isScalar(node) ? node.value : undefined;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    return ctx.fail("retention_days must be a whole number of days, at least 1", node);
  }
  return value;
}

/** Parses the `notify:` section; undefined when the config has none. */
export function parseNotify(node: unknown, ctx: SectionContext): NotifyConfig | undefined {
  if (node === undefined || (isScalar(node) && node.value === null)) return undefined;
  const { fail } = ctx;
  if (!isMap(node)) return fail("notify must be a mapping (on, webhook, command, ...)", node);
  checkKeys(node, NOTIFY_KEYS, "notify", ctx);
  const on = parseOutcomes(node.get("on", true), ctx);
  const targets: NotifyTarget[] = [];
  const keyLine = (key: string) =>
    ctx.lineOf(node.items.find((p) => isScalar(p.key) && p.key.value === key)?.key) ?? 0;
  const webhook = node.get("webhook", true);
  if (webhook !== undefined) targets.push(parseWebhook(webhook, keyLine("webhook"), ctx));
  const command = node.get("command", true);
  if (command !== undefined) targets.push(parseCommand(command, keyLine("command"), ctx));
  if (targets.length === 0) fail("notify needs a webhook and/or a command", node);
  const timeout = number(node, "timeout_seconds", 10, ctx);
  if (timeout <= 0 || timeout > 300) {
    fail(
      "notify: timeout_seconds must be above 0 and at most 300",
      node.get("timeout_seconds", true),
    );
  }
  const retries = number(node, "retries", 2, ctx);
  if (!Number.isInteger(retries) || retries < 0 || retries > 10) {
    fail("notify: retries must be a whole number from 0 to 10", node.get("retries", true));
  }
  return { on, targets, timeoutMs: Math.round(timeout * 1000), retries };
}

function parseOutcomes(node: unknown, ctx: SectionContext): NotifyOutcome[] {
  if (node === undefined) return ["failure"];
  const items = isSeq(node) ? node.items : isScalar(node) ? [node] : undefined;
  if (!items || items.length === 0) {
    return ctx.fail(`notify: on must list outcomes (${NOTIFY_OUTCOMES.join(", ")})`, node);
  }
  const outcomes: NotifyOutcome[] = [];
  for (const item of items) {
    const value = isScalar(item) ? String(item.value) : "";
    if (!(NOTIFY_OUTCOMES as readonly string[]).includes(value)) {
      ctx.fail(
        `notify: unknown outcome "${value}"${didYouMean(value, NOTIFY_OUTCOMES)} (known: ${
          NOTIFY_OUTCOMES.join(", ")
        })`,
        item,
      );
    }
    if (!outcomes.includes(value as NotifyOutcome)) outcomes.push(value as NotifyOutcome);
  }
  return outcomes;
}

function parseWebhook(node: unknown, line: number, ctx: SectionContext): WebhookTarget {
  if (isScalar(node)) {
    return { kind: "webhook", url: webhookUrl(node, ctx), format: "json", headers: {}, line };
  }
  if (!isMap(node)) return ctx.fail("notify: webhook must be a URL or a mapping with url", node);
  checkKeys(node, WEBHOOK_KEYS, "notify.webhook", ctx);
  const urlNode = node.get("url", true);
  if (urlNode === undefined) return ctx.fail('notify.webhook: missing field "url"', node);
  const formatNode = node.get("format", true);
  const format = formatNode === undefined ? "json" : isScalar(formatNode) ? formatNode.value : "";
  if (format !== "json" && format !== "slack") {
    ctx.fail(`notify.webhook: format must be json or slack, not "${format}"`, formatNode);
  }
  const headers: Record<string, string> = {};
  const headersNode = node.get("headers", true);
  if (headersNode !== undefined) {
    if (!isMap(headersNode)) {
      return ctx.fail("notify.webhook: headers must be a mapping", headersNode);
    }
    for (const pair of headersNode.items) {
      const name = isScalar(pair.key) ? String(pair.key.value) : "";
      if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) {
        ctx.fail(`notify.webhook: invalid header name "${name}"`, pair.key);
      }
      headers[name] = template(pair.value, `header "${name}"`, ctx);
    }
  }
  return {
    kind: "webhook",
    url: webhookUrl(urlNode, ctx),
    format: format as "json",
    headers,
    line,
  };
}

function webhookUrl(node: unknown, ctx: SectionContext): string {
  const url = template(node, "webhook url", ctx);
  if (!/^(https?:\/\/|\$\{)/i.test(url)) {
    ctx.fail("notify.webhook: the url must start with http:// or https:// (or be ${VAR})", node);
  }
  return url;
}

function parseCommand(node: unknown, line: number, ctx: SectionContext): CommandTarget {
  const items = isSeq(node) ? node.items : [node];
  if (items.length === 0) return ctx.fail("notify: command must name a program", node);
  const argv = items.map((item, i) =>
    template(item, i === 0 ? "command" : "command argument", ctx)
  );
  if (argv[0] === "") ctx.fail("notify: command must name a program", node);
  return { kind: "command", argv, line };
}

/** A string field that may hold `${VAR}` references, each checked to name a variable. */
function template(node: unknown, what: string, ctx: SectionContext): string {
  if (!isScalar(node) || (typeof node.value !== "string" && typeof node.value !== "number")) {
    return ctx.fail(`notify: ${what} must be a string`, node);
  }
  const text = String(node.value);
  for (const match of text.matchAll(VARIABLE)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(match[1]!)) {
      ctx.fail(`notify: ${what}: "\${${match[1]}}" does not name an environment variable`, node);
    }
  }
  if (text.replace(VARIABLE, "").includes("${")) {
    ctx.fail(`notify: ${what}: unclosed "\${" (write \${NAME})`, node);
  }
  return text;
}

function number(map: YAMLMap, key: string, fallback: number, ctx: SectionContext): number {
  const node = map.get(key, true);
  if (node === undefined) return fallback;
  if (!isScalar(node) || typeof node.value !== "number") {
    return ctx.fail(`notify: ${key} must be a number`, node);
  }
  return node.value;
}

function checkKeys(map: YAMLMap, allowed: string[], where: string, ctx: SectionContext): void {
  for (const pair of map.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : "";
    if (!allowed.includes(key)) {
      ctx.fail(`${where}: unknown key "${key}"${didYouMean(key, allowed)}`, pair.key);
    }
  }
}
