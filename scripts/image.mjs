// `npm run image`: the installer image that deploy/Dockerfile describes, built with no container
// engine, from Debian packages only. Output: an OCI image layout in one tar,
// dist/image/kube-ovn-offload-installer.tar, named localhost/kube-ovn-offload:<version> by its
// io.containerd.image.name annotation (`ctr -n k8s.io images import` takes that name).
//
// Layer 1, the base: what debian:bookworm-slim plus `apt-get install --no-install-recommends
// iproute2 ethtool` holds. mmdebstrap installs it from Debian's mirror; then it is slimmed as
// debuerreotype slims bookworm-slim (docs, man pages, locales out, and dpkg told to keep them out),
// and packed without apt's lists and caches. Cached in .cache/image/ under a key made of BASE below,
// mmdebstrap's version and the Date of each suite's InRelease: a second build downloads only those
// three InRelease files; a new Date (Debian published updates) builds a new base.
// Layer 2: /usr/local/bin/kube-ovn-offload (the executable of `npm run package`, reused when it holds
// the current bundle) and /usr/local/bin/install-cni.sh, both 0755.
// The labels and the entrypoint are read from the Dockerfile's final stage, so the two builds
// cannot drift. Before packing, `kube-ovn-offload version` runs in a chroot of both layers and must
// print `kube-ovn-offload <version>`, as the Dockerfile's last RUN checks.
// Root only: mmdebstrap's root mode and chroot.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync, copyFileSync, createWriteStream, existsSync, linkSync, mkdirSync, mkdtempSync,
  readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { createGzip } from 'node:zlib';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const CACHE = join(REPO, '.cache/image');
const OUT = join(REPO, 'dist/image');
const ARCHIVE = join(OUT, 'kube-ovn-offload-installer.tar');
const SEA = join(REPO, 'dist/kube-ovn-offload');
const BUNDLE = join(REPO, 'dist/sea/kube-ovn-offload.cjs');
const CLI_BUNDLE = join(REPO, 'dist/sea/cli.cjs'); // the executable's asset
const INSTALLER = join(REPO, 'deploy/install-cni.sh');
const DOCKERFILE = join(REPO, 'deploy/Dockerfile');
// debian:bookworm-slim's config.Env, which the Dockerfile's final stage inherits.
const PATH_ENV = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const MEDIA = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
};

// Everything the base is made of; a change here is a new cache key.
const BASE = {
  suite: 'bookworm',
  // As bookworm-slim's /etc/apt/sources.list.d/debian.sources (written into the image as such).
  sources: [
    { uri: 'http://deb.debian.org/debian', suites: ['bookworm', 'bookworm-updates'] },
    { uri: 'http://deb.debian.org/debian-security', suites: ['bookworm-security'] },
  ],
  // Priority: required + apt, the set of debootstrap --variant=minbase, which debuerreotype runs.
  variant: 'minbase',
  // /bin, /sbin, /lib as symlinks into /usr made by the hook, as debootstrap does: without it apt
  // picks usrmerge (and with it perl) for init-system-helpers' `usrmerge | usr-is-merged`.
  hookDir: '/usr/share/mmdebstrap/hooks/merged-usr',
  include: ['iproute2', 'ethtool'],
  // debuerreotype's .slimify-excludes and the two of its .slimify-includes that match anything here.
  slimExclude: ['/usr/share/doc/*', '/usr/share/groff/*', '/usr/share/info/*', '/usr/share/linda/*',
    '/usr/share/lintian/overrides/*', '/usr/share/locale/*', '/usr/share/man/*'],
  slimInclude: ['/usr/share/doc/*/copyright', '/usr/share/locale/locale.alias'],
  // Translations are not downloaded, as bookworm-slim's docker-no-languages has it.
  aptopt: ['Acquire::Languages "none"'],
  // Copied from the host by mmdebstrap (the runtime provides the first two); the third is replaced.
  remove: ['etc/hostname', 'etc/resolv.conf', 'etc/apt/sources.list'],
  // debuerreotype-tar's: apt's lists and caches; /dev, /proc and /sys are the runtime's.
  tarExclude: ['dev/*', 'proc/*', 'sys/*', 'var/cache/apt/*', 'var/lib/apt/lists/*'],
};

