/**
 * The node's CNI configuration as the runtime and Multus read it: the conf dir's files in the
 * runtime's order, the Multus entry among them, multus-daemon's own configuration (thick), and
 * the cluster network Multus runs for every pod. Read-only; every file is bounded in size and
 * depth, and never blocks (a FIFO is an odd file, not a wait).
 */
import { ENGLISH } from '../cni/english.js';
import * as z from 'zod/mini';
import { readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { preview, tooDeep } from '../cni/preview.js';
import { readRegularFile } from '../node/files.js';

/** containerd's go-cni and libcni.ConfFiles: these extensions, sorted by name; the first is the pod network. */
const CONF_EXTENSIONS = ['.conf', '.conflist', '.json'];
const MAX_CONF_BYTES = 1024 * 1024;
const MAX_CONF_FILES = 256;
const MAX_DEPTH = 64;

/** One plugin entry of a conf or conflist; only the keys doctor reads. */
export const PluginEntry = z.looseObject({
  type: z.optional(z.string()),
  mode: z.optional(z.unknown()),
  offload: z.optional(z.unknown()),
});
export type PluginEntry = z.infer<typeof PluginEntry>;

/**
 * Multus's entry: thin's `"type": "multus"` (pkg/types NetConf) or thick's `"type": "multus-shim"`
 * (the shim conf that multus-daemon writes, pkg/server/config MultusConf). Multus v4.0.2.
 */
export const MultusConf = z.looseObject({
  type: z.string(),
  clusterNetwork: z.optional(z.string()),
  multusNamespace: z.optional(z.string()),
  delegates: z.optional(z.array(z.unknown())),
});
export type MultusConf = z.infer<typeof MultusConf>;

/**
 * multus-daemon's configuration (pkg/server/types.go ControllerNetConf, plus every MultusConf
 * key: the daemon appends the whole file to each request's conf, so its keys win,
 * pkg/server/server.go extractCniData). Only the keys doctor reads.
 */
export const DaemonConfig = z.looseObject({
  chrootDir: z.optional(z.string()),
  clusterNetwork: z.optional(z.string()),
  multusNamespace: z.optional(z.string()),
});
export type DaemonConfig = z.infer<typeof DaemonConfig>;

export interface ConfFile {
  name: string;
  path: string;
  /** The parsed JSON object, when the file is one. */
  doc?: Record<string, unknown>;
  /** Why the runtime could not load it. */
  problem?: string;
}

/** The conf dir's CNI files in the runtime's order, or why the dir cannot be read. */
export async function readConfDir(dir: string): Promise<{ files: ConfFile[] } | { problem: string }> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { problem: code === 'ENOENT' ? `there is no ${dir}` : `cannot read ${dir}: ${code ?? (err as Error).message}` };
  }
  // Go's sort.Strings: byte order, which for these names is JavaScript's default sort.
  const names = entries
    .filter((e) => !e.isDirectory() && CONF_EXTENSIONS.some((ext) => e.name.endsWith(ext)))
    .map((e) => e.name)
    .sort()
    .slice(0, MAX_CONF_FILES);
  return { files: await Promise.all(names.map((name) => readConf(join(dir, name)))) };
}

/** One CNI conf or conflist file, parsed; a problem instead when the runtime could not load it. */
export async function readConf(path: string): Promise<ConfFile> {
  const doc = await readJsonObject(path);
  return { name: basename(path), path, ...doc };
}

