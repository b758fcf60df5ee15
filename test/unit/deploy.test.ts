/**
 * The installer in deploy/: the DaemonSet against the Kubernetes API schemas (kubernetes-models)
 * and what it mounts; the Dockerfile read statically (no Docker engine runs here, so it is never
 * built by these tests); the example NAD; and install-cni.sh run for real with sh against a
 * stand-in executable.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { invalid } from '../support/k8s.js';

const repoFile = (path: string): string => fileURLToPath(new URL(`../../${path}`, import.meta.url));
const read = (path: string): string => readFileSync(repoFile(path), 'utf8');
const { version } = JSON.parse(read('package.json')) as { version: string };


// --- deploy/daemonset.yaml ---------------------------------------------------------------------

function daemonSetFile(): Record<string, any> {
  const docs = parseAllDocuments(read('deploy/daemonset.yaml'));
  expect(docs).toHaveLength(1);
  expect(docs.flatMap((d) => d.errors)).toEqual([]);
  return docs[0]!.toJS() as Record<string, any>;
}
const ds = daemonSetFile();
const pod = ds.spec.template.spec as Record<string, any>;
const container = pod.containers[0] as Record<string, any>;

describe('deploy/daemonset.yaml against the apps/v1 schema', () => {
  it('is one DaemonSet document that the schema accepts', () => {
    expect(ds).toMatchObject({ apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'kube-ovn-offload', namespace: 'kube-system' } });
    expect(invalid(() => new DaemonSet(ds as any).validate())).toBeUndefined();
  });

  it.each([
    ['a container without its required name', (d: any) => { delete d.spec.template.spec.containers[0].name; }, 'must have required property name'],
    ['a hostPath.path that is a number', (d: any) => { d.spec.template.spec.volumes[0].hostPath.path = 1; }, 'hostPath/path must be string'],
    ['a hostPath.type that does not exist', (d: any) => { d.spec.template.spec.volumes[0].hostPath.type = 'Dir'; }, 'must be equal to one of the allowed values'],
    ['no selector', (d: any) => { delete d.spec.selector; }, 'must have required property selector'],
    ['a request that is no quantity', (d: any) => { d.spec.template.spec.containers[0].resources.requests.cpu = 'ten'; }, 'must match format "quantity"'],
  ])('refuses a copy with %s', (_, spoil, message) => {
    const broken = structuredClone(ds);
    spoil(broken);
    expect(invalid(() => new DaemonSet(broken as any).validate())).toContain(message);
  });

  // The API server refuses a DaemonSet whose selector does not match its template; the schema
  // cannot say so.
  it('selects its own pods', () => {
    expect(ds.spec.template.metadata.labels).toMatchObject(ds.spec.selector.matchLabels);
  });
});

describe('deploy/daemonset.yaml: where and how it runs', () => {
  it('runs on every Linux node, in the host network, as system-node-critical, rolling', () => {
    expect(pod.hostNetwork).toBe(true);
    expect(pod.tolerations).toEqual([{ operator: 'Exists' }]);
    expect(pod.nodeSelector).toEqual({ 'kubernetes.io/os': 'linux' });
    expect(pod.priorityClassName).toBe('system-node-critical');
    expect(ds.spec.updateStrategy.type).toBe('RollingUpdate');
  });

  it('needs no ServiceAccount and mounts no API token', () => {
    expect(pod.serviceAccountName).toBeUndefined();
    expect(pod.serviceAccount).toBeUndefined();
    expect(pod.automountServiceAccountToken).toBe(false);
  });

  it('has one privileged container that runs install-cni.sh with small requests', () => {
    expect(pod.containers).toHaveLength(1);
    expect(pod.initContainers).toBeUndefined();
    expect(container.command).toEqual(['/usr/local/bin/install-cni.sh']);
    expect(container.securityContext).toEqual({ privileged: true });
    expect(container.resources.requests).toEqual({ cpu: '10m', memory: '32Mi' });
  });

  it('installs where install-cni.sh writes by default, and leaves the sysfs root at its default', () => {
    const env = Object.fromEntries((container.env ?? []).map((e: { name: string; value: string }) => [e.name, e.value]));
    expect(env.KUBE_OVN_OFFLOAD_SYSFS_ROOT).toBeUndefined();
    expect(read('deploy/install-cni.sh')).toContain(`CNI_BIN_DIR=\${CNI_BIN_DIR:-${env.CNI_BIN_DIR}}`);
  });

  /** The hostPath volume behind a mount, with the mount. */
  function mountAt(mountPath: string) {
    const mount = (container.volumeMounts as Array<Record<string, any>>).find((m) => m.mountPath === mountPath);
    const volume = mount && (pod.volumes as Array<Record<string, any>>).find((v) => v.name === mount.name);
    return { mount, volume };
  }

  it.each([
    ['/opt/cni/bin', '/host/opt/cni/bin', false],
    ['/sys', '/sys', true],
    ['/run/openvswitch', '/run/openvswitch', true],
    ['/var/lib/cni/kube-ovn-offload', '/var/lib/cni/kube-ovn-offload', true],
    ['/var/log/kube-ovn', '/var/log/kube-ovn', true],
    ['/etc/cni/net.d', '/etc/cni/net.d', true],
    ['/opt/cni/bin', '/opt/cni/bin', true],
  ])('mounts the host’s %s at %s, read-only: %s', (hostPath, mountPath, readOnly) => {
    const { mount, volume } = mountAt(mountPath);
    expect(mount, `no volumeMount at ${mountPath}`).toBeDefined();
    expect(volume?.hostPath?.path).toBe(hostPath);
    expect(mount!.readOnly === true).toBe(readOnly);
  });

  // The schema lets unknown keys through; a misspelt `readonly` would silently mount read-write.
  it('writes only keys a volumeMount and a hostPath volume have', () => {
    for (const m of container.volumeMounts) expect(Object.keys(m).filter((k) => !['name', 'mountPath', 'readOnly'].includes(k))).toEqual([]);
    for (const v of pod.volumes) expect(Object.keys(v.hostPath).filter((k) => !['path', 'type'].includes(k))).toEqual([]);
    expect(pod.volumes).toHaveLength(container.volumeMounts.length);
  });
});