const say = (msg) => process.stderr.write(`image: ${msg}\n`);
const sha256 = (data) => createHash('sha256').update(data).digest('hex');
const mib = (n) => `${(n / 1048576).toFixed(1)} MiB`;

// --- child processes: each one with a timeout, stderr kept for the error -----------------------

// Each child leads a process group of its own, and a stop reaches the whole group: mmdebstrap
// killed alone would leave its dpkg writing into the tree that the cleanup is removing.
const children = new Set();
const stop = (child, sig) => { try { process.kill(-child.pid, sig); } catch { /* already gone */ } };
let interrupted = null;
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    interrupted = sig;
    for (const c of children) stop(c, 'SIGTERM');
  });
}

/**
 * Starts `cmd`; `done` resolves with its stdout (unless `stream`: then read `child.stdout`), or
 * rejects naming the command, how it ended and the end of its stderr. `show` also copies stderr to
 * ours (progress of the long steps). After SIGINT or SIGTERM nothing new starts but the cleanup.
 */
function start(cmd, args, { timeout, env = process.env, cwd = REPO, stream = false, show = false, cleanup = false }) {
  if (interrupted && !cleanup) throw new Error(`stopped by ${interrupted}`);
  const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  children.add(child);
  let stdout = '';
  let stderr = '';
  if (!stream) child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => {
    stderr = (stderr + d).slice(-4000);
    if (show) process.stderr.write(d);
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    stop(child, 'SIGTERM');
    setTimeout(() => stop(child, 'SIGKILL'), 10_000).unref();
  }, timeout);
  // What is left of a group whose leader failed (dpkg under a killed mmdebstrap) goes with it.
  child.on('exit', (code) => { if (code !== 0) stop(child, 'SIGKILL'); });
  const done = new Promise((resolve, reject) => {
    child.on('error', (e) => reject(new Error(`${cmd}: ${e.message}`)));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      if (code === 0) return resolve(stdout);
      const how = timedOut ? `timed out after ${timeout / 1000} s` : signal ? `killed by ${signal}` : `exit status ${code}`;
      reject(new Error(`${cmd} ${args.join(' ')}: ${how}${stderr.trim() ? `\n${stderr.trim()}` : ''}`));
    });
  });
  return { child, done };
}
const run = async (cmd, args, opts) => start(cmd, args, opts).done;

// --- the base layer -----------------------------------------------------------------------------

/** The Date of each suite's InRelease: the mirror's state, for the cache key and SOURCE_DATE_EPOCH. */
async function mirrorDates() {
  const dates = {};
  for (const { uri, suites } of BASE.sources) {
    for (const suite of suites) {
      const url = `${uri}/dists/${suite}/InRelease`;
      const res = await fetch(url, { signal: AbortSignal.timeout(20_000) });
      if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
      const date = /^Date: (.+)$/m.exec(await res.text())?.[1];
      if (!date || Number.isNaN(Date.parse(date))) throw new Error(`${url}: no Date field`);
      dates[suite] = date;
    }
  }
  return dates;
}

function dpkgSlimConfig() {
  return [
    '# Left out as in the "slim" variant of the Debian base image (debian:bookworm-slim),',
    '# and kept out of packages installed later by this configuration.',
    ...BASE.slimExclude.map((p) => `path-exclude ${p}`),
    ...BASE.slimInclude.map((p) => `path-include ${p}`),
    '',
  ].join('\n');
}

function debianSources() {
  return BASE.sources.map(({ uri, suites }) => [
    'Types: deb', `URIs: ${uri}`, `Suites: ${suites.join(' ')}`, 'Components: main',
    'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg', '',
  ].join('\n')).join('\n');
}

/**
 * The cached base for this recipe and mirror state, built when missing. Offline (no InRelease), the
 * newest cached base of this recipe is used, with a warning.
 */
