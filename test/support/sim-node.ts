/**
 * A simulated Mellanox node: a fake sysfs tree of real folders and symlinks under a temp
 * root (the layout of /sys on a ConnectX-5 host), plus the state file that the fake
 * `devlink` and `ethtool` in test/support/fake-tools answer from. The model is the one
 * source of truth; every change rewrites the parts of the tree it touches and the state file,
 * the way the kernel would show it.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export type Mode = 'switchdev' | 'legacy';
export type HwTc = 'on' | 'off' | 'unsupported';
/** How a fake tool behaves: answer, be missing from PATH, hang, print garbage, or fail. */
export type ToolBehaviour = 'ok' | 'absent' | 'hang' | 'garbage' | 'nokernel';

export interface VfSpec {
  index: number;
  pci: string;
  driver: 'mlx5_core' | 'vfio-pci' | '';
  /** The VF's netdev in the host netns; undefined on vfio-pci or while it is in a pod. */
  netdev?: string;
  /** The representor's netdev; undefined when the PF is in legacy mode. */
  rep?: string;
  mac: string;
  /** The MAC the PF holds for this VF (`ip link set <pf> vf N mac M`): what the kube-ovn daemon sets on ADD and clears on DEL. */
  adminMac?: string;
  /** Where the netdev is while it is not in the host netns (a pod's): the netns path, its name, ifalias, MAC and addresses there. */
  away?: { netns: string; name: string; alias?: string; mac?: string; addresses?: string[] };
}

export interface PfSpec {
  pci: string;
  /** The uplink netdev (phys_port_name p<N>). */
  uplink: string;
  mode: Mode;
  hwTc: HwTc;
  switchId: string;
  vfs: VfSpec[];
  totalVfs: number;
  /** Extra representors of an external host (a BlueField DPU): c1pf<P>vf<N>, named here. */
  hostReps?: Array<{ name: string; vf: number }>;
  /** Write /sys/class/net/<uplink>/compat/devlink/mode (MOFED kernels). */
  compatFile?: boolean;
  /** The uplink enslaved to this bond (master link, bonding/ on the bond, bonding_slave/). */
  bond?: string;
  /** The uplink under a non-bond master (an OVS bridge's ovs-system, a Linux bridge). */
  master?: string;
}

export interface NodeSpec {
  pfs: PfSpec[];
  /** 'fake' (default) records calls and answers from `netnsLinks`; 'real' uses the system's (root). */
  nsenter?: 'fake' | 'real';
  /** For the fake nsenter: links per netns path, in `ip -j addr show` form. */
  netnsLinks?: Record<string, Record<string, unknown>>;
  devlink?: ToolBehaviour;
  ethtool?: ToolBehaviour;
  /** A path to the host's netns (/proc/<pid>/ns/net of the test): the fake `ip` reads the kernel's links there after a change. */
  hostNetns?: string;
  /** Where the fake tools are; kept in the model for the bundled sim-kernel, which cannot tell from its own path. */
  toolsDir?: string;
}

const PCI_PARENT = 'devices/pci0000:40/0000:40:02.0';
const FAKE_TOOLS = fileURLToPath(new URL('./fake-tools', import.meta.url));
/** The real iproute2, which the fake `ip` hands every command it does not model. */
export const REAL_IP = '/bin/ip';

