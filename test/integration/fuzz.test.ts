/**
 * Property-based fuzzing of the built plugin (docs/plugin.md#the-executable, docs/errors.md#error-codes): bad stdin (arbitrary bytes,
 * arbitrary JSON, mutations of a valid config), bad CNI_* environments and bad state on disk,
 * run as the runtime runs it. Whatever comes in, stdout holds one JSON document or nothing,
 * a failure is a CNI error with exit status 1, and nothing outside the node's sysfs root, the
 * state dir and the config's log_file is written (checked with strace).
 *
 * Seeded: FUZZ_SEED=<n> replays another seed, FUZZ_RUNS=<n> scales the number of runs.
 * fast-check prints the seed, the path and the shrunk counterexample on failure.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { LIVE_NETNS, useWorld, VF0, PF, type World } from '../support/harness.js';
import {
  asTracePath, contractBreaches, forbiddenWrites, readTrace, runRaw, tempDir, type Allowed, type RawOutcome,
} from '../support/fuzz-support.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20_261_123);
const SCALE = Number(process.env.FUZZ_RUNS ?? 1);
const PLAIN_RUNS = Math.round(150 * SCALE);
const TRACED_RUNS = Math.round(40 * SCALE);

const VALID_CID = '5b45c61b307e0a9f8c7d6e5f4a3b2c1d';
const VALID_ARGS = 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=nginx;K8S_POD_INFRA_CONTAINER_ID=5b45c61b307e';
const CNI_VARS = ['CNI_COMMAND', 'CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_ARGS', 'CNI_PATH'] as const;
type CniVar = (typeof CNI_VARS)[number];

/** One fuzz case: what is on stdin, the CNI_* variables (absent = unset), and what is on disk. */
interface Case {
  stdin: { json: unknown } | { text: string } | { bytes: Uint8Array };
  cni: Partial<Record<CniVar, string>>;
  /** ./devinfo.json in the cwd (runtimeConfig.CNIDeviceInfoFile may name it). */
  devinfo?: string;
  /** <state_dir>/vf/<VF0>.json before the run: its text, or something that is not a file. */
  stateFile?: string | Odd;
  /** <state_dir>/lock/<VF0>.lock before the run. */
  lockFile?: string | Odd;
}

/** What a broken node or a hand leaves at a path where the plugin expects its own file. */
type Odd = { odd: 'fifo' | 'dir' | 'symlink' };
const odd = fc.constantFrom<Odd>({ odd: 'fifo' }, { odd: 'dir' }, { odd: 'symlink' });

/** Stands for the run's cwd in generated paths: runCase puts the real one in (paths must be absolute). */
const CWD = '@cwd@';

/**
 * Paths for log_file and the device-info file: outside the allowed folders, relative, with
 * NUL or "..", fd 1 under its names, and odd files the run makes in its cwd (a FIFO, a
 * folder, a symlink to fd 1). None is a real folder the plugin may write to.
 */
const oddPath = fc.constantFrom(
  '/etc/shadow', `${CWD}/../escaped.log`, `/var/log/../..${CWD}/../escaped.log`, '/dev/stdout', '/proc/self/fd/1', '/dev/fd/1', '/dev/null',
  'relative.log', './x', '', '/', '/var/log/', 'x\u0000y', `${CWD}/fifo`, `${CWD}/dir`, `${CWD}/stdout-link`, `${CWD}/devinfo.json`,
  `${CWD}/big.json`, `${CWD}/../${'a'.repeat(300)}`, `${CWD}/${'b/'.repeat(200)}x`,
);

// --- generators ----------------------------------------------------------------------------

/** Environment values: anything but NUL, which an environment cannot carry. */
const envString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 64 }),
  fc.string({ unit: 'grapheme-ascii', maxLength: 300 }),
  fc.string({ unit: 'binary', minLength: 1000, maxLength: 5000 }),
).filter((s) => !s.includes('\0'));

const cniArgs = fc.oneof(
  fc.constant(VALID_ARGS),
  envString,
  fc.array(
    fc.tuple(fc.oneof(fc.constantFrom('K8S_POD_NAME', 'K8S_POD_NAMESPACE', 'IgnoreUnknown', 'K8S_POD_INFRA_CONTAINER_ID', ''), envString), fc.oneof(fc.constantFrom('nginx', 'default', '', '=', ';'), envString)),
    { maxLength: 5 },
  ).map((pairs) => pairs.map(([k, v]) => `${k}=${v}`).join(';')).filter((s) => !s.includes('\0')),
);

