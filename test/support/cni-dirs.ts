/**
 * A node's CNI conf dir and bin dir under a simulated node's root ($ROOT/etc/cni/net.d,
 * $ROOT/opt/cni/bin), in the shapes the real writers give them:
 * - kube-ovn's 01-kube-ovn.conflist (kube-ovn master 1533681d, dist/images/01-kube-ovn.conflist);
 * - Multus v4.0.2 thin: 00-multus.conf as cmd/thin_entrypoint's multusConfTemplate writes it with
 *   --multus-conf-file=auto (the primary conf copied into "delegates"), or a hand-written conf
 *   naming a clusterNetwork (docs/upstream.md#multus-k8sclient);
 * - Multus v4.0.2 thick: 00-multus.conf as multus-daemon writes it (pkg/server/config
 *   MultusConf.Generate from the daemon config of deployments/multus-daemonset-thick.yml), and
 *   that daemon config where the node shows it: the kubelet's copy of the ConfigMap volume
 *   (symlinks ..data → ..<timestamp>, as the kubelet's atomic writer makes them).
 * Binaries: kube-ovn-offload is the repo's build behind a small wrapper; Multus's binaries are
 * placeholders doctor only inspects, never runs; kube-ovn is one of the stand-ins below.
 */
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PLUGIN_BIN } from './plugin.js';

export const KUBE_OVN_CONFLIST = {
  name: 'kube-ovn',
  cniVersion: '0.3.1',
  plugins: [
    { type: 'kube-ovn', server_socket: '/run/openvswitch/kube-ovn-daemon.sock' },
    { type: 'portmap', capabilities: { portMappings: true } },
  ],
};

/** deployments/multus-daemonset-thick.yml, ConfigMap multus-daemon-config, key daemon-config.json (v4.0.2). */
export const THICK_DAEMON_CONFIG = {
  chrootDir: '/hostroot',
  confDir: '/host/etc/cni/net.d',
  logLevel: 'verbose',
  socketDir: '/host/run/multus/',
  cniVersion: '0.3.1',
  cniConfigDir: '/host/etc/cni/net.d',
  multusConfigFile: 'auto',
  multusAutoconfigDir: '/host/etc/cni/net.d',
};

/** What multus-daemon writes from THICK_DAEMON_CONFIG beside 01-kube-ovn.conflist (MultusConf field order). */
export const THICK_SHIM_CONF = {
  capabilities: { portMappings: true },
  cniVersion: '0.3.1',
  logLevel: 'verbose',
  name: 'multus-cni-network',
  clusterNetwork: '/host/etc/cni/net.d/01-kube-ovn.conflist',
  type: 'multus-shim',
  socketDir: '/host/run/multus/',
};

/** thin_entrypoint's multusConfTemplate with --multus-conf-file=auto: the primary conf inline. */
export function thinAutoConf(primary: object): string {
  return `{
        "cniVersion": "0.3.1",
        "name": "multus-cni-network",
        "type": "multus",
        "capabilities": {"portMappings":true},
        "kubeconfig": "/etc/cni/net.d/multus.d/multus.kubeconfig",
        "delegates": [
                ${JSON.stringify(primary)}
        ]
}
`;
}

/** A hand-written thin conf that names the cluster network (paths of a node). */
export function thinClusterNetworkConf(clusterNetwork: string): object {
  return {
    cniVersion: '0.3.1',
    name: 'multus-cni-network',
    type: 'multus',
    kubeconfig: '/etc/cni/net.d/multus.d/multus.kubeconfig',
    logLevel: 'debug',
    logToStderr: false,
    multusNamespace: 'kube-system',
    clusterNetwork,
    capabilities: { portMappings: true },
  };
}

/**
 * TEST-ONLY stand-in for what kube-ovn's CNI binary prints when CNI_COMMAND is unset (never
 * shipped): skel's about text on stderr and exit 0, as kube-ovn's cmd/cni/cni.go main passes it
 * ("CNI kube-ovn plugin " + versions.VERSION, v1.11.0 → master 1533681d), followed by skel's
 * "CNI protocol versions supported" line (containernetworking/cni v1.3.0 skel pluginMain).
 * `version: null` is v1.10 and older: no about text, so skel answers the missing CNI_COMMAND
 * with its error (code 4) on stdout and exit 1.
 */