/** A ConnectX-5 PF 0000:42:00.0 with `vfs` VFs in switchdev, hw-tc-offload on. */
export function connectx5(opts: { vfs?: number; prefix?: string; mode?: Mode; hwTc?: HwTc; pci?: string } = {}): PfSpec {
  const n = opts.vfs ?? 4;
  const pci = opts.pci ?? '0000:42:00.0';
  const prefix = opts.prefix ?? 'enp66s0f0';
  const mode = opts.mode ?? 'switchdev';
  // VFs follow the PF at routing ID + 2 + N, as on a ConnectX: 0000:42:00.2, .3, … 0000:42:01.0, … 0000:42:1f.7, 0000:43:00.0
  const rid = (parseInt(pci.slice(5, 7), 16) << 8) | (parseInt(pci.slice(8, 10), 16) << 3) | Number(pci.slice(11));
  const hex = (n: number) => n.toString(16).padStart(2, '0');
  const address = (r: number) => `${pci.slice(0, 5)}${hex(r >> 8)}:${hex((r >> 3) & 0x1f)}.${r & 7}`;
  return {
    pci,
    uplink: `${prefix}np0`.slice(0, 15),
    mode,
    hwTc: opts.hwTc ?? 'on',
    switchId: 'b8599f0300c1ec12',
    totalVfs: 8,
    vfs: Array.from({ length: n }, (_, i) => ({
      index: i,
      pci: address(rid + 2 + i),
      driver: 'mlx5_core' as const,
      netdev: `${prefix}v${i}`.slice(0, 15),
      rep: `${prefix}r${i}`.slice(0, 15), // present in sysfs only in switchdev mode
      mac: `02:00:00:${hex(i >> 8)}:42:${hex(i & 0xff)}`,
    })),
  };
}

/**
 * sriov_offset and sriov_stride as the kernel shows them: VF N at the PF's routing ID +
 * offset + N × stride. Taken from VF 0's address (ConnectX: offset 2, stride 1); a spec whose
 * VFs do not follow it keeps the kernel's files anyway, and the plugin must notice.
 */
function sriovPlacement(pf: PfSpec): Record<string, string> {
  const rid = (pci: string) => (parseInt(pci.slice(5, 7), 16) << 8) | (parseInt(pci.slice(8, 10), 16) << 3) | Number(pci.slice(11));
  const first = pf.vfs[0];
  return { sriov_offset: String(first ? rid(first.pci) - rid(pf.pci) - first.index : 2), sriov_stride: '1' };
}

export class SimNode {
  readonly root: string;
  private current: NodeSpec;
  private changing = 0;

  constructor(spec: NodeSpec, root?: string, build = true) {
    this.root = root ?? mkdtempSync(join(tmpdir(), 'kovo-sysfs-'));
    this.current = spec;
    if (build) this.change(() => this.build(), { fresh: true });
  }

  private get toolsDir(): string {
    return this.spec.toolsDir ?? FAKE_TOOLS;
  }

  /**
   * The model as the last change left it, whoever made it: the fake tools change the node from
   * their own processes (sim-kernel.ts), and the simulated daemon from the test's.
   */
  get spec(): NodeSpec {
    if (this.changing === 0 && existsSync(this.modelFile)) this.current = JSON.parse(readFileSync(this.modelFile, 'utf8')) as NodeSpec;
    return this.current;
  }

  private get modelFile(): string {
    return join(this.root, 'sim-node.json');
  }

  /** One change of the node: under a lock, starting from the model on disk, written back whole. */
  private change<T>(fn: () => T, opts: { fresh?: boolean } = {}): T {
    if (this.changing > 0) return fn();
    const release = lockModel(this.root);
    this.changing++;
    try {
      if (!opts.fresh && existsSync(this.modelFile)) this.current = JSON.parse(readFileSync(this.modelFile, 'utf8')) as NodeSpec;
      const result = fn();
      this.writeState();
      return result;
    } finally {
      this.changing--;
      release();
    }
  }

  /**
   * The node a tree was built for, read back from the model kept beside it: the fake tools'
   * "kernel" (sim-kernel.ts) uses it to apply `devlink … set` and `ethtool -K` as mlx5 would.
   */
  static load(root: string): SimNode {
    return new SimNode(JSON.parse(readFileSync(join(root, 'sim-node.json'), 'utf8')) as NodeSpec, root, false);
  }

  /** PATH for the plugin: the fake tools first (those not 'absent'), then the system's. */
  get path(): string {
    return `${join(this.root, 'bin')}:/usr/bin:/bin`;
  }

  /** The environment the plugin runs in on this node. */
  /** The node's environment; config-named paths (log_file, device-info files) may be under the temp folder. */
  env(): Record<string, string> {
    return { PATH: this.path, KUBE_OVN_OFFLOAD_SYSFS_ROOT: this.root, KUBE_OVN_OFFLOAD_PATH_ROOTS: tmpdir() };
  }

  get stateFile(): string {
    return join(this.root, 'fake-tools.json');
  }