describe('the version, everywhere it is written, is package.json’s', () => {
  it('in the DaemonSet’s labels and its image tag', () => {
    expect(ds.metadata.labels['app.kubernetes.io/version']).toBe(version);
    expect(ds.spec.template.metadata.labels['app.kubernetes.io/version']).toBe(version);
    expect(container.image).toMatch(/\/kube-ovn-offload:[^:/]+$/);
    expect(container.image.split(':').pop()).toBe(version);
  });

  it('in the Dockerfile’s VERSION argument, which the build checks the executable against', () => {
    const arg = instructions(read('deploy/Dockerfile')).find((i) => i.keyword === 'ARG' && i.args.startsWith('VERSION='));
    expect(arg?.args).toBe(`VERSION=${version}`);
  });
});

// --- deploy/Dockerfile, statically -------------------------------------------------------------

interface Instruction { keyword: string; args: string }

/** Instructions with continuation lines joined and comments dropped, as the Dockerfile parser does. */
function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (/^\s*#/.test(line) || (!pending && line.trim() === '')) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    const whole = (pending + line).trim();
    pending = '';
    const m = /^(\S+)\s*(.*)$/s.exec(whole)!;
    out.push({ keyword: m[1]!.toUpperCase(), args: m[2]!.replace(/\s+/g, ' ').trim() });
  }
  expect(pending, 'a continuation line ends the file').toBe('');
  return out;
}