async function base(work, arch) {
  const mmdebstrap = (await run('mmdebstrap', ['--version'], { timeout: 30_000 })).trim();
  const recipe = sha256(JSON.stringify({ BASE, mmdebstrap, arch }));
  mkdirSync(CACHE, { recursive: true });
  const cached = () => readdirSync(CACHE).filter((f) => f.startsWith('base-') && f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(CACHE, f), 'utf8')))
    .filter((m) => m.recipe === recipe && existsSync(join(CACHE, m.blob)))
    .sort((a, b) => b.epoch - a.epoch);

  let dates;
  try {
    dates = await mirrorDates();
  } catch (e) {
    const why = e.cause?.message ?? e.message;
    const newest = cached()[0];
    if (!newest) throw new Error(`cannot reach the Debian mirror and no base is cached: ${why}`);
    say(`WARNING: cannot reach the Debian mirror (${why}); using the cached base, mirror as of ${Object.values(newest.dates).join(' / ')}`);
    return newest;
  }
  const key = sha256(JSON.stringify({ recipe, dates })).slice(0, 16);
  const hit = cached().find((m) => m.key === key);
  if (hit) {
    say(`base: cached (${hit.packages.length} packages, mirror as of ${Object.values(dates).join(' / ')})`);
    return hit;
  }

  const began = Date.now();
  const epoch = Math.max(...Object.values(dates).map((d) => Date.parse(d) / 1000));
  const root = join(work, 'base');
  const cfg = join(work, 'dpkg-slim.cfg');
  writeFileSync(cfg, dpkgSlimConfig());
  const args = [
    '--mode=root', `--variant=${BASE.variant}`, `--include=${BASE.include.join(',')}`,
    `--hook-dir=${BASE.hookDir}`, `--dpkgopt=${cfg}`, ...BASE.aptopt.map((o) => `--aptopt=${o}`),
    BASE.suite, root,
    ...BASE.sources.flatMap(({ uri, suites }) => suites.map((s) => `deb ${uri} ${s} main`)),
  ];
  say(`base: mmdebstrap ${BASE.suite} (${BASE.variant} + ${BASE.include.join(', ')}), mirror as of ${Object.values(dates).join(' / ')}`);
  await run('mmdebstrap', args, { timeout: 900_000, env: { ...process.env, SOURCE_DATE_EPOCH: String(epoch) }, show: true });

  await slim(root);
  for (const f of BASE.remove) rmSync(join(root, f), { force: true });
  writeFileSync(join(root, 'etc/apt/sources.list.d/debian.sources'), debianSources(), { mode: 0o644 });
  const packages = (await run('chroot', [root, 'dpkg-query', '-W', '--showformat=${Package}\t${Version}\n'], { timeout: 30_000, env: { PATH: PATH_ENV } }))
    .trim().split('\n').sort();

  const blob = `base-${key}.tar.gz`;
  const layer = await packLayer(root, readdirSync(root).sort(), { epoch, exclude: BASE.tarExclude }, join(CACHE, blob));
  const meta = { key, recipe, dates, epoch, blob, ...layer, packages };
  writeFileSync(join(CACHE, `base-${key}.json.tmp`), `${JSON.stringify(meta, null, 1)}\n`);
  renameSync(join(CACHE, `base-${key}.json.tmp`), join(CACHE, `base-${key}.json`));
  // One base is kept: the one in use.
  for (const f of readdirSync(CACHE)) {
    if (f.startsWith('base-') && !f.startsWith(`base-${key}.`)) rmSync(join(CACHE, f), { force: true });
  }
  say(`base: built in ${((Date.now() - began) / 1000).toFixed(1)} s: ${packages.length} packages, ${mib(layer.rawSize)} (${mib(layer.size)} gzip)`);
  return meta;
}

/**
 * debuerreotype-slimify's two passes, in a chroot (the alternatives' absolute symlinks must resolve
 * there, not on the host): delete what the excludes match and no include does (not directories,
 * not symlinks), then empty directories and dangling symlinks. mmdebstrap unpacks the essential
 * packages before dpkg's path-exclude is in force, so their files are here.
 */