/** ADD and DEL do the most, so they come up most. */
const command = fc.oneof({ weight: 4, arbitrary: fc.constant('ADD') }, { weight: 2, arbitrary: fc.constant('DEL') }, fc.constantFrom('CHECK', 'STATUS', 'GC', 'VERSION'));

const VALID_ENV = { CNI_CONTAINERID: VALID_CID, CNI_NETNS: LIVE_NETNS, CNI_IFNAME: 'eth0', CNI_ARGS: VALID_ARGS, CNI_PATH: '/opt/cni/bin' };

/** A bad value for each variable, or `undefined` for unset. */
const badValue: Record<CniVar, fc.Arbitrary<string | undefined>> = {
  CNI_COMMAND: fc.oneof(envString, fc.constantFrom('add', 'Del', ' ADD', 'ADD\n', 'VERSION ', undefined)),
  CNI_CONTAINERID: fc.oneof(fc.constantFrom('abc', '-x', '.', '5b45c61b307e/../..', undefined), fc.stringMatching(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,80}$/), envString),
  CNI_NETNS: fc.oneof(fc.constantFrom('/', '/proc/self/ns/net', '../../etc', '/dev/null', '', undefined), envString),
  CNI_IFNAME: fc.oneof(fc.constantFrom('net1', '..', '.', 'a'.repeat(16), 'eth0/../x', 'é'.repeat(8), undefined), envString),
  CNI_ARGS: fc.oneof(cniArgs, fc.constant(undefined)),
  CNI_PATH: fc.oneof(envString, fc.constant(undefined)),
};

const defined = (env: Partial<Record<CniVar, string | undefined>>): Case['cni'] =>
  Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined)) as Case['cni'];

/**
 * CNI_* variables: mostly all valid, or all valid but one (so runs get past the environment check
 * and reach the config, the node and the daemon), otherwise each one valid, bad or unset.
 */
const cniEnv: fc.Arbitrary<Case['cni']> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({ command: command, bad: fc.oneof({ weight: 2, arbitrary: fc.constant(undefined) }, fc.constantFrom(...CNI_VARS)) })
      .chain(({ command, bad }) => (bad ? badValue[bad] : fc.constant(undefined)).map((v) => defined({ CNI_COMMAND: command, ...VALID_ENV, ...(bad ? { [bad]: v } : {}) }))),
  },
  fc.record(Object.fromEntries(CNI_VARS.map((k) => [k, fc.oneof(
    { weight: 2, arbitrary: fc.constant(k === 'CNI_COMMAND' ? 'ADD' : VALID_ENV[k]) },
    ...(k === 'CNI_COMMAND' ? [{ weight: 3, arbitrary: command }] : []),
    { weight: 1, arbitrary: badValue[k] },
  )])) as Record<CniVar, fc.Arbitrary<string | undefined>>).map(defined),
);

/** deviceID values that must be refused before any path is built from them, and near misses. */
const nastyDeviceId = fc.oneof(
  fc.constantFrom(
    '../../etc', '0000:42:00.2/../..', '0000:42:00.2/../../../../../etc/passwd', '../../../../../../etc/shadow',
    '0000:42:00.2\n', ' 0000:42:00.2', '0000:42:00.2 ', '0000:42:00.2\u0000', '0000:42:00.2/', '0000:42:00.2/net',
    '0000:42:00.9', '0000:42:00.3', '0000:42:00.7', PF, '0000:40:02.0', 'FFFF:FF:FF.7', '0000:4A:00.2', VF0.toUpperCase(),
    '/', '.', '..', '', '*', '0000:42:00.*', '%2e%2e%2f', '０００００:４２:００.２', '0000:42:00.2\u200b', 'ǅ', '\ud83d\ude00',
    'rdma_shared_a', '0000:42:00.2'.repeat(400), '0'.repeat(70_000),
  ),
  fc.tuple(fc.stringMatching(/^[0-9a-fA-F]{4}$/), fc.stringMatching(/^[0-9a-fA-F]{2}$/), fc.stringMatching(/^[0-9a-fA-F]{2}$/), fc.integer({ min: 0, max: 9 }))
    .map(([d, b, s, f]) => `${d}:${b}:${s}.${f}`),
  fc.string({ unit: 'binary', maxLength: 100 }),
);

