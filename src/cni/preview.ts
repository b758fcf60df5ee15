/**
 * Untrusted values (a prevResult, a daemon's or OVSDB's reply, a tool's output) as they may
 * appear in a message: JSON-like text of at most `maxLen` characters that descends at most
 * `maxDepth` levels. Never throws and never recurses deeper than `maxDepth`, so a
 * 5000-deep array costs what a flat one does (JSON.stringify would overflow the stack).
 */
export function preview(value: unknown, maxLen = 200, maxDepth = 3): string {
  const out: string[] = [];
  let length = 0;
  const put = (s: string): boolean => {
    out.push(s);
    length += s.length;
    return length <= maxLen;
  };
  const walk = (v: unknown, depth: number): boolean => {
    if (v === null || typeof v === 'number' || typeof v === 'boolean') return put(String(v));
    if (typeof v === 'string') return put(JSON.stringify(v.length > maxLen ? v.slice(0, maxLen) : v));
    if (typeof v !== 'object') return put(v === undefined ? 'undefined' : typeof v);
    const isArray = Array.isArray(v);
    if (depth >= maxDepth) return put(isArray ? '[…]' : '{…}');
    if (!put(isArray ? '[' : '{')) return false;
    let first = true;
    for (const [k, item] of isArray ? (v as unknown[]).entries() : Object.entries(v as object)) {
      if (!first && !put(',')) return false;
      first = false;
      if (!isArray && !put(`${JSON.stringify(k.length > maxLen ? k.slice(0, maxLen) : k)}:`)) return false;
      if (!walk(item, depth + 1)) return false;
    }
    return put(isArray ? ']' : '}');
  };
  const whole = walk(value, 0);
  const text = out.join('');
  return whole && text.length <= maxLen ? text : `${text.slice(0, maxLen)}…`;
}
