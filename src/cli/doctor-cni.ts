/**
 * doctor's CNI group: what the node's CNI conf dir and bin dir hold for offload. Is
 * kube-ovn-offload installed and runnable, does Multus run first (thick or thin, and thick with
 * chrootDir), which topology the node shows, and which kube-ovn it has.
 */
import { ENGLISH } from '../cni/english.js';
import * as z from 'zod/mini';
import { join } from 'node:path';
import { preview } from '../cni/preview.js';
import type { ToolOutput } from '../node/tools.js';
import {
  clusterNetworkOf,
  findDaemonConfigs,
  findMultus,
  MultusConf,
  pluginsOf,
  readConfDir,
  type ClusterNetwork,
  type ConfFile,
  type FoundDaemonConfig,
  type MultusMode,
} from './cni-conf.js';
import { chainText, layoutOf, OFFLOAD_TYPE } from './cni-topology.js';
import type { Check, Status } from './check.js';
import { inspectExecutable, runExecutable } from './executable.js';
import type { Host } from './host.js';

export interface CniOptions {
  confDir: string;
  binDir: string;
  /** multus-daemon's config file; default: found on the node (cni-conf.ts findDaemonConfigs). */
  multusDaemonConfig?: string;
}

type Line = Omit<Check, 'scope'>;

/** A plugin answers VERSION in well under a second; a hung one would hold every pod's ADD. */
export const PROBE_TIMEOUT_MS = 5_000;

export async function cniChecks(host: Host, opts: CniOptions): Promise<Check[]> {
  const scope = `CNI ${opts.confDir} ${opts.binDir}`;
  const [plugin, conf, kubeOvn] = await Promise.all([
    offloadPlugin(join(opts.binDir, OFFLOAD_TYPE)),
    confChecks(host, opts),
    kubeOvnPlugin(join(opts.binDir, 'kube-ovn')),
  ]);
  return [plugin, ...conf, kubeOvn].map((line) => ({ scope, ...line }));
}

function line(check: string, status: Status, detail: string, fix?: string): Line {
  return { check, status, detail, ...(fix ? { fix } : {}) };
}

// --- kube-ovn-offload ---------------------------------------------------------------------------

/** The CNI VERSION answer (SPEC §"VERSION"): what libcni reads before it runs a plugin. */
const VersionAnswer = z.looseObject({ cniVersion: z.string(), supportedVersions: z.array(z.string()).check(z.minLength(1)) });

async function offloadPlugin(path: string): Promise<Line> {
  const check = 'offload-plugin';
  const install = `install it on every node: the DaemonSet that kube-ovn-offload manifests prints, or the single executable copied to ${path}, mode 0755`;
  const seen = await inspectExecutable(path);
  if (seen.state === 'absent') return line(check, 'FAIL', `not installed: there is no ${path}`, install);
  if (seen.state === 'unrunnable') return line(check, 'FAIL', `${path} ${seen.why}`, seen.fix ?? install);
  // A clean environment: only what a runtime's VERSION probe sets (libcni GetVersionInfo).
  const answer = await runExecutable(path, seen, { CNI_COMMAND: 'VERSION' }, PROBE_TIMEOUT_MS);
  if ('why' in answer) return line(check, 'FAIL', `${path} ${answer.why}`, install);
  const versions = answer.output.exitCode === 0 ? parseVersionAnswer(answer.output.stdout) : undefined;
  if (!versions) return line(check, 'FAIL', `${path} does not answer CNI_COMMAND=VERSION as a CNI plugin does: ${said(answer.output)}`, install);
  return line(check, 'PASS', `${path} answers CNI_COMMAND=VERSION: ${versions.join(', ')}`);
}

function parseVersionAnswer(stdout: string): string[] | undefined {
  try {
    const answer = VersionAnswer.safeParse(JSON.parse(stdout));
    return answer.success ? answer.data.supportedVersions : undefined;
  } catch {
    return undefined;
  }
}

