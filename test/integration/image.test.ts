/**
 * The installer image of `npm run image` (scripts/image.mjs; root only: mmdebstrap and chroot).
 * The archive is read without a container runtime, the way containerd's importer reads it: index,
 * then manifest, then config and layers, each blob checked against its digest. Its layers, unpacked
 * in order, give the rootfs in which install-cni.sh runs under chroot as the pod would run it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { INSTALLER_ARCHIVE } from '../support/installer-image.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const ARCHIVE = INSTALLER_ARCHIVE;
const SEA = join(REPO, 'dist/kube-ovn-offload');
const INSTALLER = join(REPO, 'deploy/install-cni.sh');
const { version } = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };
const isRoot = process.getuid?.() === 0;
// The image's config.Env, as debian:bookworm-slim's.
const PATH_ENV = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const ARCH = ({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[process.arch];

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
const buildImage = () => execa('node', ['scripts/image.mjs'], { cwd: REPO, timeout: 900_000, all: true, reject: false });

interface Descriptor { mediaType: string; digest: string; size: number; platform?: Record<string, string>; annotations?: Record<string, string> }

/** The final stage's LABELs as the Dockerfile writes them (`${VERSION}` and `${REVISION}` unexpanded). */
function dockerfileLabels(): Record<string, string> {
  const text = readFileSync(join(REPO, 'deploy/Dockerfile'), 'utf8');
  const label = /^LABEL\s((?:.*\\\n)*.*)$/m.exec(text.slice(text.lastIndexOf('\nFROM ')))![1]!;
  return Object.fromEntries([...label.matchAll(/([\w.-]+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
}

describe.skipIf(!isRoot)('the installer image (npm run image)', () => {
  let dir = '';
  let layout = '';
  let rootfs = '';
  let archiveSha = '';
  let index: { schemaVersion: number; mediaType: string; manifests: Descriptor[] };
  let manifest: { schemaVersion: number; mediaType: string; config: Descriptor; layers: Descriptor[] };
  let config: Record<string, any>;
  /** Each layer's entry names, in order. */
  let names: string[][];
  const blob = (d: Descriptor) => readFileSync(join(layout, 'blobs/sha256', d.digest.replace(/^sha256:/, '')));

  beforeAll(async () => {
    const built = await buildImage();
    if (built.exitCode !== 0) throw new Error(`npm run image failed:\n${built.all}`);
    archiveSha = sha256(readFileSync(ARCHIVE));
    dir = mkdtempSync(join(tmpdir(), 'image-test-'));
    layout = join(dir, 'oci');
    rootfs = join(dir, 'rootfs');
    mkdirSync(layout);
    mkdirSync(rootfs);
    await execa('tar', ['-xf', ARCHIVE, '-C', layout], { timeout: 120_000 });
    index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
    manifest = JSON.parse(blob(index.manifests[0]!).toString());
    config = JSON.parse(blob(manifest.config).toString());
    names = [];
    for (const layer of manifest.layers) {
      const file = join(layout, 'blobs/sha256', layer.digest.replace(/^sha256:/, ''));
      names.push((await execa('tar', ['-tzf', file], { timeout: 120_000 })).stdout.split('\n'));
      await execa('tar', ['-xzf', file, '-C', rootfs, '--numeric-owner', '--preserve-permissions'], { timeout: 120_000 });
    }
  }, 900_000);

  // Nothing is mounted into the rootfs; removing the tree is all.
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('is an OCI image layout whose index names localhost/kube-ovn-offload:<version>', () => {
    expect(JSON.parse(readFileSync(join(layout, 'oci-layout'), 'utf8'))).toEqual({ imageLayoutVersion: '1.0.0' });
    expect(index.schemaVersion).toBe(2);
    expect(index.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(index.manifests).toHaveLength(1);
    expect(index.manifests[0]).toMatchObject({
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      platform: { architecture: ARCH, os: 'linux' },
      annotations: { 'io.containerd.image.name': `localhost/kube-ovn-offload:${version}`, 'org.opencontainers.image.ref.name': version },
    });
    expect(manifest.schemaVersion).toBe(2);
    expect(manifest.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(manifest.config.mediaType).toBe('application/vnd.oci.image.config.v1+json');
    expect(manifest.layers.map((l) => l.mediaType)).toEqual(Array(2).fill('application/vnd.oci.image.layer.v1.tar+gzip'));
  });

  it('holds exactly the blobs it names, each one of the size and sha256 its descriptor says', () => {
    const descriptors = [index.manifests[0]!, manifest.config, ...manifest.layers];
    for (const d of descriptors) {
      const data = blob(d);
      expect(`sha256:${sha256(data)}`, d.mediaType).toBe(d.digest);
      expect(data.length, d.digest).toBe(d.size);
    }
    expect(readdirSync(join(layout, 'blobs/sha256')).sort()).toEqual(descriptors.map((d) => d.digest.slice(7)).sort());
    // diff_ids are the digests of the uncompressed layers.
    expect(config.rootfs).toEqual({ type: 'layers', diff_ids: manifest.layers.map((l) => `sha256:${sha256(gunzipSync(blob(l)))}`) });
  });

  it('has the Dockerfile’s entrypoint and labels, with the version and this commit', async () => {
    const revision = (await execa('git', ['rev-parse', 'HEAD'], { cwd: REPO, timeout: 10_000 })).stdout.trim();
    expect(config).toMatchObject({ architecture: ARCH, os: 'linux' });
    expect(config.config.Entrypoint).toEqual(['/usr/local/bin/install-cni.sh']);
    expect(config.config.Cmd).toBeUndefined();
    expect(config.config.Env).toEqual([`PATH=${PATH_ENV}`]);
    const { 'org.opencontainers.image.base.name': base, ...fromDockerfile } = dockerfileLabels();
    expect(base).toBe('docker.io/library/debian:bookworm-slim');
    expect(config.config.Labels).toEqual(Object.fromEntries(Object.entries(fromDockerfile)
      .map(([k, v]) => [k, v.replace('${VERSION}', version).replace('${REVISION}', revision)])));
    expect(config.config.Labels['org.opencontainers.image.version']).toBe(version);
    expect(config.config.Labels['org.opencontainers.image.title']).toBe('kube-ovn-offload');
  });

  it('puts the executable and the installer in a layer of their own: 0755, root, the same bytes as dist/ and deploy/', () => {
    expect(names[1]!.filter(Boolean)).toEqual(['usr/', 'usr/local/', 'usr/local/bin/', 'usr/local/bin/install-cni.sh', 'usr/local/bin/kube-ovn-offload']);
    for (const [inImage, source] of [['usr/local/bin/kube-ovn-offload', SEA], ['usr/local/bin/install-cni.sh', INSTALLER]] as const) {
      const st = statSync(join(rootfs, inImage));
      expect(st.mode & 0o7777, inImage).toBe(0o755);
      expect([st.uid, st.gid], inImage).toEqual([0, 0]);
      expect(sha256(readFileSync(join(rootfs, inImage))), inImage).toBe(sha256(readFileSync(source)));
    }
  });

  it('has ip, devlink and ethtool, running, and no apt lists, apt cache, docs or man pages', async () => {
    const all = names.flat();
    expect(all).toEqual(expect.arrayContaining(['usr/sbin/devlink', 'usr/sbin/ethtool']));
    expect(all.some((n) => ['bin/ip', 'sbin/ip', 'usr/bin/ip', 'usr/sbin/ip'].includes(n))).toBe(true);
    expect(lstatSync(join(rootfs, 'bin')).isSymbolicLink()).toBe(true);
    for (const [tool, arg] of [['ip', '-V'], ['devlink', '-V'], ['ethtool', '--version']]) {
      const r = await execa('chroot', [rootfs, tool!, arg!], { env: { PATH: PATH_ENV }, extendEnv: false, timeout: 30_000, reject: false });
      expect(r.exitCode, `${tool} ${arg}: ${r.stderr}`).toBe(0);
    }
    expect(all.filter((n) => /^var\/(lib\/apt\/lists|cache\/apt)\/./.test(n))).toEqual([]);
    expect(all.filter((n) => /^usr\/share\/(doc|man|info|locale)\/.*[^/]$/.test(n) && !/^usr\/share\/doc\/[^/]+\/copyright$/.test(n))
      // Symlinks from one package's doc directory to another's (libstdc++6 → gcc-12-base).
      .filter((n) => !lstatSync(join(rootfs, n)).isSymbolicLink())).toEqual([]);
    expect(all.filter((n) => /^(dev|proc|sys)\/./.test(n) || /(^|\/)\.wh\./.test(n) || n.startsWith('/') || n.split('/').includes('..'))).toEqual([]);
  });

  it('runs its entrypoint in a chroot with INSTALL_ONLY=1: the plugin lands in CNI_BIN_DIR and its version runs', async () => {
    mkdirSync(join(rootfs, 'tmp/cni-bin'));
    // The runtime gives a container /dev/null; install-cni.sh writes to it.
    await execa('mknod', ['-m', '0666', join(rootfs, 'dev/null'), 'c', '1', '3'], { timeout: 10_000 });
    const r = await execa('chroot', [rootfs, ...config.config.Entrypoint], {
      env: { PATH: PATH_ENV, INSTALL_ONLY: '1', CNI_BIN_DIR: '/tmp/cni-bin' }, extendEnv: false, timeout: 60_000, reject: false,
    });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain(`installed kube-ovn-offload ${version} at /tmp/cni-bin/kube-ovn-offload`);
    expect(r.stdout).toContain(`version on this node: kube-ovn-offload ${version}`);
    const installed = join(rootfs, 'tmp/cni-bin/kube-ovn-offload');
    expect(statSync(installed).mode & 0o7777).toBe(0o755);
    expect(sha256(readFileSync(installed))).toBe(sha256(readFileSync(SEA)));
    expect(readdirSync(join(rootfs, 'tmp/cni-bin'))).toEqual(['kube-ovn-offload']);
    const v = await execa('chroot', [rootfs, '/tmp/cni-bin/kube-ovn-offload', 'version'], { env: { PATH: PATH_ENV }, extendEnv: false, timeout: 30_000 });
    expect(v.stdout).toBe(`kube-ovn-offload ${version}`);
  });

  // Last: it writes the archive again.
  it('builds again from the cache, repackaging nothing, into the same bytes', async () => {
    const again = await buildImage();
    expect(again.exitCode, again.all).toBe(0);
    expect(again.all).toContain('image: base: cached');
    expect(again.all).toContain('holds the current bundle, reused');
    expect(again.all).not.toContain('mmdebstrap');
    expect(sha256(readFileSync(ARCHIVE))).toBe(archiveSha);
    expect(existsSync(join(REPO, '.cache/image'))).toBe(true);
    expect(readdirSync(join(REPO, '.cache/image')).filter((f) => f.startsWith('work-'))).toEqual([]);
  }, 300_000);
});