/**
 * Server and OVSDB socket paths: the test's own files and folders, missing ones, too long
 * ones, and '' or digit strings, which net.connect(string) takes for TCP ports (only '0' and
 * out-of-range ones, so that nothing on this host is ever connected to).
 */
const socketPath = (w: World) => fc.oneof(
  fc.constantFrom('', '0', ' ', '/', '.', 'x.sock', w.logFile, w.node.root, join(w.node.root, 'a'.repeat(200) + '.sock'), join(w.node.root, 'missing.sock')),
  fc.integer({ min: 65_536, max: 2 ** 40 }).map(String),
  fc.string({ unit: 'grapheme-ascii', maxLength: 40 }).map((s) => `./${s.replace(/[/.]/g, '_')}`),
);

/** A key path in the config and a value for it. */
type Mutation = { drop: string } | { set: string; value: unknown };

function mutation(w: World, prev: Record<string, unknown>): fc.Arbitrary<Mutation> {
  const droppable = [
    'cniVersion', 'name', 'type', 'provider', 'deviceID', 'pciBusID', 'log_file', 'log_level', 'daemon_timeout_s', 'tool_timeout_s',
    'lock_timeout_s', 'offload', 'runtimeConfig', 'routes', 'dns', 'ipam', 'vf_driver',
    // not server_socket / ovsdb_socket: their defaults are the node's real sockets.
  ];
  const anyKey = fc.constantFrom(
    'cniVersion', 'name', 'type', 'server_socket', 'provider', 'routes', 'dns', 'vf_driver', 'deviceID', 'pciBusID', 'ipam',
    'vhost_user_socket_volume_name', 'vhost_user_socket_name', 'vhost_user_socket_consumption', 'offload', 'ovsdb_socket',
    'daemon_timeout_s', 'tool_timeout_s', 'lock_timeout_s', 'log_file', 'log_level', 'state_dir', 'runtimeConfig', 'prevResult',
    'offload.enforce', 'offload.allow_bond', 'offload.check_ovs', 'offload.future_key', 'ipam.server_socket', 'ipam.provider',
    'ipam.routes', 'ipam.type', 'dns.nameservers', 'dns.search', 'routes.0', 'routes.0.dst', 'runtimeConfig.deviceID',
    'runtimeConfig.CNIDeviceInfoFile', 'cni.dev/valid-attachments', 'cni.dev/attachments', 'prevResult.interfaces',
    'prevResult.ips', 'prevResult.interfaces.0.sandbox', 'prevResult.interfaces.0.name', 'prevResult.cniVersion', '__proto__', 'constructor',
  );
  const timeout = fc.oneof(fc.constantFrom(0, -1, 1e-9, 0.001, 2_147_483, 2_147_484, 1e308, Number.MAX_SAFE_INTEGER), fc.double({ noNaN: false }), fc.jsonValue());
  return fc.oneof(
    { weight: 2, arbitrary: fc.constantFrom(...droppable).map((k) => ({ drop: k })) },
    { weight: 4, arbitrary: fc.record({ set: anyKey, value: fc.jsonValue({ maxDepth: 3 }) }) },
    { weight: 5, arbitrary: fc.record({ set: fc.constantFrom('deviceID', 'pciBusID', 'runtimeConfig.deviceID'), value: nastyDeviceId }) },
    { weight: 1, arbitrary: fc.record({ set: fc.constantFrom('runtimeConfig.CNIDeviceInfoFile'), value: fc.constantFrom(`${CWD}/devinfo.json`, './devinfo.json', '/', '/proc/self/status', '../../../etc/passwd', '', `${CWD}/missing.json`) }) },
    { weight: 2, arbitrary: fc.record({ set: fc.constantFrom('log_file', 'runtimeConfig.CNIDeviceInfoFile', 'state_dir'), value: oddPath }) },
    { weight: 6, arbitrary: fc.record({ set: fc.constantFrom('server_socket', 'ipam.server_socket', 'ovsdb_socket', 'ovsdb_socket'), value: socketPath(w) }) },
    { weight: 1, arbitrary: fc.record({ set: fc.constantFrom('daemon_timeout_s', 'tool_timeout_s', 'lock_timeout_s'), value: timeout }) },
    { weight: 1, arbitrary: fc.record({ set: fc.constant('cniVersion'), value: fc.constantFrom('0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0', '1.2.0', '', '1', '1.1', '01.1.0', 'latest') }) },
    { weight: 1, arbitrary: fc.record({ set: fc.constant('prevResult'), value: prevResultMutation(prev) }) },
    { weight: 1, arbitrary: fc.record({ set: fc.constantFrom('cni.dev/valid-attachments', 'cni.dev/attachments'), value: validAttachments }) },
  );
}