/** "exit 2, stdout "…"" — what a run printed, quoted and cut. */
function said(out: ToolOutput): string {
  const stdout = out.stdout.trim();
  const stderr = out.stderr.trim();
  const text = stdout ? `stdout ${preview(stdout, 80)}` : stderr ? `stderr ${preview(stderr, 80)}` : 'nothing printed';
  return `exit ${out.exitCode}, ${text}`;
}

// --- kube-ovn -----------------------------------------------------------------------------------

/**
 * kube-ovn's cmd/cni (v1.11.0 → master 1533681d) calls skel with the "about" text
 * "CNI kube-ovn plugin " + versions.VERSION, which skel prints on stderr, with exit 0, when
 * CNI_COMMAND is unset; VERSION is set at build time (makefiles/build.mk, from the VERSION
 * file, e.g. "v1.15.24") and is "unknown" in a build without it. v1.10 and older pass no about
 * text: skel then answers the missing CNI_COMMAND with a CNI error. Its VERSION answer names
 * no release.
 */
const ABOUT = /^CNI kube-ovn plugin (.*)$/m; // "CNI kube-ovn plugin v1.15.24"
const RELEASE = /^v?(\d+)\.(\d+)\.(\d+)(?:[-+][0-9A-Za-z.-]+)?$/; // "v1.15.24", "v1.16.0-rc1"

async function kubeOvnPlugin(path: string): Promise<Line> {
  const check = 'kube-ovn-plugin';
  const reinstall = 'kube-ovn-cni\'s install-cni.sh installs it: kubectl -n kube-system get pods -l app=kube-ovn-cni -o wide';
  const seen = await inspectExecutable(path);
  if (seen.state === 'absent') return line(check, 'FAIL', `not installed: there is no ${path}`, reinstall);
  if (seen.state === 'unrunnable') return line(check, 'FAIL', `${path} ${seen.why}`, seen.fix ?? reinstall);
  const answer = await runExecutable(path, seen, {}, PROBE_TIMEOUT_MS);
  if ('why' in answer) return line(check, 'FAIL', `${path} ${answer.why}`, reinstall);
  const out = answer.output;
  const image = 'the kube-ovn-cni image\'s tag names it: kubectl -n kube-system get ds kube-ovn-cni -o jsonpath=\'{..image}\'';
  const about = out.exitCode === 0 ? ABOUT.exec(out.stderr) : null;
  if (about) {
    const version = about[1]!.trim();
    const release = RELEASE.exec(version);
    if (!release) return line(check, 'WARN', `version unknown: ${path} says ${preview(about[0].trim(), 80)}`, image);
    return line(check, 'PASS', `${version} (${path})${needsSubnet(release) ? SUBNET_NOTE : ''}`);
  }
  if (isCniError(out.stdout)) return line(check, 'WARN', `version unknown: ${path} runs, and prints no version (kube-ovn v1.10 and older do not)`, image);
  return line(check, 'FAIL', `${path} answers neither as kube-ovn's plugin nor as any CNI plugin: ${said(out)}`, reinstall);
}

const SUBNET_NOTE = '; this release needs a Subnet with spec.provider <nad>.<ns>.ovn for a NAD\'s provider (kube-ovn-offload manifests emits it)';

/** v1.15.18–v1.15.x, v1.16.3 and later, v1.17 (master): providerExists wants a Subnet (docs/upstream.md#kube-ovn-providerexists). */
function needsSubnet(release: RegExpExecArray): boolean {
  const [major, minor, patch] = [Number(release[1]), Number(release[2]), Number(release[3])];
  if (major !== 1) return major > 1;
  return minor > 16 || (minor === 16 && patch >= 3) || (minor === 15 && patch >= 18);
}

function isCniError(stdout: string): boolean {
  try {
    const doc = JSON.parse(stdout) as { code?: unknown; msg?: unknown };
    return typeof doc.code === 'number' && typeof doc.msg === 'string';
  } catch {
    return false;
  }
}