  pf(pci?: string): PfSpec {
    const pf = pci ? this.spec.pfs.find((p) => p.pci === pci) : this.spec.pfs[0];
    if (!pf) throw new Error(`no PF ${pci}`);
    return pf;
  }

  vf(pci: string): { pf: PfSpec; vf: VfSpec } {
    for (const pf of this.spec.pfs) {
      const vf = pf.vfs.find((v) => v.pci === pci);
      if (vf) return { pf, vf };
    }
    throw new Error(`no VF ${pci} on the simulated node`);
  }

  remove(): void {
    rmSync(this.root, { recursive: true, force: true });
  }

  // --- changes, as the kernel would show them -------------------------------------------

  setMode(pci: string, mode: Mode): void {
    this.change(() => {
      const pf = this.pf(pci);
      pf.mode = mode;
      this.rebuildPf(pf);
    });
  }

  /**
   * A VF changed by hand (its driver, its netdev, its representor gone): the PF's tree is
   * rewritten from the model, and a netdev that no longer exists leaves /sys/class/net.
   */
  editVf(pci: string, edit: (vf: VfSpec) => void): void {
    this.change(() => {
      const { pf, vf } = this.vf(pci);
      const before = [vf.netdev, vf.rep];
      edit(vf);
      for (const name of before) if (name && name !== vf.netdev && name !== vf.rep) rmSync(this.sys('class', 'net', name), { force: true });
      this.rebuildPf(pf);
    });
  }

  /** `ethtool -K <uplink> hw-tc-offload on|off` as the driver takes it; false for another netdev. */
  setHwTcOfNetdev(netdev: string, on: boolean): boolean {
    return this.change(() => {
      const pf = this.spec.pfs.find((p) => p.uplink === netdev);
      if (!pf || pf.hwTc === 'unsupported') return false;
      this.setHwTc(pf.pci, on ? 'on' : 'off');
      return true;
    });
  }

  setHwTc(pci: string, hwTc: HwTc): void {
    this.change(() => (this.pf(pci).hwTc = hwTc));
  }