async function readJsonObject(path: string): Promise<{ doc?: Record<string, unknown>; problem?: string }> {
  let text;
  try {
    text = await readRegularFile(path, MAX_CONF_BYTES, { followSymlinks: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { problem: code ? `cannot be read (${code})` : (err as Error).message.replace(`${path} `, '') };
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return { problem: `is not JSON: ${preview(text.trim(), 60)}` };
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return { problem: 'is not a JSON object' };
  if (tooDeep(doc, MAX_DEPTH)) return { problem: `nests deeper than ${MAX_DEPTH} levels` };
  return { doc: doc as Record<string, unknown> };
}

/** A conflist's plugins; a single conf is a list of itself. */
export function pluginsOf(doc: Record<string, unknown>): PluginEntry[] {
  const raw = Array.isArray(doc.plugins) ? doc.plugins : [doc];
  return raw.map((p) => {
    const entry = PluginEntry.safeParse(p);
    return entry.success ? entry.data : {};
  });
}

export const MULTUS_TYPES = { multus: 'thin', 'multus-shim': 'thick' } as const;
export type MultusMode = (typeof MULTUS_TYPES)[keyof typeof MULTUS_TYPES];

/** The first file holding a Multus entry, and that entry. */
export function findMultus(files: ConfFile[]): { file: ConfFile; entry: Record<string, unknown>; mode: MultusMode } | undefined {
  for (const file of files) {
    if (!file.doc) continue;
    const raw = Array.isArray(file.doc.plugins) ? file.doc.plugins : [file.doc];
    for (const entry of raw) {
      const type = (entry as { type?: unknown } | null)?.type;
      if (typeof type === 'string' && Object.hasOwn(MULTUS_TYPES, type)) return { file, entry: entry as Record<string, unknown>, mode: MULTUS_TYPES[type as keyof typeof MULTUS_TYPES] };
    }
  }
  return undefined;
}

/** multus-daemon's config file as found on the node, parsed, or why it cannot be used. */
export interface FoundDaemonConfig {
  path: string;
  config?: DaemonConfig;
  problem?: string;
}

/**
 * Where the node shows multus-daemon's config (its -config flag, default
 * /etc/cni/net.d/multus.d/daemon-config.json *inside its container*). Multus's thick DaemonSet
 * (deployments/multus-daemonset-thick.yml) mounts ConfigMap multus-daemon-config there, so on
 * the node the file is the kubelet's copy of that ConfigMap volume; a deployment that mounts the
 * host's conf dir at /etc/cni/net.d has it at <conf dir>/multus.d/daemon-config.json instead.
 */
export async function findDaemonConfigs(opts: { explicit?: string; confDir: string; kubeletPods: string }): Promise<{ looked: string[]; found: FoundDaemonConfig[] }> {
  if (opts.explicit) return { looked: [opts.explicit], found: [await readDaemonConfig(opts.explicit)] };
  const inConfDir = join(opts.confDir, 'multus.d', 'daemon-config.json');
  const looked = [inConfDir, join(opts.kubeletPods, '*', 'volumes', 'kubernetes.io~configmap', '*', 'daemon-config.json')];
  if (await exists(inConfDir)) return { looked, found: [await readDaemonConfig(inConfDir)] };
  const found: FoundDaemonConfig[] = [];
  for (const pod of (await listDir(opts.kubeletPods)).slice(0, MAX_PODS)) {
    const volumes = join(opts.kubeletPods, pod, 'volumes', 'kubernetes.io~configmap');
    for (const volume of await listDir(volumes)) {
      const path = join(volumes, volume, 'daemon-config.json');
      if (await exists(path)) found.push(await readDaemonConfig(path));
    }
  }
  return { looked, found };
}

const MAX_PODS = 1024;

async function readDaemonConfig(path: string): Promise<FoundDaemonConfig> {
  const { doc, problem } = await readJsonObject(path);
  if (!doc) return { path, problem: problem ?? 'is empty' };
  const config = DaemonConfig.safeParse(doc, ENGLISH);
  return config.success ? { path, config: config.data } : { path, problem: `is not a configuration multus-daemon can read: ${config.error.issues[0]?.path.join('.')} ${config.error.issues[0]?.message}` };
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

async function listDir(dir: string): Promise<string[]> {
  return readdir(dir).then((names) => names.sort(), () => []);
}

/** The network Multus runs for every pod without a default-network annotation, as far as the node shows it. */
export type ClusterNetwork =
  | { kind: 'nad'; namespace: string; name: string; setting: string }
  /** A conf file, or Multus's inline delegate (`inline`): visible, and loaded without any deviceID. */
  | { kind: 'file'; where: string; plugins: PluginEntry[]; inline?: true }
  | { kind: 'unseen'; why: string };

/**
 * Multus v4.0.2 (pkg/k8sclient getNetDelegate, pkg/types LoadNetConf): `clusterNetwork` with a
 * "/" is a file or a directory (its first conf); without, the NAD of that name in
 * multusNamespace (default kube-system), falling back to a conf of that name in confDir; no
 * clusterNetwork, the first of `delegates` (what thin's --multus-conf-file=auto writes: a copy
 * of the primary conf). Thick reads paths in its own container, where its DaemonSets mount the
 * node's /etc/cni/net.d at /host/etc/cni/net.d.
 */
export async function clusterNetworkOf(
  conf: MultusConf,
  where: string,
  opts: { mode: MultusMode; hostPath: (p: string) => string },
): Promise<ClusterNetwork> {
  const setting = conf.clusterNetwork;
  if (setting === undefined || setting === '') {
    const first = conf.delegates?.[0];
    if (first && typeof first === 'object' && !Array.isArray(first)) {
      return { kind: 'file', where: `delegates[0] of ${where}`, plugins: pluginsOf(first as Record<string, unknown>), inline: true };
    }
    return { kind: 'unseen', why: `${where} names neither clusterNetwork nor delegates` };
  }
  if (!setting.includes('/')) {
    return { kind: 'nad', namespace: conf.multusNamespace || 'kube-system', name: setting, setting };
  }
  const candidates = opts.mode === 'thick' && setting.startsWith('/host/') ? [setting.slice('/host'.length), setting] : [setting];
  for (const candidate of candidates) {
    const path = opts.hostPath(candidate);
    const info = await stat(path).catch(() => undefined);
    if (!info) continue;
    const file = info.isDirectory() ? await firstConfIn(path) : await readConf(path);
    if (!file) return { kind: 'unseen', why: `clusterNetwork ${JSON.stringify(setting)} is a directory without a CNI conf` };
    if (!file.doc) return { kind: 'unseen', why: `clusterNetwork ${file.path} ${file.problem}` };
    return { kind: 'file', where: file.path, plugins: pluginsOf(file.doc) };
  }
  return { kind: 'unseen', why: `clusterNetwork ${JSON.stringify(setting)} is not on this node (looked at ${candidates.map(opts.hostPath).join(', ')})` };
}

/** Multus's directory form: GetCNIConfigFromFile("", dir), the first .conf/.json/.conflist by name. */
async function firstConfIn(dir: string): Promise<ConfFile | undefined> {
  const listed = await readConfDir(dir);
  return 'files' in listed ? listed.files[0] : undefined;
}
