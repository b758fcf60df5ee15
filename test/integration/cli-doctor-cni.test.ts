/**
 * `kube-ovn-offload doctor`'s CNI group on simulated nodes, through the built bundle: the conf
 * dir and bin dir under the node's root hold what Multus v4.0.2 (thin and thick) and kube-ovn
 * write there (test/support/cni-dirs.ts); kube-ovn-offload is the repo's build.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  CniDirs,
  KUBE_OVN_CONFLIST,
  THICK_DAEMON_CONFIG,
  THICK_SHIM_CONF,
  guideSetup,
  thinAutoConf,
  thinClusterNetworkConf,
} from '../support/cni-dirs.js';
import { KUBE_OVN_CNI } from '../support/kube-ovn-cni.js';
import { useCliNode, type CliNode } from '../support/cli-node.js';

interface Check { scope: string; check: string; status: string; detail: string; fix?: string }
interface Report { checks: Check[]; summary: { pass: number; warn: number; fail: number } }

const VERSIONS = '0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0';
const NAD_LISTS = '[kube-ovn-offload (guard), kube-ovn, portmap] or [kube-ovn-offload (shim), portmap]';

/** The CNI group of `doctor --json`, and the whole outcome. */
async function cniReport(n: CliNode, ...args: string[]): Promise<{ exitCode: number; checks: Check[]; lines: string[]; report: Report }> {
  const out = await n.cli('doctor', '--json', ...args);
  expect(out.stderr).toBe('');
  const report = JSON.parse(out.stdout) as Report;
  const checks = report.checks.filter((c) => c.scope.startsWith('CNI '));
  return { exitCode: out.exitCode, checks, lines: checks.map((c) => `${c.status} ${c.check}`), report };
}
const one = (checks: Check[], name: string): Check => {
  const found = checks.filter((c) => c.check === name);
  expect(found.map((c) => c.check), `one ${name} line`).toEqual([name]);
  return found[0]!;
};

/** Whether `pid` still runs (not gone, not a zombie) after waiting up to `ms` for it to stop. */
async function runningAfter(pid: number, ms: number): Promise<boolean> {
  const running = () => {
    try {
      return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0] !== 'Z';
    } catch {
      return false;
    }
  };
  for (const until = Date.now() + ms; running() && Date.now() < until;) await new Promise((r) => setTimeout(r, 50));
  return running();
}

/** Thick Multus beside kube-ovn's conflist, with this daemon config in the kubelet's ConfigMap volume (null: not on the node). */
function thick(daemonConfig: Record<string, unknown> | null, shim: object = THICK_SHIM_CONF) {
  return (d: CniDirs) => {
    d.conf('00-multus.conf', shim);
    d.conf('01-kube-ovn.conflist', KUBE_OVN_CONFLIST);
    if (daemonConfig) d.kubeletDaemonConfig(daemonConfig);
    d.multusBinary('multus-shim');
    d.installPlugin();
    d.kubeOvn('v1.15.24');
  };
}

/** Thin Multus with --multus-conf-file=auto beside `primary` as 01-kube-ovn.conflist, or the conf given. */
function thin(primary: object = KUBE_OVN_CONFLIST, multusConf?: object) {
  return (d: CniDirs) => {
    d.conf('00-multus.conf', multusConf ?? thinAutoConf(primary));
    d.conf('01-kube-ovn.conflist', primary);
    d.multusBinary('multus');
    d.installPlugin();
    d.kubeOvn('v1.15.24');
  };
}

const guardList = (extra: Record<string, unknown> = {}) => ({
  cniVersion: '0.3.1',
  name: 'kube-ovn',
  plugins: [
    { type: 'kube-ovn-offload', mode: 'guard', server_socket: '/run/openvswitch/kube-ovn-daemon.sock', ...extra },
    { type: 'kube-ovn', server_socket: '/run/openvswitch/kube-ovn-daemon.sock', provider: 'ovn' },
    { type: 'portmap', capabilities: { portMappings: true } },
  ],
});
const shimList = {
  cniVersion: '1.0.0',
  name: 'kube-ovn',
  plugins: [
    { type: 'kube-ovn-offload', mode: 'shim', server_socket: '/run/openvswitch/kube-ovn-daemon.sock', provider: 'ovn' },
    { type: 'portmap', capabilities: { portMappings: true } },
  ],
};