describe('deploy/Dockerfile (read, not built: no Docker engine here)', () => {
  const all = instructions(read('deploy/Dockerfile'));
  const froms = all.filter((i) => i.keyword === 'FROM').map((i) => /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(i.args)!);
  const runs = all.filter((i) => i.keyword === 'RUN').map((i) => i.args);
  const copies = all.filter((i) => i.keyword === 'COPY').map((i) => i.args.split(' '));

  it('uses only known instructions, and starts with ARG or FROM', () => {
    const known = ['FROM', 'ARG', 'RUN', 'COPY', 'ADD', 'LABEL', 'ENV', 'WORKDIR', 'USER', 'ENTRYPOINT', 'CMD', 'EXPOSE', 'VOLUME', 'SHELL', 'STOPSIGNAL', 'HEALTHCHECK', 'ONBUILD'];
    expect(all.map((i) => i.keyword).filter((k) => !known.includes(k))).toEqual([]);
    expect(['ARG', 'FROM']).toContain(all[0]!.keyword);
  });

  it('has a node:20-bookworm build stage and a debian:bookworm-slim final stage', () => {
    expect(froms.length).toBeGreaterThanOrEqual(2);
    expect(froms[0]![1]).toBe('node:20-bookworm');
    expect(froms[0]![2]).toBe('build');
    expect(froms.at(-1)![1]).toBe('debian:bookworm-slim');
  });

  it('runs npm ci, then npm run package, then the executable’s version as a smoke check', () => {
    const ci = runs.findIndex((r) => /\bnpm ci\b/.test(r));
    const pkg = runs.findIndex((r) => r.includes('npm run package'));
    expect(ci).toBeGreaterThanOrEqual(0);
    expect(pkg).toBeGreaterThan(ci);
    expect(runs[pkg]).toContain('./dist/kube-ovn-offload version');
    expect(runs[pkg]).toContain('test "$v" = "kube-ovn-offload ${VERSION}"');
  });

  it('copies the executable from the build stage and install-cni.sh from the context, where the script expects them', () => {
    const stages = froms.map((f) => f[2]).filter(Boolean);
    for (const c of copies.filter((c) => c[0]!.startsWith('--from='))) expect(stages).toContain(c[0]!.slice('--from='.length));
    expect(copies).toContainEqual(['--from=build', '/src/dist/kube-ovn-offload', '/usr/local/bin/kube-ovn-offload']);
    expect(copies).toContainEqual(['deploy/install-cni.sh', '/usr/local/bin/install-cni.sh']);
    expect(read('deploy/install-cni.sh')).toContain('SOURCE=${SOURCE:-/usr/local/bin/kube-ovn-offload}');
    const entrypoint = all.filter((i) => i.keyword === 'ENTRYPOINT').at(-1)!;
    expect(JSON.parse(entrypoint.args)).toEqual(['/usr/local/bin/install-cni.sh']);
    expect(container.command).toEqual(JSON.parse(entrypoint.args));
  });

  it('copies from the context only files that exist and that the ignore file lets through', () => {
    const ignored = read('deploy/Dockerfile.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist', '.git']));
    const sources = copies.filter((c) => !c[0]!.startsWith('--')).flatMap((c) => c.slice(0, -1)).filter((s) => s !== '.');
    expect(sources.length).toBeGreaterThan(0);
    for (const s of sources) {
      expect(existsSync(repoFile(s)), s).toBe(true);
      expect(ignored, s).not.toContain(s.split('/')[0]);
    }
  });

  it('labels the image with org.opencontainers.image.* and the version', () => {
    const labels = all.filter((i) => i.keyword === 'LABEL').map((i) => i.args).join(' ');
    expect(labels).toContain('org.opencontainers.image.title="kube-ovn-offload"');
    expect(labels).toContain('org.opencontainers.image.version="${VERSION}"');
    expect(labels).toContain('org.opencontainers.image.licenses="Apache-2.0"');
  });
});

// --- conf/nad.yaml -------------------------------------------------------------------------------