const validAttachments = fc.array(
  fc.record({ containerID: fc.oneof(fc.constant(VALID_CID), fc.string()), ifname: fc.oneof(fc.constant('eth0'), fc.string()) }),
  { maxLength: 3 },
);

/** The result of a real ADD with one part replaced. */
function prevResultMutation(prev: Record<string, unknown>): fc.Arbitrary<unknown> {
  return fc.oneof(
    fc.constant(prev),
    fc.record({ key: fc.constantFrom('cniVersion', 'interfaces', 'ips', 'routes', 'dns', 'warnings'), value: fc.jsonValue({ maxDepth: 3 }) })
      .map(({ key, value }) => ({ ...prev, [key]: value })),
  );
}

function setPath(doc: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.startsWith('cni.dev/') ? [path] : path.split('.');
  let obj: Record<string, unknown> = doc;
  for (const k of keys.slice(0, -1)) {
    const next = obj[k];
    if (typeof next !== 'object' || next === null) obj[k] = Array.isArray(next) ? [...next] : {};
    else obj[k] = Array.isArray(next) ? [...next] : { ...next };
    obj = obj[k] as Record<string, unknown>;
  }
  // defineProperty, so that "__proto__" becomes an own key that JSON.stringify prints.
  Object.defineProperty(obj, keys.at(-1)!, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * The config's log_file is written to by contract, so the generators keep it inside the
 * run's cwd: a string becomes <cwd>/logs/<its safe characters>, unless it is one of the odd
 * paths, which the plugin must refuse or fall back from. Other JSON types pass (and are refused).
 */
const ODD_PATHS = new Set<string>(fc.sample(oddPath, 2000));
function containLogFile(doc: unknown, base: Record<string, unknown>): unknown {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return doc;
  const d = doc as Record<string, unknown>;
  if (typeof d.log_file !== 'string' || d.log_file === base.log_file || ODD_PATHS.has(d.log_file)) return doc;
  const safe = d.log_file.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 60);
  return { ...d, log_file: safe ? `${CWD}/logs/${safe}.log` : '' };
}

function mutatedConf(w: World, base: Record<string, unknown>, prev: Record<string, unknown>): fc.Arbitrary<unknown> {
  const muts = fc.oneof({ weight: 1, arbitrary: fc.constant([]) }, { weight: 2, arbitrary: fc.array(mutation(w, prev), { minLength: 1, maxLength: 3 }) });
  // With the last ADD's result as prevResult half the time: CHECK needs it, a chained ADD has one.
  return fc.tuple(fc.boolean(), muts).map(([withPrev, muts]) => {
    const doc: Record<string, unknown> = structuredClone(withPrev ? { ...base, prevResult: prev } : base);
    for (const m of muts) {
      if ('drop' in m) delete doc[m.drop];
      else setPath(doc, m.set, m.value);
    }
    return containLogFile(doc, base);
  });
}

function stdinArb(w: World, base: Record<string, unknown>, prev: Record<string, unknown>): fc.Arbitrary<Case['stdin']> {
  // Without log_file: a changed byte in its path would have the plugin log somewhere outside the test's folders.
  const baseText = JSON.stringify({ ...base, log_file: undefined });
  return fc.oneof(
    { weight: 14, arbitrary: mutatedConf(w, base, prev).map((json) => ({ json })) },
    { weight: 2, arbitrary: fc.jsonValue().map((json) => ({ json: containLogFile(json, base) })) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 512 }).map((bytes) => ({ bytes })) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }).map((text) => ({ text })) },
    // Valid JSON cut short, or with one byte changed: the decoder's edge cases.
    { weight: 1, arbitrary: fc.nat({ max: baseText.length }).map((n) => ({ text: baseText.slice(0, n) })) },
    {
      weight: 1,
      arbitrary: fc.tuple(fc.nat({ max: baseText.length - 1 }), fc.integer({ min: 0, max: 255 }))
        .map(([i, b]) => {
          const bytes = Buffer.from(baseText);
          bytes[i] = b;
          return { bytes: new Uint8Array(bytes) };
        }),
    },
    { weight: 1, arbitrary: fc.constantFrom({ text: '' }, { text: '\ufeff' + baseText }, { text: baseText + baseText }, { text: `${baseText}\n{}` }, { text: 'null' }, { text: '[]' }) },
    // Nesting: deep arrays or objects under a key, deeper than anything recursive survives.
    {
      weight: 1,
      arbitrary: fc.record({ key: fc.constantFrom('prevResult', 'x-vendor', 'dns', 'runtimeConfig', 'offload', 'ipam', 'routes'), depth: fc.integer({ min: 50, max: 20_000 }), objects: fc.boolean() })
        .map(({ key, depth, objects }) => ({ text: `${baseText.slice(0, -1)},"${key}":${(objects ? '{"a":' : '[').repeat(depth)}${objects ? '1' : ''}${(objects ? '}' : ']').repeat(depth)}}` })),
    },
    // Sizes: around the 1 MiB stdin limit, and far past it.
    {
      weight: 1,
      arbitrary: fc.oneof(fc.integer({ min: (1 << 20) - 4096, max: (1 << 20) + 4096 }), fc.integer({ min: 1 << 20, max: 4 << 20 }))
        .map((n) => ({ text: `${baseText.slice(0, -1)},"pad":"${'x'.repeat(Math.max(0, n - baseText.length - 9))}"}` })),
    },
  );
}