// --- Multus and the topology --------------------------------------------------------------------

async function confChecks(host: Host, opts: CniOptions): Promise<Line[]> {
  const listed = await readConfDir(opts.confDir);
  if ('problem' in listed) return [line('multus', 'FAIL', `${listed.problem}: no CNI configuration`, 'is this a Kubernetes node? --cni-conf-dir DIR names another directory')];
  const [first] = listed.files;
  if (!first) return [line('multus', 'FAIL', `no CNI configuration in ${opts.confDir}: pods get no network`, 'install Multus v4 and Kube-OVN')];
  const { lines, network, multusFile } = await multusChecks(host, opts, listed.files);
  return [...lines, clusterNetworkLine(network.label, network.net), ...unloadedLists(listed.files, first, [multusFile, network.net])];
}

/** The multus line (and thick's multus-chroot), and the network every pod gets: Multus's cluster network, or the runtime's first file. */
async function multusChecks(host: Host, opts: CniOptions, files: ConfFile[]): Promise<{ lines: Line[]; network: { label: string; net: ClusterNetwork }; multusFile?: ConfFile }> {
  const first = files[0]!;
  const multus = findMultus(files);
  const runtimeRuns = () => ({ label: 'pod network, run by the runtime itself', net: { kind: 'file' as const, where: first.path, plugins: pluginsOf(first.doc!) } });
  if (first.problem) {
    return {
      lines: [line('multus', 'FAIL', `${first.path}, the file the runtime reads first, ${first.problem}: the runtime cannot load any network`, `repair or remove ${first.path}`)],
      network: { label: 'pod network', net: { kind: 'unseen', why: `${first.name} cannot be read` } },
    };
  }
  if (!multus) {
    const why = `no Multus configuration in ${opts.confDir}: the runtime runs ${first.name} ${chainText(pluginsOf(first.doc!))} for every pod, so no NetworkAttachmentDefinition, and no deviceID, reaches ${OFFLOAD_TYPE}`;
    return { lines: [line('multus', 'FAIL', why, MULTUS_INSTALL)], network: runtimeRuns() };
  }
  if (multus.file !== first) {
    const why = `${first.name} sorts before ${multus.file.name}: the runtime (containerd, CRI-O) uses the first file by name, so Multus never runs`;
    return { lines: [line('multus', 'FAIL', why, `rename ${multus.file.name} so that it sorts first (Multus itself writes 00-multus.conf), or move ${first.name} out of ${opts.confDir}`)], network: runtimeRuns() };
  }
  const conf = MultusConf.safeParse(multus.entry, ENGLISH);
  if (!conf.success) {
    const issue = conf.error.issues[0];
    return {
      lines: [line('multus', 'FAIL', `Multus cannot read ${multus.file.path}: ${issue?.path.join('.')} ${issue?.message}`, `repair ${multus.file.path}`)],
      network: { label: 'cluster network', net: { kind: 'unseen', why: `${multus.file.name} cannot be read` } },
      multusFile: multus.file,
    };
  }
  const lines = [await multusBinary(opts.binDir, multus.file, conf.data.type, multus.mode)];
  let effective: MultusConf = conf.data;
  let source = multus.file.name;
  if (multus.mode === 'thick') {
    const daemon = await daemonConfig(host, opts);
    lines.push(daemon.line);
    // multus-daemon appends its whole config to each request's conf: its keys win.
    if (daemon.config) {
      effective = { ...conf.data, ...daemon.config.config };
      if (daemon.config.config?.clusterNetwork !== undefined) source = daemon.config.path;
    }
  }
  // Unseen, multus-daemon's config may name another cluster network than the shim conf does.
  const label = multus.mode === 'thick' && effective === conf.data ? `cluster network as ${multus.file.name} names it (multus-daemon's config may override it)` : 'cluster network';
  const net = await clusterNetworkOf(effective, source, { mode: multus.mode, hostPath: (p) => host.path(p) });
  return { lines, network: { label, net }, multusFile: multus.file };
}

