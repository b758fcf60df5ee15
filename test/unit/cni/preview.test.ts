/** Untrusted JSON in messages: bounded in length and depth, whatever it is. */
import { describe, expect, it } from 'vitest';
import { preview } from '../../../src/cni/preview.js';

function nested(depth: number): unknown {
  let v: unknown = [];
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

describe('preview', () => {
  it('prints small values as JSON does', () => {
    const v = { a: [1, 'x', null, true], b: { c: 'd' } };
    expect(preview(v, 200, 5)).toBe(JSON.stringify(v));
  });

  it('stops descending at maxDepth', () => {
    expect(preview({ a: { b: { c: 1 } } }, 200, 2)).toBe('{"a":{"b":{…}}}');
  });

  it('survives nesting that overflows JSON.stringify', () => {
    const deep = nested(200_000);
    expect(() => JSON.stringify(deep)).toThrow(RangeError);
    expect(preview(deep, 50, 3)).toBe('[[[[…]]]]');
  });

  it('cuts long values at maxLen, with an ellipsis', () => {
    const text = preview({ key: 'x'.repeat(10_000), more: Array.from({ length: 10_000 }, (_, i) => i) }, 100);
    expect(text.length).toBe(101);
    expect(text.endsWith('…')).toBe(true);
  });

  it('cuts wide arrays without walking them all', () => {
    const wide = Array.from({ length: 1_000_000 }, () => 1);
    expect(preview(wide, 20)).toBe('[1,1,1,1,1,1,1,1,1,1…');
  });
});