describe('conf/nad.yaml, the example NAD', () => {
  const nad = parse(read('conf/nad.yaml')) as Record<string, any>;
  const config = JSON.parse(nad.spec.config) as Record<string, any>;

  it('parses, and its spec.config is JSON whose first plugin is kube-ovn-offload', () => {
    expect(nad).toMatchObject({ apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition' });
    expect(config.plugins[0].type).toBe('kube-ovn-offload');
  });

  it('names a log file and a daemon socket in directories the DaemonSet mounts', () => {
    const mounted = (container.volumeMounts as Array<{ mountPath: string }>).map((m) => m.mountPath);
    expect(mounted).toContain(config.plugins[0].log_file.replace(/\/[^/]+$/, ''));
    expect(mounted).toContain(config.plugins[0].server_socket.replace(/\/[^/]+$/, ''));
  });
});

// --- deploy/install-cni.sh, run with sh ----------------------------------------------------------

const SCRIPT = repoFile('deploy/install-cni.sh');
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A node: an empty CNI bin directory and a stand-in for the image's executable. */
function node(standInVersion = '9.9.9') {
  const root = mkdtempSync(join(tmpdir(), 'install-cni-'));
  dirs.push(root);
  const bin = join(root, 'opt-cni-bin');
  mkdirSync(bin);
  const source = join(root, 'kube-ovn-offload');
  writeFileSync(source, standIn(standInVersion), { mode: 0o755 });
  return { root, bin, source, target: join(bin, 'kube-ovn-offload') };
}

/** A tiny executable that answers `version` the way kube-ovn-offload does. */
const standIn = (v: string, extra = '') => `#!/bin/sh\n# stand-in${extra}\n[ "$1" = version ] && echo "kube-ovn-offload ${v}"\nexit 0\n`;

function install(n: { bin: string; source: string }, env: Record<string, string> = {}) {
  return execa('sh', [SCRIPT], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', SOURCE: n.source, CNI_BIN_DIR: n.bin, INSTALL_ONLY: '1', ...env },
    extendEnv: false,
    reject: false,
    timeout: 20_000,
  });
}

describe('deploy/install-cni.sh', () => {
  it('parses as POSIX sh', async () => {
    const r = await execa('sh', ['-n', SCRIPT], { reject: false, timeout: 10_000 });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
  });

  it('installs the executable with mode 0755 and the same bytes, and leaves no temporary file', async () => {
    const n = node();
    const r = await install(n);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(statSync(n.target).mode & 0o7777).toBe(0o755);
    expect(readFileSync(n.target, 'utf8')).toBe(readFileSync(n.source, 'utf8'));
    expect(readdirSync(n.bin)).toEqual(['kube-ovn-offload']);
    expect(r.stdout).toContain(`installed kube-ovn-offload 9.9.9 at ${n.target}`);
    expect(r.stdout).toContain('version on this node: kube-ovn-offload 9.9.9');
  });

  it('says it skips the copy on a second run, and leaves the file alone', async () => {
    const n = node();
    expect((await install(n)).exitCode).toBe(0);
    const before = statSync(n.target);
    const r = await install(n);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('is already kube-ovn-offload 9.9.9: skipping the copy');
    expect(statSync(n.target).ino).toBe(before.ino);
    expect(statSync(n.target).mtimeMs).toBe(before.mtimeMs);
  });

  it('replaces another version by renaming over it: the old file is never written into', async () => {
    const n = node();
    writeFileSync(n.target, standIn('1.0.0'), { mode: 0o755 });
    // A second name for the old file: what a running copy of the old plugin keeps open.
    const old = join(n.root, 'old-inode');
    linkSync(n.target, old);
    const r = await install(n);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('replaced kube-ovn-offload 1.0.0 with kube-ovn-offload 9.9.9');
    expect(readFileSync(n.target, 'utf8')).toBe(standIn('9.9.9'));
    expect(readFileSync(old, 'utf8')).toBe(standIn('1.0.0'));
    expect(statSync(n.target).ino).not.toBe(statSync(old).ino);
    expect(readdirSync(n.bin)).toEqual(['kube-ovn-offload']);
  });

  it('replaces a file of the same version whose bytes differ (an image rebuilt without a bump)', async () => {
    const n = node();
    writeFileSync(n.target, standIn('9.9.9', ' older build'), { mode: 0o755 });
    const r = await install(n);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).not.toContain('skipping');
    expect(readFileSync(n.target, 'utf8')).toBe(standIn('9.9.9'));
  });

  it('replaces a target that cannot run, such as a file another installer left half-written', async () => {
    const n = node();
    writeFileSync(n.target, '\x7fELF\x02\x01', { mode: 0o644 });
    const r = await install(n);
    expect(r.exitCode).toBe(0);
    expect(readFileSync(n.target, 'utf8')).toBe(standIn('9.9.9'));
    expect(statSync(n.target).mode & 0o7777).toBe(0o755);
  });

  it('leaves neither a partial target nor a temporary file when the copy fails midway', async () => {
    const n = node();
    writeFileSync(n.target, standIn('1.0.0'), { mode: 0o755 });
    // A cp that writes part of the file and fails, first on PATH.
    const fakes = join(n.root, 'fakes');
    mkdirSync(fakes);
    writeFileSync(join(fakes, 'cp'), '#!/bin/sh\nhead -c 5 "$1" > "$2"\necho "cp: No space left on device" >&2\nexit 1\n', { mode: 0o755 });
    const r = await install(n, { PATH: `${fakes}:${process.env.PATH ?? '/usr/bin:/bin'}` });
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain('No space left on device');
    expect(readFileSync(n.target, 'utf8')).toBe(standIn('1.0.0'));
    expect(readdirSync(n.bin)).toEqual(['kube-ovn-offload']);
  });

  it('refuses a source whose version output is not "kube-ovn-offload <version>" and installs nothing', async () => {
    const n = node();
    writeFileSync(n.source, '#!/bin/sh\necho oops\n', { mode: 0o755 });
    const r = await install(n);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("version printed 'oops'");
    expect(readdirSync(n.bin)).toEqual([]);
  });

  it('refuses a CNI_BIN_DIR that does not exist', async () => {
    const n = node();
    const r = await install(n, { CNI_BIN_DIR: join(n.root, 'missing') });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`no directory ${join(n.root, 'missing')}`);
  });

  it('without INSTALL_ONLY, stays alive after installing and exits 0 at once on TERM', async () => {
    const n = node();
    const child = install(n, { INSTALL_ONLY: '' });
    // Until it says it waits (or ends early, which the assertions below then show).
    await new Promise<void>((resolve) => {
      let seen = '';
      child.stdout.on('data', (chunk: Buffer) => {
        seen += String(chunk);
        if (seen.includes('waiting')) resolve();
      });
      void child.then(() => resolve());
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(child.exitCode).toBeNull();
    expect(existsSync(n.target)).toBe(true);
    const sent = Date.now();
    child.kill('SIGTERM');
    const r = await child;
    expect(r.timedOut).toBe(false);
    expect(r.exitCode).toBe(0);
    expect(Date.now() - sent).toBeLessThan(5_000);
  });
});