/** `arb` once in `1 + absentWeight` cases, else undefined (shrinks towards undefined). */
function sometimes<T>(arb: fc.Arbitrary<T>, absentWeight: number): fc.Arbitrary<T | undefined> {
  return fc.oneof({ weight: absentWeight, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });
}

function caseArb(w: World, base: Record<string, unknown>, prev: Record<string, unknown>, state: string): fc.Arbitrary<Case> {
  const devinfo = fc.oneof(
    fc.constant(JSON.stringify({ type: 'pci', version: '1.1.0', pci: { 'pci-address': VF0 } })),
    nastyDeviceId.map((a) => JSON.stringify({ type: 'pci', version: '1.1.0', pci: { 'pci-address': a } })),
    fc.jsonValue().map((v) => JSON.stringify(v)),
    fc.string({ maxLength: 50 }),
    fc.integer({ min: 60_000, max: 200_000 }).map((n) => JSON.stringify({ type: 'pci', pad: 'x'.repeat(n), pci: { 'pci-address': VF0 } })),
  );
  const stateFile = fc.oneof(
    { weight: 2, arbitrary: fc.constant(state) },
    { weight: 1, arbitrary: fc.record({ key: fc.constantFrom('containerId', 'ifname', 'netns', 'deviceID', 'pf', 'vfIndex', 'representor', 'result', 'version', 'network'), value: fc.jsonValue({ maxDepth: 2 }) })
      .map(({ key, value }) => JSON.stringify({ ...(JSON.parse(state) as object), [key]: value })) },
    { weight: 1, arbitrary: fc.oneof(fc.jsonValue().map((v) => JSON.stringify(v)), fc.string({ maxLength: 50 })) },
    { weight: 1, arbitrary: odd },
  );
  const lockFile = fc.oneof(
    { weight: 2, arbitrary: fc.constant(JSON.stringify({ pid: 999_999_999, start: '1' })) }, // a dead owner: broken
    fc.jsonValue().map((v) => JSON.stringify(v)),
    fc.string({ maxLength: 30 }),
    odd,
  );
  return fc.record(
    {
      stdin: stdinArb(w, base, prev),
      cni: cniEnv,
      devinfo: sometimes(devinfo, 2),
      stateFile: sometimes(stateFile, 3),
      lockFile: sometimes(lockFile, 9),
    },
    { requiredKeys: ['stdin', 'cni'] },
  );
}

