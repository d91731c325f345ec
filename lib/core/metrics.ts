/**
 * Process metrics for run reports: peak resident memory.
 * @module
 */

/** Peak resident set size of this process in bytes (Linux VmHWM; else the current RSS). */
export function peakRssBytes(): number {
  try {
    const status = Deno.readTextFileSync("/proc/self/status");
    const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
    if (match) return Number(match[1]) * 1024;
  } catch {
    // not Linux: fall through
  }
  return Deno.memoryUsage().rss;
}