  /** Calls the fake nsenter received: one argument list each. */
  nsenterCalls(): string[][] {
    const file = join(this.root, 'nsenter.calls');
    return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as string[]) : [];
  }

  /** Puts links into the fake nsenter's view of a netns (for CHECK). */
  setNetnsLinks(netns: string, links: Record<string, unknown>): void {
    this.change(() => (this.spec.netnsLinks = { ...this.spec.netnsLinks, [netns]: links }));
  }

  setTool(tool: 'devlink' | 'ethtool', behaviour: ToolBehaviour): void {
    this.change(() => (this.spec[tool] = behaviour));
  }

  /** A netdev renamed (`ip link set dev old name new`): representor or VF. */
  renameNetdev(oldName: string, newName: string): void {
    this.change(() => {
      for (const pf of this.spec.pfs) {
        for (const vf of pf.vfs) {
          if (vf.rep === oldName) {
            this.moveNetdevDir(pf.pci, oldName, newName);
            vf.rep = newName;
          } else if (vf.netdev === oldName) {
            this.moveNetdevDir(vf.pci, oldName, newName);
            vf.netdev = newName;
          }
        }
      }
    });
  }

  /** The VF netdev left the host netns (moved into a pod): <vf>/net is empty now. */
  vfLeftHost(pci: string, away?: VfSpec['away']): void {
    this.change(() => {
      const { vf } = this.vf(pci);
      if (vf.netdev) {
        rmSync(this.sys('class', 'net', vf.netdev), { force: true });
        rmSync(this.sys(PCI_PARENT, vf.pci, 'net', vf.netdev), { recursive: true, force: true });
      }
      vf.netdev = undefined;
      if (away) vf.away = away;
    });
  }

  /** The VF netdev came back to the host netns under `name`. */
  vfReturned(pci: string, name: string): void {
    this.change(() => {
      const { vf } = this.vf(pci);
      vf.netdev = name;
      vf.away = undefined;
      this.writeNetdev(vf.pci, name, { address: vf.mac });
    });
  }

  /**
   * A pod netns destroyed (model only): the kernel returns the physical netdevs in it to the
   * host netns under the names they have (default_device_exit).
   */
  netnsDestroyed(netns: string): void {
    this.change(() => {
      for (const vf of this.spec.pfs.flatMap((p) => p.vfs)) if (vf.away?.netns === netns) this.vfReturned(vf.pci, vf.away.name);
    });
  }

  /** The VF whose netdev is `name` inside `netns` (model only: the unprivileged suites' pods). */
  vfAway(netns: string, name: string): VfSpec | undefined {
    return this.spec.pfs.flatMap((p) => p.vfs).find((v) => v.away?.netns === netns && v.away.name === name);
  }

  /** A VF netdev renamed inside a pod's netns (model only). */
  renameAway(netns: string, name: string, newName: string): boolean {
    return this.change(() => {
      const vf = this.vfAway(netns, name);
      if (vf) vf.away = { ...vf.away!, name: newName };
      return Boolean(vf);
    });
  }

  /**
   * `ip link set <pf> vf <n> mac <mac>`, as mlx5 takes it: the PF's table of VF MACs changes.
   * False when `netdev` is not a PF of this node (the real `ip` then answers instead).
   */
  setVfMac(netdev: string, index: number, mac: string): boolean {
    return this.change(() => {
      const vf = this.spec.pfs.find((p) => p.uplink === netdev)?.vfs.find((v) => v.index === index);
      if (vf) vf.adminMac = mac.toLowerCase();
      return Boolean(vf);
    });
  }

  /**
   * Reads where the kernel has each VF netdev now and shows it in sysfs, as the kernel would:
   * a VF and its representor are the two ends of a veth, so the representor's peer is the VF;
   * a peer named in the host netns is there, a peer in another netns (link_netnsid) is not.
   */
  syncFromKernel(): void {
    this.change(() => {
      // Read under the lock: every change of the model follows the kernel's, so a snapshot taken
      // here is never older than the model, and a change made after it is written after it.
      const args = ['-j', 'link', 'show'];
      const out = this.spec.hostNetns
        ? execFileSync('nsenter', [`--net=${this.spec.hostNetns}`, REAL_IP, ...args], { encoding: 'utf8', timeout: 10_000 })
        : execFileSync(REAL_IP, args, { encoding: 'utf8', timeout: 10_000 });
      const links = new Map((JSON.parse(out) as Array<{ ifname: string; link?: string }>).map((l) => [l.ifname, l]));
      for (const pf of this.spec.pfs) {
        for (const vf of pf.vfs) {
          const peer = vf.rep ? links.get(vf.rep)?.link : undefined;
          if (peer && peer !== vf.netdev) this.vfReturned(vf.pci, peer);
          else if (!peer && vf.netdev && vf.rep && links.has(vf.rep)) this.vfLeftHost(vf.pci);
        }
      }
    });
  }

  // --- the tree -------------------------------------------------------------------------

  private sys(...parts: string[]): string {
    return join(this.root, 'sys', ...parts);
  }

  private link(target: string, at: string): void {
    mkdirSync(dirname(at), { recursive: true });
    rmSync(at, { force: true });
    symlinkSync(relative(dirname(at), target), at);
  }

  private write(path: string, content: string): void {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content.endsWith('\n') ? content : content + '\n');
  }

  private build(): void {
    this.spec.toolsDir ??= FAKE_TOOLS;
    for (const d of ['mlx5_core', 'vfio-pci']) mkdirSync(this.sys('bus', 'pci', 'drivers', d), { recursive: true });
    mkdirSync(this.sys('class', 'net'), { recursive: true });
    for (const pf of this.spec.pfs) this.rebuildPf(pf);
  }

  private pciDevice(pci: string, attrs: Record<string, string>, driver: string): string {
    const dir = this.sys(PCI_PARENT, pci);
    mkdirSync(dir, { recursive: true });
    for (const [k, v] of Object.entries(attrs)) this.write(join(dir, k), v);
    this.link(dir, this.sys('bus', 'pci', 'devices', pci));
    if (driver) this.link(this.sys('bus', 'pci', 'drivers', driver), join(dir, 'driver'));
    else rmSync(join(dir, 'driver'), { force: true });
    return dir;
  }

  private writeNetdev(pci: string, name: string, attrs: Record<string, string>): void {
    const dir = this.sys(PCI_PARENT, pci, 'net', name);
    mkdirSync(dir, { recursive: true });
    for (const [k, v] of Object.entries(attrs)) this.write(join(dir, k), v);
    this.link(this.sys(PCI_PARENT, pci), join(dir, 'device'));
    this.link(dir, this.sys('class', 'net', name));
  }

  private moveNetdevDir(pci: string, oldName: string, newName: string): void {
    const from = this.sys(PCI_PARENT, pci, 'net', oldName);
    const to = this.sys(PCI_PARENT, pci, 'net', newName);
    if (existsSync(from)) renameSync(from, to);
    rmSync(this.sys('class', 'net', oldName), { force: true });
    this.link(to, this.sys('class', 'net', newName));
  }

  /** Writes a PF, its VFs and (in switchdev) the representors, from the model. */
  private rebuildPf(pf: PfSpec): void {
    const pfDir = this.pciDevice(pf.pci, { vendor: '0x15b3', device: '0x1017', sriov_numvfs: String(pf.vfs.length), sriov_totalvfs: String(pf.totalVfs), ...sriovPlacement(pf) }, 'mlx5_core');
    const pfNum = pf.pci.slice(-1);
    rmSync(join(pfDir, 'net'), { recursive: true, force: true });
    const uplinkAttrs: Record<string, string> = { address: 'b8:59:9f:c1:ec:12' };
    if (pf.mode === 'switchdev') Object.assign(uplinkAttrs, { phys_port_name: `p${pfNum}`, phys_switch_id: pf.switchId });
    if (pf.compatFile) uplinkAttrs['compat/devlink/mode'] = pf.mode;
    this.writeNetdev(pf.pci, pf.uplink, uplinkAttrs);
    const upper = pf.bond ?? pf.master;
    if (upper) {
      // A virtual device, as the kernel lists bonds and bridges: /sys/devices/virtual/net/<name>.
      const dir = this.sys('devices', 'virtual', 'net', upper);
      mkdirSync(dir, { recursive: true });
      if (pf.bond) {
        this.write(join(dir, 'bonding', 'slaves'), pf.uplink);
        this.write(join(dir, 'bonding', 'mode'), 'active-backup 1');
        this.write(this.sys(PCI_PARENT, pf.pci, 'net', pf.uplink, 'bonding_slave', 'state'), 'active');
      }
      this.link(dir, this.sys('class', 'net', upper));
      this.link(dir, this.sys(PCI_PARENT, pf.pci, 'net', pf.uplink, 'master'));
    }
    for (const vf of pf.vfs) {
      this.link(this.sys(PCI_PARENT, vf.pci), join(pfDir, `virtfn${vf.index}`));
      const vfDir = this.pciDevice(vf.pci, { vendor: '0x15b3', device: '0x1018' }, vf.driver);
      this.link(pfDir, join(vfDir, 'physfn'));
      if (vf.netdev && vf.driver === 'mlx5_core') this.writeNetdev(vf.pci, vf.netdev, { address: vf.mac });
      else rmSync(join(vfDir, 'net'), { recursive: true, force: true }); // vfio-pci: no netdev
      if (pf.mode === 'switchdev' && vf.rep) {
        this.writeNetdev(pf.pci, vf.rep, { phys_port_name: `pf${pfNum}vf${vf.index}`, phys_switch_id: pf.switchId, address: `ee:00:00:${(vf.index >> 8).toString(16).padStart(2, '0')}:42:${(vf.index & 0xff).toString(16).padStart(2, '0')}` });
      } else if (vf.rep) {
        rmSync(this.sys('class', 'net', vf.rep), { force: true });
      }
    }
    if (pf.mode === 'switchdev') {
      for (const h of pf.hostReps ?? []) {
        this.writeNetdev(pf.pci, h.name, { phys_port_name: `c1pf${pfNum}vf${h.vf}`, phys_switch_id: pf.switchId, address: '00:00:00:00:00:00' });
      }
    }
  }

  /** What the fake devlink and ethtool print, derived from the model. */
  private writeBin(): void {
    const bin = join(this.root, 'bin');
    mkdirSync(bin, { recursive: true });
    const dir = this.toolsDir;
    const tools: Record<string, string> = { devlink: join(dir, 'devlink'), ethtool: join(dir, 'ethtool'), ip: join(dir, 'ip') };
    if (this.spec.nsenter !== 'real') tools.nsenter = join(dir, 'nsenter');
    for (const [name, target] of Object.entries(tools)) {
      const at = join(bin, name);
      const behaviour = name === 'devlink' || name === 'ethtool' ? this.spec[name] : 'ok';
      if (behaviour === 'absent') {
        rmSync(at, { force: true });
        continue;
      }
      // Left alone when right, else replaced by rename: a tool started by a plugin at this very
      // moment must find either link, never none.
      if (linkTarget(at) === target) continue;
      const tmp = `${at}.tmp.${process.pid}`;
      rmSync(tmp, { force: true });
      symlinkSync(target, tmp);
      renameSync(tmp, at);
    }
  }

  private writeState(): void {
    this.writeBin();
    const eswitch: Record<string, unknown> = {};
    const ports: Record<string, unknown> = {};
    const features: Record<string, unknown> = {};
    for (const pf of this.spec.pfs) {
      const pfNum = Number(pf.pci.slice(-1));
      eswitch[`pci/${pf.pci}`] = { mode: pf.mode, 'inline-mode': 'none', 'encap-mode': 'basic' };
      features[pf.uplink] = {
        'hw-tc-offload': pf.hwTc === 'on' ? { active: true, fixed: false, requested: true }
          : pf.hwTc === 'off' ? { active: false, fixed: false, requested: false }
          : { active: false, fixed: true, requested: false },
      };
      if (pf.mode !== 'switchdev') continue;
      // An external host's ports listed first, so a lookup that ignores the controller is caught.
      for (const h of pf.hostReps ?? []) {
        ports[`pci/${pf.pci}/${h.vf + 1}`] = { type: 'eth', netdev: h.name, flavour: 'pcivf', controller: 1, pfnum: pfNum, vfnum: h.vf, external: true, splittable: false, function: { hw_addr: '00:00:00:00:00:00' } };
      }
      for (const vf of pf.vfs) {
        if (!vf.rep) continue;
        ports[`pci/${pf.pci}/${vf.index + 32769}`] = {
          type: 'eth', netdev: vf.rep, flavour: 'pcivf', controller: 0, pfnum: pfNum, vfnum: vf.index, external: false, splittable: false,
          function: { hw_addr: vf.mac, roce: 'enable', migratable: 'disable' },
        };
      }
      ports[`pci/${pf.pci}/65535`] = { type: 'eth', netdev: pf.uplink, flavour: 'physical', port: pfNum, splittable: false };
    }
    const state = {
      devlink: { behaviour: this.spec.devlink ?? 'ok', eswitch, ports },
      ethtool: { behaviour: this.spec.ethtool ?? 'ok', features },
      netns: this.spec.netnsLinks ?? {},
    };
    // Renamed into place: a fake tool reading it while pods race never sees half a file.
    const tmp = `${this.stateFile}.tmp`;
    writeFileSync(tmp, JSON.stringify(state, null, 1));
    renameSync(tmp, this.stateFile);
    writeFileSync(`${tmp}.model`, JSON.stringify(this.spec));
    renameSync(`${tmp}.model`, join(this.root, 'sim-node.json'));
  }
}

/** A lock between the processes that change one node's model (mkdir is atomic); a holder dead for 10 s is broken. */
function lockModel(root: string): () => void {
  const path = join(root, 'sim-node.lock');
  const nap = new Int32Array(new SharedArrayBuffer(4));
  for (let waited = 0; ; waited += 2) {
    try {
      mkdirSync(path);
      return () => rmSync(path, { recursive: true, force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (waited > 10_000) {
      rmSync(path, { recursive: true, force: true });
      waited = 0;
    }
    Atomics.wait(nap, 0, 0, 2);
  }
}

function linkTarget(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}