// --- running a case --------------------------------------------------------------------------

/**
 * What Node itself opens for writing, not at the plugin's request. Found empirically with
 * strace (node v20, Debian 12): with the three standard streams on pipes, as execa and every
 * CNI runtime give them, Node opens nothing for writing at start-up or exit, and neither do
 * the fake tools (node scripts) nor iproute2's `ip`; its pipes are fds, never paths. Two
 * things Node does open in other set-ups, and how they are treated here:
 * - /dev/null, O_RDWR: Node's start-up (PlatformInit) fills a closed fd 0, 1 or 2 with it, so a
 *   runtime that execs the plugin with a standard stream closed sees this. Allowed: it is Node's,
 *   and nothing written to /dev/null lands anywhere.
 * - /dev/pts/<n>, O_RDWR: libuv re-opens a terminal on stdin/stdout/stderr. Not allowed: the
 *   plugin never runs on a terminal here, so such an open would be someone else's doing.
 * Everything under /proc/self is opened read-only, so it needs no allowance.
 */
const NODE_OPENS: Allowed['nodeOpens'] = [
  { path: '/dev/null', why: "Node's start-up fills a closed standard fd with /dev/null (O_RDWR); writes vanish" },
];

interface Ran {
  out: RawOutcome;
  /** Write operations outside what is allowed (only for traced runs). */
  forbidden: string[];
}

async function runCase(w: World, c: Case, traced: boolean): Promise<Ran> {
  // Each case on its own state dir, so on a node whose pods are gone: an earlier case's VF
  // left in the (shared, live) pod netns comes back, as when a runtime destroys that netns.
  w.node.netnsDestroyed(LIVE_NETNS);
  const sandbox = tempDir('kovo-fuzz-');
  try {
    const cwd = join(sandbox.path, 'cwd');
    const stateDir = join(sandbox.path, 'state');
    const traceDir = join(sandbox.path, 'trace');
    for (const d of [cwd, traceDir]) mkdirSync(d);
    // The odd files oddPath names: a FIFO, a folder, fd 1 behind a symlink, a device-info file past its limit.
    execFileSync('mkfifo', [join(cwd, 'fifo')], { timeout: 5_000 });
    mkdirSync(join(cwd, 'dir'));
    symlinkSync('/proc/self/fd/1', join(cwd, 'stdout-link'));
    writeFileSync(join(cwd, 'big.json'), JSON.stringify({ type: 'pci', pad: 'x'.repeat(100_000), pci: { 'pci-address': VF0 } }));
    if (c.devinfo !== undefined) writeFileSync(join(cwd, 'devinfo.json'), c.devinfo);
    if (c.stateFile !== undefined) place(join(stateDir, 'vf', `${VF0}.json`), c.stateFile);
    if (c.lockFile !== undefined) place(join(stateDir, 'lock', `${VF0}.lock`), c.lockFile);
    const stdin = 'json' in c.stdin ? Buffer.from((JSON.stringify(c.stdin.json) ?? '').replaceAll(CWD, cwd)) : 'text' in c.stdin ? Buffer.from(c.stdin.text) : Buffer.from(c.stdin.bytes);
    // Config paths may be in the run's cwd and the node's folder (the base config's log), no
    // further: one that leaves them is refused, and a regression writes into the sandbox.
    const env: Record<string, string> = { ...w.node.env(), KUBE_OVN_OFFLOAD_PATH_ROOTS: `${cwd}:${w.node.root}`, KUBE_OVN_OFFLOAD_STATE_DIR: stateDir, ...c.cni } as Record<string, string>;
    const trace = traced ? join(traceDir, 't') : undefined;
    const out = await runRaw({ stdin, env, cwd, trace, timeoutMs: 20_000 });
    if (!trace) return { out, forbidden: [] };

    const allowed: Allowed = { trees: [w.node.root, stateDir].map((p) => asTracePath('/', p)), nodeOpens: NODE_OPENS };
    const logFile = logFileOf(stdin);
    if (logFile) allowed.logFile = asTracePath(cwd, logFile);
    const traceCwd = asTracePath('/', cwd);
    const ops = readTrace(trace, traceCwd);
    if (ops.length === 0) throw new Error('strace recorded nothing: is ptrace allowed here?');
    return { out, forbidden: forbiddenWrites(ops, allowed, traceCwd).map((op) => `pid ${op.pid}: ${op.line}`) };
  } finally {
    sandbox.remove();
  }
}