async function slim(root) {
  const dirs = BASE.slimExclude.map((p) => dirname(p)).filter((d) => existsSync(join(root, d)));
  const keep = BASE.slimInclude.flatMap((p, i) => [...(i ? ['-o'] : []), '-path', p]);
  const find = (args) => run('chroot', [root, 'find', ...dirs, '-mindepth', '1', ...args], { timeout: 120_000, env: { PATH: PATH_ENV } });
  await find(['!', '(', ...keep, ')', '!', '-type', 'd', '!', '-type', 'l', '-delete']);
  // A dangling symlink can leave a directory empty and an empty directory can dangle a symlink.
  while ((await find(['-depth', '(', '-type', 'd', '-empty', '-o', '-xtype', 'l', ')', '-print', '-delete'])).trim()) { /* again */ }
}

// --- layers, blobs, the archive -----------------------------------------------------------------

/** Counts and hashes what passes through. */
function tap(hash, count) {
  return new Transform({ transform(chunk, _enc, cb) { hash.update(chunk); count(chunk.length); cb(null, chunk); } });
}

/**
 * `members` of `dir` as a gzip'd layer at `out`: sorted, numeric owners, mtimes clamped to `epoch`,
 * no atime/ctime, so the same tree gives the same bytes (Node's zlib writes no time or name).
 */
async function packLayer(dir, members, { epoch, exclude = [], recursive = true }, out) {
  const args = [
    '--create', '--file=-', `--directory=${dir}`, '--sort=name', '--format=pax',
    '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime',
    '--numeric-owner', '--one-file-system', `--mtime=@${epoch}`, '--clamp-mtime',
    '--anchored', ...exclude.map((e) => `--exclude=${e}`), ...(recursive ? [] : ['--no-recursion']),
    '--', ...members,
  ];
  const tar = start('tar', args, { timeout: 300_000, stream: true });
  const diff = createHash('sha256');
  const blob = createHash('sha256');
  let rawSize = 0;
  let size = 0;
  try {
    await Promise.all([
      pipeline(tar.child.stdout, tap(diff, (n) => { rawSize += n; }), createGzip(), tap(blob, (n) => { size += n; }), createWriteStream(`${out}.tmp`)),
      tar.done,
    ]);
  } catch (e) {
    stop(tar.child, 'SIGKILL');
    rmSync(`${out}.tmp`, { force: true });
    throw e;
  }
  renameSync(`${out}.tmp`, out);
  return { diffId: `sha256:${diff.digest('hex')}`, digest: `sha256:${blob.digest('hex')}`, size, rawSize };
}

/** Writes `data` as a blob of the layout; its descriptor. */
function putBlob(layout, mediaType, data) {
  const hex = sha256(data);
  writeFileSync(join(layout, 'blobs/sha256', hex), data, { mode: 0o644 });
  return { mediaType, digest: `sha256:${hex}`, size: data.length };
}

/** A file already hashed (a layer) into the layout: a hard link when it can be, else a copy. */
function linkBlob(layout, file, digest) {
  const to = join(layout, 'blobs/sha256', digest.slice('sha256:'.length));
  try { linkSync(file, to); } catch { copyFileSync(file, to); }
}

// --- the executable and the Dockerfile -------------------------------------------------------------

/**
 * dist/kube-ovn-offload, repackaged unless it already carries the current bundles (`npm run package`
 * embeds the bundle and the CLI's verbatim) and is newer than the node binary and package.sh. Repackaging gives
 * other bytes each time (V8's start-up snapshot), so reusing it keeps a second build identical.
 */
async function executable() {
  await run(process.execPath, ['scripts/build.mjs', '--sea'], { timeout: 120_000 });
  const made = existsSync(SEA) ? statSync(SEA).mtimeMs : 0;
  const fresh = made > statSync(process.execPath).mtimeMs && made > statSync(join(REPO, 'scripts/package.sh')).mtimeMs
    && [BUNDLE, CLI_BUNDLE].every((part) => readFileSync(SEA).includes(readFileSync(part)));
  if (fresh) return say('executable: dist/kube-ovn-offload holds the current bundle, reused');
  say('executable: npm run package');
  await run('bash', ['scripts/package.sh'], { timeout: 300_000, show: true });
}

