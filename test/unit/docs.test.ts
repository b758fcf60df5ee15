/**
 * The documentation against the code and against itself: the error table of docs/errors.md
 * lists exactly the codes of src/cni/errors.ts, and every relative link in README.md and
 * docs/*.md names a file that exists, and a heading that exists when it names one (anchors
 * computed as GitHub computes them).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Code } from '../../src/cni/errors.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const DOCS = join(REPO, 'docs');
const PAGES = [join(REPO, 'README.md'), ...readdirSync(DOCS).filter((f) => f.endsWith('.md')).map((f) => join(DOCS, f))];

/** The lines of a Markdown file outside fenced code blocks, with their 1-based numbers. */
function proseLines(text: string): Array<{ line: string; n: number }> {
  const out: Array<{ line: string; n: number }> = [];
  let fence: string | undefined;
  text.split('\n').forEach((line, i) => {
    const m = /^\s*(```+|~~~+)/.exec(line);
    if (m) {
      if (!fence) fence = m[1]![0];
      else if (m[1]![0] === fence) fence = undefined;
      return;
    }
    if (!fence) out.push({ line, n: i + 1 });
  });
  return out;
}

/** A heading's anchor as GitHub makes it: "### kube-ovn: generateNicName" → "kube-ovn-generatenicname". */
function githubAnchor(heading: string): string {
  const text = heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1') // a link shows its text
    .replace(/`/g, '') // code spans show their content
    .replace(/\*+/g, ''); // emphasis markers
  return text
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor a Markdown file has, duplicates numbered as GitHub numbers them ("-1", "-2"). */
function anchorsOf(path: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const { line } of proseLines(readFileSync(path, 'utf8'))) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = githubAnchor(m[1]!);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

interface Link {
  page: string;
  n: number;
  target: string;
}

/** The relative links of a page's prose: `[text](target)`, outside code spans and blocks. */
function relativeLinks(page: string): Link[] {
  const links: Link[] = [];
  for (const { line, n } of proseLines(readFileSync(page, 'utf8'))) {
    const prose = line.replace(/`[^`]*`/g, '``'); // "[x](y)" inside a code span is not a link
    for (const m of prose.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      const target = m[1]!;
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
      links.push({ page, n, target });
    }
  }
  return links;
}

/** Why a relative link does not resolve, or undefined when it does. */
function brokenBecause(link: Link): string | undefined {
  const [pathPart = '', anchor] = link.target.split('#', 2) as [string, string | undefined];
  const file = pathPart === '' ? link.page : resolve(dirname(link.page), decodeURIComponent(pathPart));
  if (!file.startsWith(REPO + '/') && file !== REPO) return `${pathPart} leaves the repository`;
  if (!existsSync(file)) return `${relative(REPO, file)} does not exist`;
  if (anchor === undefined) return undefined;
  if (statSync(file).isDirectory() || !file.endsWith('.md')) return `#${anchor} on ${relative(REPO, file)}, which is not a Markdown file`;
  return anchorsOf(file).has(anchor) ? undefined : `${relative(REPO, file)} has no heading #${anchor}`;
}

describe('githubAnchor', () => {
  it.each([
    ['kube-ovn: generateNicName', 'kube-ovn-generatenicname'],
    ['Multus v4.0.2', 'multus-v402'],
    ["What the pod's network-status shows: device-info", 'what-the-pods-network-status-shows-device-info'],
    ['kube-ovn: install.sh and HW_OFFLOAD', 'kube-ovn-installsh-and-hw_offload'],
    ['Build without Docker: `npm run image`', 'build-without-docker-npm-run-image'],
    ['`kube-ovn-offload setup --pf DEV --vfs N [--apply]`', 'kube-ovn-offload-setup---pf-dev---vfs-n---apply'],
  ])('%j → %j', (heading, anchor) => {
    expect(githubAnchor(heading)).toBe(anchor);
  });
});

describe('docs/errors.md', () => {
  it('lists in its error table exactly the codes of src/cni/errors.ts', () => {
    const text = readFileSync(join(DOCS, 'errors.md'), 'utf8');
    const section = text.split(/^## Error codes\s*$/m)[1]?.split(/^## /m)[0];
    expect(section, 'docs/errors.md has a "## Error codes" section').toBeDefined();
    const rows = section!.split('\n').filter((l) => /^\|\s*\d+\s*\|/.test(l));
    const listed = rows.map((l) => Number(/^\|\s*(\d+)\s*\|/.exec(l)![1]));
    expect(new Set(listed).size, 'each code once').toBe(listed.length);
    expect([...listed].sort((a, b) => a - b)).toEqual(Object.values(Code).sort((a, b) => a - b));
  });
});

describe('relative links in README.md and docs/', () => {
  const links = PAGES.flatMap(relativeLinks);

  it('finds the pages and their links', () => {
    expect(PAGES.map((p) => relative(REPO, p))).toContain('docs/upstream.md');
    expect(links.length).toBeGreaterThan(50);
  });

  it('points every relative link at a file that exists, and at a heading it has', () => {
    const broken = links.flatMap((l) => {
      const why = brokenBecause(l);
      return why ? [`${relative(REPO, l.page)}:${l.n}: (${l.target}) ${why}`] : [];
    });
    expect(broken).toEqual([]);
  });
});
