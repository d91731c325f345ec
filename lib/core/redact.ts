/**
 * Password redaction for every text that is logged, printed, stored in the ledger or written
 * to a report: URL passwords (even unencoded `/`, `@`, `+`, `=` or whitespace), `password=`
 * pairs and SQL `PASSWORD '…'` literals.
 * @module
 */

const MASK = "***";
const SCHEME = /[A-Za-z][A-Za-z0-9+.-]*:\/\//g;
// A host after the credentials: up to the path, query, quote or whitespace.
const HOST_AFTER = /^[^\s@/?#'"<>]*(?:[/?#'"<>\s]|$)/;

/**
 * Returns `url` with its password replaced by `***`. The credentials run from `//` to the last
 * `@` that is followed by a host, so an unencoded `/`, `@` or space in the password cannot end
 * them early; when they do not read as `user:password`, everything between `//` and that `@`
 * is blanked.
 */
export function redactUrl(url: string): string {
  return redactSegment(url);
}

/** Redacts every URL password, `password=` pair and SQL `PASSWORD '…'` literal in `text`. */
export function redactText(text: string): string {
  let out = "";
  for (const line of text.split(/(?<=\n)/)) {
    const starts = [...line.matchAll(SCHEME)].map((m) => m.index);
    if (starts.length === 0) {
      out += line;
      continue;
    }
    out += line.slice(0, starts[0]);
    starts.forEach((start, i) => {
      out += redactSegment(line.slice(start, starts[i + 1] ?? line.length));
    });
  }
  return out
    .replace(/(\bpassword\s+)(E?'(?:[^']|'')*'|\$([A-Za-z_]*)\$[\s\S]*?\$\3\$)/gi, `$1'${MASK}'`)
    .replace(/("password"\s*:\s*)"(?:[^"\\]|\\.)*"/gi, `$1"${MASK}"`)
    .replace(/(\bpassword\s*=\s*)('[^']*'|\S+)/gi, `$1${MASK}`);
}

/** Redacts the credentials of the one URL that starts `segment`. */
function redactSegment(segment: string): string {
  const slashes = segment.indexOf("//");
  if (slashes < 0) return segment;
  const authorityStart = slashes + 2;
  let at = -1;
  for (let i = segment.lastIndexOf("@"); i >= authorityStart; i = segment.lastIndexOf("@", i - 1)) {
    if (HOST_AFTER.test(segment.slice(i + 1))) {
      at = i;
      break;
    }
    if (i === 0) break;
  }
  if (at < 0) return segment;
  const userinfo = segment.slice(authorityStart, at);
  const colon = userinfo.indexOf(":");
  let kept: string;
  if (colon < 0) kept = /^[^\s/?#'"<>:]*$/.test(userinfo) ? userinfo : MASK;
  else {
    const user = userinfo.slice(0, colon);
    kept = /^[^\s/?#'"<>]*$/.test(user) ? `${user}:${MASK}` : MASK;
  }
  return segment.slice(0, authorityStart) + kept + segment.slice(at);
}