/** Puts a file's text, or an odd thing, at `path`. */
function place(path: string, what: string | Odd): void {
  mkdirSync(dirname(path), { recursive: true });
  if (typeof what === 'string') return writeFileSync(path, what);
  if (what.odd === 'fifo') return void execFileSync('mkfifo', [path], { timeout: 5_000 });
  if (what.odd === 'dir') return void mkdirSync(join(path, 'inside'), { recursive: true });
  symlinkSync('/proc/self/fd/1', path);
}

/** The config's log_file, as the plugin would read it from these stdin bytes. */
function logFileOf(stdin: Buffer): string | undefined {
  try {
    const doc = JSON.parse(stdin.toString('utf8')) as { log_file?: unknown };
    return typeof doc?.log_file === 'string' && doc.log_file ? doc.log_file : undefined;
  } catch {
    return undefined;
  }
}

function describeRun(c: Case, r: Ran, breaches: string[]): string {
  return [
    ...breaches.map((b) => `- ${b}`),
    `exit=${r.out.exitCode} signal=${r.out.signal ?? '-'} cni=${JSON.stringify(c.cni).slice(0, 300)}`,
    `stdout: ${JSON.stringify(r.out.stdout.slice(0, 600))}`,
    `stderr: ${JSON.stringify(r.out.stderr.slice(0, 600))}`,
  ].join('\n');
}