/** The final stage's LABELs (with VERSION and REVISION put in) and ENTRYPOINT. */
function dockerfileFinalStage(version, revision) {
  const lines = readFileSync(DOCKERFILE, 'utf8').split('\n').filter((l) => !/^\s*#/.test(l));
  const instructions = lines.join('\n').replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter(Boolean);
  const final = instructions.slice(instructions.findLastIndex((i) => /^FROM\s/i.test(i)));
  const labels = {};
  for (const i of final.filter((i) => /^LABEL\s/i.test(i))) {
    for (const [, k, v] of i.matchAll(/([\w.-]+)="([^"]*)"/g)) {
      labels[k] = v.replaceAll('${VERSION}', version).replaceAll('${REVISION}', revision);
    }
  }
  // The image is not built on that image, so it does not say it is.
  delete labels['org.opencontainers.image.base.name'];
  const entrypoint = final.filter((i) => /^ENTRYPOINT\s/i.test(i)).map((i) => JSON.parse(i.replace(/^ENTRYPOINT\s+/i, ''))).at(-1);
  if (!labels['org.opencontainers.image.version'] || !entrypoint) throw new Error(`${DOCKERFILE}: no LABEL or ENTRYPOINT in the final stage`);
  return { labels, entrypoint };
}

// --- the build ------------------------------------------------------------------------------------

/** Unmounts whatever is left mounted under `dir` (a killed mmdebstrap's /proc, /sys, /dev), then removes it. */
async function removeTree(dir) {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4])
    .filter((m) => m && (m === dir || m.startsWith(`${dir}/`))).sort().reverse();
  for (const m of mounts) await run('umount', ['--lazy', m], { timeout: 30_000, cleanup: true });
  // --one-file-system: never into a mount that would not go. Again once, should a process of a
  // killed group still have been writing.
  const rm = () => run('rm', ['-rf', '--one-file-system', dir], { timeout: 120_000, cleanup: true });
  await rm().catch(() => new Promise((r) => setTimeout(r, 2000)).then(rm));
}