/**
 * Lists in the conf dir that name kube-ovn-offload but that neither the runtime, nor Multus, nor
 * its cluster network loads. An inline delegate is thin's copy of the primary conf, the first
 * .conf/.conflist after Multus's (thin_entrypoint createMultusConfig).
 */
function unloadedLists(files: ConfFile[], first: ConfFile, [multusFile, net]: [ConfFile | undefined, ClusterNetwork]): Line[] {
  const loaded = new Set([first.path, multusFile?.path]);
  if (net.kind === 'file') loaded.add(net.inline ? files.find((f) => f !== multusFile && !f.name.endsWith('.json'))?.path : net.where);
  const lines: Line[] = [];
  for (const file of files) {
    if (!file.doc || loaded.has(file.path)) continue;
    const plugins = pluginsOf(file.doc);
    if (!plugins.some((p) => p.type === OFFLOAD_TYPE)) continue;
    const layout = layoutOf(plugins);
    const broken = layout.kind === 'broken';
    const unused = `nothing on this node loads it: the runtime reads only ${first.name}, and Multus passes deviceID to NetworkAttachmentDefinitions only`;
    lines.push(line('cni-topology', 'WARN', `${file.path}, ${chainText(plugins)}: ${broken ? `${layout.why}; and ` : ''}${unused}`, `remove it, or put its list into a NetworkAttachmentDefinition${broken ? ` (${layout.fix})` : ''}`));
  }
  return lines;
}

const MULTUS_INSTALL = 'install Multus v4: thick, deployments/multus-daemonset-thick.yml of k8snetworkplumbingwg/multus-cni (thin: multus-daemonset.yml)';

async function multusBinary(binDir: string, file: ConfFile, type: string, mode: MultusMode): Promise<Line> {
  const path = join(binDir, type);
  const seen = await inspectExecutable(path);
  const what = `${mode}: ${file.name} (type ${type}) is the first file`;
  const fix = `the kube-multus-ds pod's init container install-multus-binary copies it: kubectl -n kube-system get pods -l app=multus -o wide`;
  if (seen.state === 'absent') return line('multus', 'FAIL', `${what}, but there is no ${path}`, fix);
  if (seen.state === 'unrunnable') return line('multus', 'FAIL', `${what}, but ${path} ${seen.why}`, seen.fix ?? fix);
  return line('multus', 'PASS', `${what}; ${path} is installed`);
}

const CHROOT_FIX = 'set "chrootDir": "/hostroot" in daemon-config.json (ConfigMap kube-system/multus-daemon-config) and mount the node\'s / at /hostroot (hostPath /, mountPropagation HostToContainer), as Multus\'s deployments/multus-daemonset-thick.yml does; then restart the kube-multus-ds pods';

/**
 * Thick Multus runs delegates from multus-daemon's container; only chrootDir (pkg/server
 * exec_chroot.go ChrootExec) runs them in the node's root. The plugin needs the node's
 * /opt/cni/bin (itself), /run/openvswitch (the daemon's and OVSDB's sockets), /var/lib/cni (its
 * records and locks) and devlink/ethtool, none of which Multus's thick DaemonSet mounts: FAIL.
 */