/** The base config (the harness' valid one, with short deadlines) and a real ADD's result. */
async function fixtures(w: World): Promise<{ base: Record<string, unknown>; prev: Record<string, unknown>; state: string }> {
  const base = w.conf({ daemon_timeout_s: 2, tool_timeout_s: 2, lock_timeout_s: 0.5, ovsdb_socket: join(w.node.root, 'db.sock'), log_level: 'debug' });
  const sandbox = tempDir('kovo-fuzz-seed-');
  try {
    const env = { ...w.node.env(), KUBE_OVN_OFFLOAD_STATE_DIR: sandbox.path, CNI_COMMAND: 'ADD', CNI_CONTAINERID: VALID_CID, CNI_NETNS: LIVE_NETNS, CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin', CNI_ARGS: VALID_ARGS };
    const out = await runRaw({ stdin: Buffer.from(JSON.stringify(base)), env, cwd: sandbox.path });
    expect(out.exitCode, out.stdout + out.stderr).toBe(0);
    const prev = JSON.parse(out.stdout) as Record<string, unknown>;
    const state = readFileSync(join(sandbox.path, 'vf', `${VF0}.json`), 'utf8');
    return { base, prev, state };
  } finally {
    sandbox.remove();
  }
}

// --- the properties --------------------------------------------------------------------------

describe('fuzz: bad input to the built plugin', () => {
  const world = useWorld();

  it(`answers with one JSON document or nothing, a CNI error with exit status 1 on failure, never a crash (${PLAIN_RUNS} runs)`, async () => {
    const w = world();
    const { base, prev, state } = await fixtures(w);
    const outcomes = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(caseArb(w, base, prev, state), async (c) => {
        const r = await runCase(w, c, false);
        const breaches = contractBreaches(r.out);
        if (breaches.length > 0) throw new Error(describeRun(c, r, breaches));
        const key = r.out.exitCode === 0 ? `${c.cni.CNI_COMMAND ?? 'cli'} ok` : `code ${(JSON.parse(r.out.stdout) as { code: number }).code}`;
        outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      }),
      { seed: SEED, numRuns: PLAIN_RUNS },
    );
    // The generators must get past the first checks, or the runs above prove little.
    const seen = [...outcomes].map(([k, n]) => `${k}: ${n}`).join(', ');
    expect(outcomes.get('ADD ok') ?? 0, seen).toBeGreaterThanOrEqual(PLAIN_RUNS / 20);
    expect(outcomes.get('DEL ok') ?? 0, seen).toBeGreaterThanOrEqual(PLAIN_RUNS / 40);
    expect([...outcomes.keys()].filter((k) => k.startsWith('code ')).length, seen).toBeGreaterThanOrEqual(6);
  }, 240_000);

  it(`writes nowhere but the sysfs root, the state dir and its log_file, under strace (${TRACED_RUNS} runs)`, async () => {
    const w = world();
    const { base, prev, state } = await fixtures(w);
    await fc.assert(
      fc.asyncProperty(caseArb(w, base, prev, state), async (c) => {
        const r = await runCase(w, c, true);
        const breaches = [...contractBreaches(r.out), ...r.forbidden.map((f) => `write outside the allowed paths: ${f}`)];
        if (breaches.length > 0) throw new Error(describeRun(c, r, breaches));
      }),
      { seed: SEED + 1, numRuns: TRACED_RUNS },
    );
  }, 240_000);

  it('the strace check sees the plugin write its log_file, and refuses it where log_file is not allowed', async () => {
    const w = world();
    const sandbox = tempDir('kovo-fuzz-control-');
    try {
      const cwd = join(sandbox.path, 'cwd');
      const stateDir = join(sandbox.path, 'state');
      mkdirSync(cwd);
      const trace = join(sandbox.path, 't');
      const conf = w.conf({ log_file: join(cwd, 'outside.log'), ovsdb_socket: join(w.node.root, 'db.sock'), tool_timeout_s: 2, daemon_timeout_s: 2 });
      const env = { ...w.node.env(), KUBE_OVN_OFFLOAD_STATE_DIR: stateDir, ...VALID_ENV, CNI_COMMAND: 'ADD' };
      const out = await runRaw({ stdin: Buffer.from(JSON.stringify(conf)), env, cwd, trace });
      expect(out.exitCode, out.stdout + out.stderr).toBe(0);
      const ops = readTrace(trace, cwd);
      // Paths are decoded: the plugin's own bundle is among the files it read.
      expect(ops.some((op) => !op.writes && op.paths[0]!.endsWith('/dist/kube-ovn-offload.mjs'))).toBe(true);
      const trees = [w.node.root, stateDir];
      const refused = forbiddenWrites(ops, { trees, nodeOpens: NODE_OPENS }, cwd);
      expect(refused.map((op) => op.paths[0])).toContain(join(cwd, 'outside.log'));
      expect(refused.every((op) => op.paths[0] === join(cwd, 'outside.log') || op.paths[0] === cwd), refused.map((op) => op.line).join('\n')).toBe(true);
      expect(forbiddenWrites(ops, { trees, nodeOpens: NODE_OPENS, logFile: join(cwd, 'outside.log') }, cwd)).toEqual([]);
    } finally {
      sandbox.remove();
    }
  }, 60_000);

  // Found by the properties above: with FUZZ_SEED=7, 8 or 9 they shrink to the base config plus
  // ovsdb_socket "65536". net.connect(string) takes '' and digit strings for TCP ports and throws
  // on '' and on ports over 65535, so the plugin answers "internal error" 999. Pinned here, so that
  // it fails whatever the seed until the sockets are opened as paths (connect({ path })).
  it.each([
    ['ADD', { ovsdb_socket: '' }],
    ['ADD', { ovsdb_socket: '65536' }],
    ['STATUS', { server_socket: '65536' }],
  ] as const)('%s with %j is a CNI error of docs/errors.md, not internal error 999', async (command, extra) => {
    const w = world();
    const sandbox = tempDir('kovo-fuzz-pin-');
    try {
      const conf = w.conf({ ovsdb_socket: join(w.node.root, 'db.sock'), tool_timeout_s: 2, daemon_timeout_s: 2, ...extra });
      const env = { ...w.node.env(), KUBE_OVN_OFFLOAD_STATE_DIR: join(sandbox.path, 'state'), ...VALID_ENV, CNI_COMMAND: command };
      const out = await runRaw({ stdin: Buffer.from(JSON.stringify(conf)), env, cwd: sandbox.path });
      expect(contractBreaches(out), out.stdout).toEqual([]);
    } finally {
      sandbox.remove();
    }
  }, 30_000);
});