describe('doctor: the CNI set-up', () => {
  const make = useCliNode();

  describe('reports the CNI set-up of a simulated node in thick and in thin mode', () => {
    it('thick, as Multus deploys it (chrootDir /hostroot, clusterNetwork a NAD): all PASS but the topology, which lives in the API', async () => {
      const n = await make();
      const { exitCode, checks, lines } = await cniReport(n);
      expect(exitCode).toBe(0);
      expect(lines).toEqual(['PASS offload-plugin', 'PASS multus', 'PASS multus-chroot', 'WARN cni-topology', 'PASS kube-ovn-plugin']);
      const { confDir, binDir, root } = n.cni;
      expect(checks.every((c) => c.scope === `CNI ${confDir} ${binDir}`)).toBe(true);
      expect(one(checks, 'offload-plugin').detail).toBe(`${binDir}/kube-ovn-offload answers CNI_COMMAND=VERSION: ${VERSIONS}`);
      expect(one(checks, 'multus').detail).toBe(`thick: 00-multus.conf (type multus-shim) is the first file; ${binDir}/multus-shim is installed`);
      const daemonConfig = join(root, 'var/lib/kubelet/pods/6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b/volumes/kubernetes.io~configmap/multus-daemon-config/daemon-config.json');
      expect(one(checks, 'multus-chroot').detail).toBe(`chrootDir "/hostroot" in ${daemonConfig}: delegates run in the node's root`);
      // The daemon config's clusterNetwork wins over the shim conf's path (extractCniData).
      expect(one(checks, 'cni-topology')).toMatchObject({
        detail: 'cluster network: clusterNetwork "offload-cluster" names NetworkAttachmentDefinition kube-system/offload-cluster, which lives in the API, not on this node: the topology cannot be seen from here',
        fix: `kubectl -n kube-system get network-attachment-definitions offload-cluster -o jsonpath='{.spec.config}' should list ${NAD_LISTS}`,
      });
      expect(one(checks, 'kube-ovn-plugin').detail).toBe(
        `v1.15.24 (${binDir}/kube-ovn); this release needs a Subnet with spec.provider <nad>.<ns>.ovn for a NAD's provider (kube-ovn-offload manifests emits it)`,
      );
    });

    it('thick, as the text output shows it: a group of its own, aligned with the rest', async () => {
      const n = await make();
      const out = await n.cli('doctor');
      expect(out.exitCode).toBe(0);
      expect(out.stdout.endsWith('\n')).toBe(true);
      const lines = out.stdout.slice(0, -1).split('\n');
      const header = lines.indexOf(`CNI ${n.cni.confDir} ${n.cni.binDir}`);
      expect(header).toBeGreaterThan(lines.indexOf('PF 0000:42:00.0 enp66s0f0np0'));
      expect(lines.slice(header + 1, header + 8).map((l) => l.slice(0, 25))).toEqual([
        '  PASS  offload-plugin   ',
        '  PASS  multus           ',
        '  PASS  multus-chroot    ',
        '  WARN  cni-topology     ',
        '                         ',
        '  PASS  kube-ovn-plugin  ',
        '',
      ]);
      expect(lines[header + 5]).toBe(`                         fix: kubectl -n kube-system get network-attachment-definitions offload-cluster -o jsonpath='{.spec.config}' should list ${NAD_LISTS}`);
      expect(lines.at(-1)).toBe('PASS 15  WARN 1  FAIL 0');
    });

    it('thick as multus-daemon writes it in "auto" mode: the cluster network is the primary conf, read through /host', async () => {
      const n = await make({ cni: thick(THICK_DAEMON_CONFIG) });
      const { checks } = await cniReport(n);
      expect(one(checks, 'cni-topology')).toMatchObject({
        status: 'WARN',
        detail: `cluster network: ${n.cni.confDir}/01-kube-ovn.conflist, [kube-ovn, portmap]: no kube-ovn-offload; offload pods must name a NetworkAttachmentDefinition with it (v1.multus-cni.io/default-network), which lives in the API: the topology cannot be seen from here`,
      });
    });

    it('thin, as --multus-conf-file=auto writes it: no chroot line, and the cluster network is the inline copy of the primary conf', async () => {
      const n = await make({ cni: thin() });
      const { exitCode, checks, lines } = await cniReport(n);
      expect(exitCode).toBe(0);
      expect(lines).toEqual(['PASS offload-plugin', 'PASS multus', 'WARN cni-topology', 'PASS kube-ovn-plugin']);
      expect(one(checks, 'multus').detail).toBe(`thin: 00-multus.conf (type multus) is the first file; ${n.cni.binDir}/multus is installed`);
      expect(one(checks, 'cni-topology').detail).toBe(
        'cluster network: delegates[0] of 00-multus.conf, [kube-ovn, portmap]: no kube-ovn-offload; offload pods must name a NetworkAttachmentDefinition with it (v1.multus-cni.io/default-network), which lives in the API: the topology cannot be seen from here',
      );
    });

    it('thin with a hand-written conf naming the offload NAD as clusterNetwork: unseen, said so', async () => {
      const n = await make({ cni: thin(KUBE_OVN_CONFLIST, thinClusterNetworkConf('offload-cluster')) });
      const { checks } = await cniReport(n);
      expect(one(checks, 'cni-topology')).toMatchObject({
        status: 'WARN',
        detail: 'cluster network: clusterNetwork "offload-cluster" names NetworkAttachmentDefinition kube-system/offload-cluster, which lives in the API, not on this node: the topology cannot be seen from here',
      });
    });
  });

  describe('the topology a conf on disk shows', () => {
    it('guard before kube-ovn, as the cluster network from a file: FAIL, since Multus passes deviceID only to a NAD and guard requires one', async () => {
      const n = await make({ cni: thin(KUBE_OVN_CONFLIST, thinClusterNetworkConf('/etc/cni/net.d/10-offload.conflist')) });
      n.cni.conf('10-offload.conflist', guardList());
      const { exitCode, checks } = await cniReport(n);
      expect(exitCode).toBe(1);
      expect(one(checks, 'cni-topology')).toMatchObject({
        status: 'FAIL',
        detail: `cluster network: ${n.cni.confDir}/10-offload.conflist, [kube-ovn-offload (guard), kube-ovn, portmap]: guard, loaded from a file, and Multus passes deviceID only to a NetworkAttachmentDefinition: every pod on this network is refused (code 101, no deviceID)`,
      });
      expect(one(checks, 'cni-topology').fix).toContain('put the list into a NetworkAttachmentDefinition in Multus\'s namespace with the k8s.v1.cni.cncf.io/resourceName annotation');
    });

    it('the same guard with "require_vf": false: WARN, every pod passes through unoffloaded', async () => {
      const n = await make({ cni: thin(KUBE_OVN_CONFLIST, thinClusterNetworkConf('/etc/cni/net.d/10-offload.conflist')) });
      n.cni.conf('10-offload.conflist', guardList({ offload: { require_vf: false } }));
      const { exitCode, checks } = await cniReport(n);
      expect(exitCode).toBe(0);
      expect(one(checks, 'cni-topology')).toMatchObject({
        status: 'WARN',
        detail: `cluster network: ${n.cni.confDir}/10-offload.conflist, [kube-ovn-offload (guard), kube-ovn, portmap]: guard, loaded from a file, and Multus passes deviceID only to a NetworkAttachmentDefinition: no pod's VF reaches kube-ovn-offload, so none is checked or offloaded; all pass through`,
      });
    });

    it('shim as the cluster network, named by path in the thick daemon config (container view, /host/...): WARN, no deviceID', async () => {
      const n = await make({ cni: thick({ ...THICK_DAEMON_CONFIG, clusterNetwork: '/host/etc/cni/net.d/05-offload.conflist' }) });
      n.cni.conf('05-offload.conflist', shimList);
      const { checks } = await cniReport(n);
      expect(one(checks, 'cni-topology')).toMatchObject({
        status: 'WARN',
        detail: `cluster network: ${n.cni.confDir}/05-offload.conflist, [kube-ovn-offload (shim), portmap]: shim, loaded from a file, and Multus passes deviceID only to a NetworkAttachmentDefinition: no pod's VF reaches kube-ovn-offload, so none is checked or offloaded; all pass through`,
      });
    });

    it('the old broken layout, kube-ovn-offload where "type": "kube-ovn" stood: FAIL, naming why', async () => {
      const replaced = { ...KUBE_OVN_CONFLIST, plugins: [{ type: 'kube-ovn-offload', server_socket: '/run/openvswitch/kube-ovn-daemon.sock' }, KUBE_OVN_CONFLIST.plugins[1]!] };
      const n = await make({ cni: thin(replaced) });
      const { exitCode, checks } = await cniReport(n);
      expect(exitCode).toBe(1);
      expect(one(checks, 'cni-topology')).toEqual({
        scope: `CNI ${n.cni.confDir} ${n.cni.binDir}`,
        check: 'cni-topology',
        status: 'FAIL',
        detail: 'cluster network: delegates[0] of 00-multus.conf, [kube-ovn-offload (guard), portmap]: kube-ovn-offload in guard mode with no kube-ovn after it, the layout where it replaced "type": "kube-ovn": nothing asks the kube-ovn daemon for the pod\'s NIC, and kube-ovn-controller allocates no address on a network without a kube-ovn plugin (IsOvnNetwork)',
        fix: '[kube-ovn-offload (guard), kube-ovn, portmap], or "mode": "shim" in Multus\'s clusterNetwork NAD (README, "Two topologies"; kube-ovn-offload manifests prints both)',
      });
    });

    it('a guard entry after kube-ovn: FAIL', async () => {
      const after = { ...KUBE_OVN_CONFLIST, plugins: [KUBE_OVN_CONFLIST.plugins[0]!, { type: 'kube-ovn-offload', mode: 'guard' }, KUBE_OVN_CONFLIST.plugins[1]!] };
      const n = await make({ cni: thin(after) });
      const { checks } = await cniReport(n);
      expect(one(checks, 'cni-topology')).toMatchObject({
        status: 'FAIL',
        detail: 'cluster network: delegates[0] of 00-multus.conf, [kube-ovn, kube-ovn-offload (guard), portmap]: kube-ovn-offload (guard) comes after kube-ovn: kube-ovn has plumbed the VF before the checks run, and on DEL ours runs first',
        fix: 'move kube-ovn-offload before kube-ovn: [kube-ovn-offload (guard), kube-ovn, portmap]',
      });
    });

    it('a conflist nothing loads, with shim and kube-ovn in one list: its own WARN line, naming both', async () => {
      const n = await make();
      const both = { ...shimList, plugins: [shimList.plugins[0]!, KUBE_OVN_CONFLIST.plugins[0]!, shimList.plugins[1]!] };
      n.cni.conf('20-offload.conflist', both);
      const { checks } = await cniReport(n);
      const topology = checks.filter((c) => c.check === 'cni-topology');
      expect(topology.map((c) => c.status)).toEqual(['WARN', 'WARN']);
      expect(topology[1]).toMatchObject({
        detail: `${n.cni.confDir}/20-offload.conflist, [kube-ovn-offload (shim), kube-ovn, portmap]: kube-ovn-offload (shim) and kube-ovn in one list: both forward the pod to the kube-ovn daemon; and nothing on this node loads it: the runtime reads only 00-multus.conf, and Multus passes deviceID to NetworkAttachmentDefinitions only`,
        fix: 'remove it, or put its list into a NetworkAttachmentDefinition (drop kube-ovn ([kube-ovn-offload (shim), portmap]), or set "mode": "guard")',
      });
    });
  });

  describe('Multus', () => {
    it('absent: FAIL, and the runtime itself runs the first file', async () => {
      const n = await make({
        cni: (d) => {
          d.conf('01-kube-ovn.conflist', KUBE_OVN_CONFLIST);
          d.installPlugin();
          d.kubeOvn();
        },
      });
      const { exitCode, checks, lines } = await cniReport(n);
      expect(exitCode).toBe(1);
      expect(lines).toEqual(['PASS offload-plugin', 'FAIL multus', 'WARN cni-topology', 'PASS kube-ovn-plugin']);
      expect(one(checks, 'multus')).toMatchObject({
        detail: `no Multus configuration in ${n.cni.confDir}: the runtime runs 01-kube-ovn.conflist [kube-ovn, portmap] for every pod, so no NetworkAttachmentDefinition, and no deviceID, reaches kube-ovn-offload`,
        fix: 'install Multus v4: thick, deployments/multus-daemonset-thick.yml of k8snetworkplumbingwg/multus-cni (thin: multus-daemonset.yml)',
      });
      expect(one(checks, 'cni-topology').detail).toMatch(/^pod network, run by the runtime itself: .*\/01-kube-ovn\.conflist, \[kube-ovn, portmap\]: no kube-ovn-offload/);
    });

    it('not the first file by name (a hand-written 70-multus.conf beside 01-kube-ovn.conflist): FAIL with the rename', async () => {
      const n = await make({ cni: thin(KUBE_OVN_CONFLIST, undefined) });
      rmSync(join(n.cni.confDir, '00-multus.conf'));
      n.cni.conf('70-multus.conf', thinClusterNetworkConf('offload-cluster'));
      const { exitCode, checks } = await cniReport(n);
      expect(exitCode).toBe(1);
      expect(one(checks, 'multus')).toMatchObject({
        status: 'FAIL',
        detail: '01-kube-ovn.conflist sorts before 70-multus.conf: the runtime (containerd, CRI-O) uses the first file by name, so Multus never runs',
        fix: `rename 70-multus.conf so that it sorts first (Multus itself writes 00-multus.conf), or move 01-kube-ovn.conflist out of ${n.cni.confDir}`,
      });
    });

    it('a first file the runtime cannot load: FAIL naming it', async () => {
      const n = await make();
      n.cni.conf('00-aaa.conf', '{"cniVersion": "0.3.1", "name": ');
      const { checks } = await cniReport(n);
      expect(one(checks, 'multus')).toMatchObject({ status: 'FAIL', detail: `${n.cni.confDir}/00-aaa.conf, the file the runtime reads first, is not JSON: "{\\"cniVersion\\": \\"0.3.1\\", \\"name\\":": the runtime cannot load any network` });
    });

    it('its conf first, but its binary not installed: FAIL', async () => {
      const n = await make();
      rmSync(join(n.cni.binDir, 'multus-shim'));
      const { checks } = await cniReport(n);
      expect(one(checks, 'multus')).toMatchObject({ status: 'FAIL', detail: `thick: 00-multus.conf (type multus-shim) is the first file, but there is no ${n.cni.binDir}/multus-shim` });
    });

    it('thick without chrootDir (a daemon config with "chrootDir": ""): FAIL, with the fix Multus\'s own DaemonSet shows', async () => {
      const n = await make({ cni: thick({ ...THICK_DAEMON_CONFIG, chrootDir: '', clusterNetwork: 'offload-cluster' }) });
      const { exitCode, checks } = await cniReport(n);
      expect(exitCode).toBe(1);
      const chroot = one(checks, 'multus-chroot');
      expect(chroot.status).toBe('FAIL');
      expect(chroot.detail).toMatch(/\/daemon-config\.json has no chrootDir: multus-daemon runs kube-ovn-offload inside its own container, without the node's \/opt\/cni\/bin, \/run\/openvswitch \(the kube-ovn daemon's and OVSDB's sockets\), \/var\/lib\/cni \(the plugin's records\) or devlink and ethtool$/);
      expect(chroot.fix).toBe('set "chrootDir": "/hostroot" in daemon-config.json (ConfigMap kube-system/multus-daemon-config) and mount the node\'s / at /hostroot (hostPath /, mountPropagation HostToContainer), as Multus\'s deployments/multus-daemonset-thick.yml does; then restart the kube-multus-ds pods');
    });

    it('thick with chrootDir left out altogether: the same FAIL', async () => {
      const { chrootDir: _, ...noChroot } = THICK_DAEMON_CONFIG;
      const n = await make({ cni: thick(noChroot) });
      expect(one((await cniReport(n)).checks, 'multus-chroot').status).toBe('FAIL');
    });

    it('thick whose daemon config the node does not show: WARN, unverified, and where it looked', async () => {
      const n = await make({ cni: thick(null) });
      const { exitCode, checks } = await cniReport(n);
      expect(exitCode).toBe(0);
      expect(one(checks, 'multus-chroot')).toMatchObject({
        status: 'WARN',
        detail: `unverified: multus-daemon's daemon-config.json is not visible from this node (looked at ${n.cni.confDir}/multus.d/daemon-config.json and ${n.cni.root}/var/lib/kubelet/pods/*/volumes/kubernetes.io~configmap/*/daemon-config.json)`,
      });
      // The shim conf's clusterNetwork is what can be seen, and the line says the daemon may override it.
      expect(one(checks, 'cni-topology').detail.startsWith(
        `cluster network as 00-multus.conf names it (multus-daemon's config may override it): ${n.cni.confDir}/01-kube-ovn.conflist, [kube-ovn, portmap]: no kube-ovn-offload;`,
      )).toBe(true);
    });

    it('thick with the daemon config in <conf dir>/multus.d, or named by --multus-daemon-config', async () => {
      const n = await make({ cni: thick(null) });
      const inConfDir = n.cni.file('etc/cni/net.d/multus.d/daemon-config.json', JSON.stringify(THICK_DAEMON_CONFIG));
      expect(one((await cniReport(n)).checks, 'multus-chroot').detail).toBe(`chrootDir "/hostroot" in ${inConfDir}: delegates run in the node's root`);
      const named = n.cni.file('elsewhere/daemon-config.json', JSON.stringify({ ...THICK_DAEMON_CONFIG, chrootDir: '' }));
      expect(one((await cniReport(n, '--multus-daemon-config', named)).checks, 'multus-chroot')).toMatchObject({ status: 'FAIL', detail: expect.stringContaining(`${named} has no chrootDir`) });
    });
  });

  describe('kube-ovn-offload in the bin dir', () => {
    const strays: number[] = [];
    afterEach(() => {
      for (const pid of strays.splice(0)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone, as it should be */
        }
      }
    });
    const plugin = async (n: CliNode) => one((await cniReport(n)).checks, 'offload-plugin');
    const install = (path: string) => `install it on every node: the DaemonSet that kube-ovn-offload manifests prints, or the single executable copied to ${path}, mode 0755`;

    it('missing: FAIL', async () => {
      const n = await make();
      rmSync(join(n.cni.binDir, 'kube-ovn-offload'));
      const path = join(n.cni.binDir, 'kube-ovn-offload');
      expect(await plugin(n)).toMatchObject({ status: 'FAIL', detail: `not installed: there is no ${path}`, fix: install(path) });
    });

    it('not executable: FAIL with the chmod, and it is not run', async () => {
      const n = await make();
      const marker = join(n.cni.root, 'ran');
      const path = n.cni.script('kube-ovn-offload', `#!/bin/sh\ntouch '${marker}'\n`, 0o644);
      expect(await plugin(n)).toMatchObject({ status: 'FAIL', detail: `${path} is not executable (mode 0644)`, fix: `chmod 755 ${path}` });
      expect(existsSync(marker)).toBe(false);
    });

    it('a script that prints garbage: FAIL quoting it', async () => {
      const n = await make();
      const path = n.cni.script('kube-ovn-offload', '#!/bin/sh\necho "<html>garbage</html>"\n');
      expect(await plugin(n)).toMatchObject({ status: 'FAIL', detail: `${path} does not answer CNI_COMMAND=VERSION as a CNI plugin does: exit 0, stdout "<html>garbage</html>"` });
    });

    it('one that hangs: FAIL after the timeout, and the hung process is killed', async () => {
      const n = await make();
      const pidFile = join(n.cni.root, 'hung.pid');
      const path = n.cni.script('kube-ovn-offload', `#!/bin/sh\necho $$ > '${pidFile}'\nexec sleep 120\n`);
      const started = Date.now();
      const check = await plugin(n);
      const took = Date.now() - started;
      const pid = Number(readFileSync(pidFile, 'utf8').trim());
      strays.push(pid);
      expect(check).toMatchObject({ status: 'FAIL', detail: `${path} did not answer within 5s` });
      expect(took).toBeGreaterThanOrEqual(5_000);
      expect(took).toBeLessThan(20_000);
      // Killed: gone, or a zombie that doctor's exit hands to init for reaping (not yet done here).
      expect(await runningAfter(pid, 2_000)).toBe(false);
    });

    it('built for another architecture: FAIL naming both, without running it', async () => {
      const n = await make();
      const [other, eMachine] = process.arch === 'arm64' ? ['x64', 0x3e] : ['arm64', 0xb7];
      const path = n.cni.copyBinary('kube-ovn-offload', '/bin/true', (b) => {
        b.writeUInt16LE(eMachine, 18);
        return b;
      });
      expect(await plugin(n)).toMatchObject({ status: 'FAIL', detail: `${path} is built for ${other}, and this machine is ${process.arch}` });
    });

    it('a truncated copy: FAIL', async () => {
      const n = await make();
      const path = n.cni.copyBinary('kube-ovn-offload', '/bin/true', (b) => b.subarray(0, 100));
      expect((await plugin(n)).detail).toMatch(new RegExp(`^${path} is a truncated ELF file \\(100 bytes; its headers reach byte \\d+\\)$`));
    });

    it('a script whose interpreter is missing: FAIL naming it', async () => {
      const n = await make();
      const path = n.cni.script('kube-ovn-offload', '#!/nonexistent/node\n');
      expect(await plugin(n)).toMatchObject({ status: 'FAIL', detail: `${path} cannot be run: its interpreter "/nonexistent/node" is not there` });
    });
  });

  describe('kube-ovn in the bin dir', () => {
    const kubeOvn = async (n: CliNode) => one((await cniReport(n)).checks, 'kube-ovn-plugin');
    const image = 'the kube-ovn-cni image\'s tag names it: kubectl -n kube-system get ds kube-ovn-cni -o jsonpath=\'{..image}\'';

    it('a release before the Subnet rule: PASS, the release alone', async () => {
      const n = await make();
      const path = n.cni.kubeOvn('v1.16.2');
      expect(await kubeOvn(n)).toMatchObject({ status: 'PASS', detail: `v1.16.2 (${path})` });
    });

    it('built without a version ("unknown"): WARN, said as unknown', async () => {
      const n = await make();
      const path = n.cni.kubeOvn('unknown');
      expect(await kubeOvn(n)).toMatchObject({ status: 'WARN', detail: `version unknown: ${path} says "CNI kube-ovn plugin unknown"`, fix: image });
    });

    it('v1.10 or older (no about text, a CNI error instead): WARN, unknown', async () => {
      const n = await make();
      const path = n.cni.kubeOvn(null);
      expect(await kubeOvn(n)).toMatchObject({ status: 'WARN', detail: `version unknown: ${path} runs, and prints no version (kube-ovn v1.10 and older do not)` });
    });

    it('missing: FAIL', async () => {
      const n = await make();
      rmSync(join(n.cni.binDir, 'kube-ovn'));
      expect(await kubeOvn(n)).toMatchObject({ status: 'FAIL', detail: `not installed: there is no ${join(n.cni.binDir, 'kube-ovn')}` });
    });

    it.skipIf(!existsSync(KUBE_OVN_CNI))('the Go stand-in (test/support/kube-ovn-cni): WARN, its about text names no release', async () => {
      const n = await make();
      const path = n.cni.copyBinary('kube-ovn', KUBE_OVN_CNI);
      expect(await kubeOvn(n)).toMatchObject({ status: 'WARN', detail: `version unknown: ${path} says "CNI kube-ovn plugin (test stand-in, not shipped)"` });
    });
  });

  it('reads the dirs that --cni-conf-dir and --cni-bin-dir name', async () => {
    const n = await make({ cni: false });
    const elsewhere = new CniDirs(join(n.node.root, 'elsewhere'));
    guideSetup(elsewhere);
    const { checks } = await cniReport(n, '--cni-conf-dir', elsewhere.confDir, '--cni-bin-dir', elsewhere.binDir);
    expect(new Set(checks.map((c) => c.scope))).toEqual(new Set([`CNI ${elsewhere.confDir} ${elsewhere.binDir}`]));
    expect(one(checks, 'offload-plugin').status).toBe('PASS');
    expect(one(checks, 'multus').status).toBe('PASS');
  });

  it('an empty conf dir: FAIL, no CNI configuration', async () => {
    const n = await make({ cni: false });
    const { checks, lines } = await cniReport(n);
    expect(lines).toEqual(['FAIL offload-plugin', 'FAIL multus', 'FAIL kube-ovn-plugin']);
    expect(one(checks, 'multus')).toMatchObject({ detail: `no CNI configuration in ${n.cni.confDir}: pods get no network` });
  });
});