async function daemonConfig(host: Host, opts: CniOptions): Promise<{ line: Line; config?: FoundDaemonConfig }> {
  const check = 'multus-chroot';
  const { looked, found } = await findDaemonConfigs({ explicit: opts.multusDaemonConfig, confDir: opts.confDir, kubeletPods: host.path('var', 'lib', 'kubelet', 'pods') });
  if (found.length === 0) {
    return {
      line: line(check, 'WARN', `unverified: multus-daemon's daemon-config.json is not visible from this node (looked at ${looked.join(' and ')})`,
        'kubectl -n kube-system get configmap multus-daemon-config -o jsonpath=\'{.data.daemon-config\\.json}\' must show "chrootDir": "/hostroot"; --multus-daemon-config FILE names a copy'),
    };
  }
  const broken = found.find((f) => f.problem);
  if (broken) return { line: line(check, 'FAIL', `${broken.path} ${broken.problem}: multus-daemon cannot start with it`, `repair it (ConfigMap kube-system/multus-daemon-config)`) };
  const dirs = new Set(found.map((f) => f.config?.chrootDir ?? ''));
  const config = found[0]!;
  const also = found.length > 1 ? ` (and ${found.length - 1} more with the same)` : '';
  if (dirs.size > 1) {
    return { line: line(check, 'WARN', `${found.length} multus-daemon configs disagree on chrootDir: ${found.map((f) => `${f.path}: ${JSON.stringify(f.config?.chrootDir ?? '')}`).join(', ')}`, CHROOT_FIX) };
  }
  const dir = config.config?.chrootDir ?? '';
  if (dir === '' || dir === '/') {
    return {
      config,
      line: line(check, 'FAIL', `${config.path}${also} has ${dir === '' ? 'no chrootDir' : 'chrootDir "/", the container\'s own root'}: multus-daemon runs ${OFFLOAD_TYPE} inside its own container, without the node's /opt/cni/bin, /run/openvswitch (the kube-ovn daemon's and OVSDB's sockets), /var/lib/cni (the plugin's records) or devlink and ethtool`, CHROOT_FIX),
    };
  }
  return { config, line: line(check, 'PASS', `chrootDir ${JSON.stringify(dir)} in ${config.path}${also}: delegates run in the node's root`) };
}

const NAD_LISTS = '[kube-ovn-offload (guard), kube-ovn, portmap] or [kube-ovn-offload (shim), portmap]';
const INTO_A_NAD = 'put the list into a NetworkAttachmentDefinition in Multus\'s namespace with the k8s.v1.cni.cncf.io/resourceName annotation, and name it in clusterNetwork (kube-ovn-offload manifests --topology shim prints such a NAD and the Multus settings)';

function clusterNetworkLine(label: string, net: ClusterNetwork): Line {
  const check = 'cni-topology';
  if (net.kind === 'unseen') return line(check, 'WARN', `${label}: cannot be seen: ${net.why}`);
  if (net.kind === 'nad') {
    return line(check, 'WARN',
      `${label}: clusterNetwork ${JSON.stringify(net.setting)} names NetworkAttachmentDefinition ${net.namespace}/${net.name}, which lives in the API, not on this node: the topology cannot be seen from here`,
      `kubectl -n ${net.namespace} get network-attachment-definitions ${net.name} -o jsonpath='{.spec.config}' should list ${NAD_LISTS}`);
  }
  const where = `${label}: ${net.where}, ${chainText(net.plugins)}`;
  const layout = layoutOf(net.plugins);
  if (layout.kind === 'broken') return line(check, 'FAIL', `${where}: ${layout.why}`, layout.fix);
  if (layout.kind === 'none') {
    return line(check, 'WARN',
      `${where}: no ${OFFLOAD_TYPE}; offload pods must name a NetworkAttachmentDefinition with it (v1.multus-cni.io/default-network), which lives in the API: the topology cannot be seen from here`,
      `kubectl get network-attachment-definitions -A; the offload one's spec.config should list ${NAD_LISTS}`);
  }
  // Multus injects deviceID only for a NAD with resourceName (getKubernetesDelegate); a file or an
  // inline delegate loads with LoadDelegateNetConf(…, "", ""), without one (Multus v4.0.2).
  const noDeviceId = `${layout.kind}, loaded from a file, and Multus passes deviceID only to a NetworkAttachmentDefinition`;
  if (layout.requireVf) return line(check, 'FAIL', `${where}: ${noDeviceId}: every pod on this network is refused (code 101, no deviceID)`, INTO_A_NAD);
  return line(check, 'WARN', `${where}: ${noDeviceId}: no pod's VF reaches ${OFFLOAD_TYPE}, so none is checked or offloaded; all pass through`, INTO_A_NAD);
}
