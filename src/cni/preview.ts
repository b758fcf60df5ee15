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
    const entries: Iterable<[number | string, unknown]> = isArray ? (v as unknown[]).entries() : Object.entries(v as object);
    for (const [k, item] of entries) {
      if (!first && !put(',')) return false;
      first = false;
      if (typeof k === 'string' && !put(`${JSON.stringify(k.slice(0, maxLen))}:`)) return false;
      if (!walk(item, depth + 1)) return false;
    }
    return put(isArray ? ']' : '}');
  };
  const whole = walk(value, 0);
  const text = out.join('');
  return whole && text.length <= maxLen ? text : `${text.slice(0, maxLen)}…`;
}

/** Untrusted text cut to `max` characters, with an ellipsis when cut. */
export function bounded(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/**
 * The path to the first value nested deeper than `maxDepth` levels, or undefined when none
 * is. Iterative, so that it answers for any depth JSON.parse accepts; code that recurses
 * (JSON.stringify, schema checks) is safe after it.
 */
export function tooDeep(value: unknown, maxDepth: number): Array<string | number> | undefined {
  const stack: Array<{ v: unknown; path: Array<string | number> }> = [{ v: value, path: [] }];
  while (stack.length > 0) {
    const { v, path } = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (path.length >= maxDepth) return path;
    const entries: Iterable<[number | string, unknown]> = Array.isArray(v) ? v.entries() : Object.entries(v as object);
    for (const [k, item] of entries) if (item !== null && typeof item === 'object') stack.push({ v: item, path: [...path, k] });
  }
  return undefined;
}