export function kubeOvnAboutScript(version: string | null): string {
  if (version === null) {
    return '#!/bin/sh\n# TEST-ONLY stand-in: kube-ovn <= v1.10 run without CNI_COMMAND\n'
      + 'echo \'{"code":4,"msg":"required env variables [CNI_COMMAND] missing"}\'\nexit 1\n';
  }
  return `#!/bin/sh
# TEST-ONLY stand-in: kube-ovn's CNI plugin run without CNI_COMMAND (skel's about text)
if [ -z "$CNI_COMMAND" ]; then
  echo 'CNI kube-ovn plugin ${version}' >&2
  echo 'CNI protocol versions supported: 0.1.0, 0.2.0, 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0' >&2
  exit 0
fi
echo '{"code":4,"msg":"this stand-in answers only without CNI_COMMAND"}'
exit 1
`;
}

export class CniDirs {
  readonly confDir: string;
  readonly binDir: string;

  constructor(readonly root: string) {
    this.confDir = join(root, 'etc', 'cni', 'net.d');
    this.binDir = join(root, 'opt', 'cni', 'bin');
    mkdirSync(this.confDir, { recursive: true });
    mkdirSync(this.binDir, { recursive: true });
  }

  /** A file in the conf dir: an object as JSON, or text as it is. */
  conf(name: string, doc: object | string): string {
    const path = join(this.confDir, name);
    writeFileSync(path, typeof doc === 'string' ? doc : `${JSON.stringify(doc, null, 2)}\n`);
    return path;
  }

  /** An executable script in the bin dir. */
  script(name: string, body: string, mode = 0o755): string {
    const path = join(this.binDir, name);
    rmSync(path, { force: true });
    writeFileSync(path, body);
    chmodSync(path, mode);
    return path;
  }

  /** A copy of a real file (an ELF) in the bin dir, with `edit` applied to its bytes. */
  copyBinary(name: string, from: string, edit?: (bytes: Buffer) => Buffer): string {
    const path = join(this.binDir, name);
    rmSync(path, { force: true });
    copyFileSync(from, path);
    if (edit) writeFileSync(path, edit(readFileSync(path)));
    chmodSync(path, 0o755);
    return path;
  }

  /** The repo's built plugin, as the runtime would find it: bin/kube-ovn-offload run by this Node. */
  installPlugin(): string {
    return this.script('kube-ovn-offload', `#!/bin/sh\nexec '${process.execPath}' '${PLUGIN_BIN}' "$@"\n`);
  }

  kubeOvn(version: string | null = 'v1.15.24'): string {
    return this.script('kube-ovn', kubeOvnAboutScript(version));
  }

  /** Multus's own binary: a placeholder doctor inspects and never runs. */
  multusBinary(type: 'multus' | 'multus-shim'): string {
    return this.script(type, `#!/bin/sh\n# placeholder for Multus's ${type}: doctor only checks that it is there\nexit 1\n`);
  }

  /**
   * multus-daemon's config where the node shows it: the kubelet's ConfigMap volume of a
   * kube-multus-ds pod (daemon-config.json → ..data/daemon-config.json, ..data → ..<stamp>).
   */
  kubeletDaemonConfig(config: object, podUid = '6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b'): string {
    const volume = join(this.root, 'var', 'lib', 'kubelet', 'pods', podUid, 'volumes', 'kubernetes.io~configmap', 'multus-daemon-config');
    const stamp = '..2026_11_30_08_00_00.123456789';
    mkdirSync(join(volume, stamp), { recursive: true });
    writeFileSync(join(volume, stamp, 'daemon-config.json'), `${JSON.stringify(config, null, 4)}\n`);
    symlinkSync(stamp, join(volume, '..data'));
    symlinkSync(join('..data', 'daemon-config.json'), join(volume, 'daemon-config.json'));
    return join(volume, 'daemon-config.json');
  }

  /** A file anywhere under the root (a path as the node names it). */
  file(hostPath: string, text: string): string {
    const path = join(this.root, hostPath);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    return path;
  }
}

/**
 * The set-up the guide and `manifests --topology shim` describe, with thick Multus as Multus's
 * own DaemonSet deploys it: chrootDir /hostroot, and clusterNetwork naming the offload NAD in
 * the daemon config (whose keys override the shim conf's). kube-ovn v1.15.24 is installed.
 */
export function guideSetup(dirs: CniDirs): void {
  dirs.conf('00-multus.conf', THICK_SHIM_CONF);
  dirs.conf('01-kube-ovn.conflist', KUBE_OVN_CONFLIST);
  dirs.kubeletDaemonConfig({ ...THICK_DAEMON_CONFIG, clusterNetwork: 'offload-cluster', multusNamespace: 'kube-system' });
  dirs.multusBinary('multus-shim');
  dirs.installPlugin();
  dirs.kubeOvn('v1.15.24');
}