async function main() {
  if (process.getuid?.() !== 0) throw new Error('needs root: mmdebstrap --mode=root and chroot');
  const began = Date.now();
  const { version } = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8'));
  const ref = `localhost/kube-ovn-offload:${version}`;
  const revision = (await run('git', ['rev-parse', 'HEAD'], { timeout: 10_000 }).catch(() => 'unknown')).trim();
  const arch = { amd64: 'amd64', arm64: 'arm64' }[(await run('dpkg', ['--print-architecture'], { timeout: 10_000 })).trim()];
  if (!arch) throw new Error('only amd64 and arm64 hosts are supported');
  const { labels, entrypoint } = dockerfileFinalStage(version, revision);

  mkdirSync(CACHE, { recursive: true });
  const work = mkdtempSync(join(CACHE, 'work-'));
  // Open to apt's _apt user, so that mmdebstrap's downloads run in apt's sandbox, not as root.
  chmodSync(work, 0o755);
  try {
    await executable();
    const b = await base(work, arch);

    // Both layers in one tree, as the container will see them, for the version check.
    const root = join(work, 'rootfs');
    mkdirSync(root);
    await run('tar', ['--extract', '--gzip', '--numeric-owner', '--preserve-permissions', `--file=${join(CACHE, b.blob)}`, `--directory=${root}`], { timeout: 300_000 });
    const bin = join(root, 'usr/local/bin');
    copyFileSync(SEA, join(bin, 'kube-ovn-offload'));
    copyFileSync(INSTALLER, join(bin, 'install-cni.sh'));
    await run('chmod', ['0755', join(bin, 'kube-ovn-offload'), join(bin, 'install-cni.sh')], { timeout: 10_000 });
    const printed = (await run('chroot', [root, '/usr/local/bin/kube-ovn-offload', 'version'], { timeout: 30_000, env: { PATH: PATH_ENV } })).trim();
    if (printed !== `kube-ovn-offload ${version}`) throw new Error(`kube-ovn-offload version in the image printed '${printed}', not 'kube-ovn-offload ${version}'`);
    say(`check: chroot … kube-ovn-offload version → ${printed}`);

    // The commit's time (or SOURCE_DATE_EPOCH), not the base's older: a rebuild of the same commit
    // gives the same bytes.
    const gitTime = Number((await run('git', ['log', '-1', '--format=%ct'], { timeout: 10_000 }).catch(() => '')).trim());
    const epoch = Math.max(Number(process.env.SOURCE_DATE_EPOCH || gitTime || 0), b.epoch);
    const created = new Date(epoch * 1000).toISOString().replace('.000Z', 'Z');
    const appBlob = join(work, 'app.tar.gz');
    const app = await packLayer(root, ['usr', 'usr/local', 'usr/local/bin', 'usr/local/bin/install-cni.sh', 'usr/local/bin/kube-ovn-offload'], { epoch, recursive: false }, appBlob);

    const layout = join(work, 'oci');
    mkdirSync(join(layout, 'blobs/sha256'), { recursive: true });
    linkBlob(layout, join(CACHE, b.blob), b.digest);
    linkBlob(layout, appBlob, app.digest);
    const config = putBlob(layout, MEDIA.config, Buffer.from(JSON.stringify({
      created,
      architecture: arch,
      os: 'linux',
      config: { Env: [`PATH=${PATH_ENV}`], Entrypoint: entrypoint, Labels: labels },
      rootfs: { type: 'layers', diff_ids: [b.diffId, app.diffId] },
      history: [
        { created: new Date(b.epoch * 1000).toISOString().replace('.000Z', 'Z'), created_by: `mmdebstrap --variant=${BASE.variant} --include=${BASE.include.join(',')} ${BASE.suite}`, comment: 'debian:bookworm-slim content (slimmed as debuerreotype does) with iproute2 and ethtool' },
        { created, created_by: 'scripts/image.mjs: /usr/local/bin/kube-ovn-offload, /usr/local/bin/install-cni.sh (0755)' },
      ],
    })));
    const manifest = putBlob(layout, MEDIA.manifest, Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.manifest,
      config,
      layers: [b, app].map((l) => ({ mediaType: MEDIA.layer, digest: l.digest, size: l.size })),
    })));
    writeFileSync(join(layout, 'index.json'), JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.index,
      manifests: [{ ...manifest, platform: { architecture: arch, os: 'linux' }, annotations: { 'io.containerd.image.name': ref, 'org.opencontainers.image.ref.name': version } }],
    }));
    writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));

    mkdirSync(OUT, { recursive: true });
    await run('tar', [
      '--create', `--file=${ARCHIVE}.tmp`, `--directory=${layout}`, '--sort=name', '--format=pax',
      '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime',
      `--mtime=@${epoch}`, '--owner=0', '--group=0', '--numeric-owner', '--mode=u=rwX,go=rX',
      'blobs', 'index.json', 'oci-layout',
    ], { timeout: 300_000 });
    renameSync(`${ARCHIVE}.tmp`, ARCHIVE);
    say(`${ref} → ${ARCHIVE.slice(REPO.length)} (${mib(statSync(ARCHIVE).size)}; layers ${mib(b.size)} + ${mib(app.size)} gzip, ${mib(b.rawSize + app.rawSize)} unpacked)`);
    say(`manifest ${manifest.digest}, built in ${((Date.now() - began) / 1000).toFixed(1)} s`);
  } finally {
    rmSync(`${ARCHIVE}.tmp`, { force: true });
    // A failed cleanup is reported, and does not hide why the build failed.
    await removeTree(work).catch((e) => {
      say(`${work} not removed: ${e.message}`);
      process.exitCode = 1;
    });
  }
}

main().catch((e) => {
  say(`failed: ${e.message}`);
  process.exitCode = interrupted === 'SIGINT' ? 130 : interrupted === 'SIGTERM' ? 143 : 1;
});
