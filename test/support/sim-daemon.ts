/**
 * A simulated kube-ovn daemon (kube-ovn-cni's CNI server) on a unix socket, as strict as the
 * real one: it speaks the protocol of docs/upstream.md#kube-ovn-the-daemons-http-router (415 without
 * the JSON content type, 404/405 as plain text, 200 + CniResponse for ADD, 204 for DEL), and
 * answers each request as pkg/daemon/handler.go of the configured kube-ovn version would, in
 * the cluster it is given (sim-cluster.ts): an address only where kube-ovn-controller would
 * have annotated one, its refusals otherwise. It records every request.
 *
 * For an offload port (deviceID set) it does the daemon's work on the simulated node
 * (ovs_linux.go setupSriovInterface, configureNic, configureContainerNic; on DEL releaseVf and
 * deleteNic): the representor renamed to generateNicName's name, the VF MAC set through the
 * PF, the port added to br-int with kube-ovn's external_ids (and ovn-installed, standing in
 * for ovn-controller), the VF moved into the pod netns and renamed; on DEL the VF renamed back
 * but LEFT in the pod netns, the representor down, the port removed, the VF MAC cleared.
 * The model of the node always changes; with `plumb` (root) the kernel does too: real veths,
 * a real netns. Test-only; never shipped.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { rmSync, statfsSync } from 'node:fs';
import { execa } from 'execa';
import { isOvnProvider, type SimCluster } from './sim-cluster.js';
import type { SimNode } from './sim-node.js';

export type Fault =
  | { kind: 'status'; status: number; body: string; contentType?: string }
  | { kind: 'hang' }
  | { kind: 'reset' };

export interface Recorded {
  method: string;
  path: string;
  contentType: string | undefined;
  body: Record<string, unknown>;
  /** When the request arrived (Date.now()). */
  at: number;
}

export interface SimDaemonOptions {
  socketPath: string;
  cluster: SimCluster;
  /** The node whose VFs and representors it plumbs (model; the kernel too with `plumb`). */
  node?: SimNode;
  /** Also make the changes in the kernel: real veths, a real netns (root). */
  plumb?: boolean;
  /** br-int's OVSDB: the port added and removed with kube-ovn's external_ids. */
  ovs?: { vsctl(...args: string[]): Promise<string> };
  /**
   * ovn-controller, which sets external_ids:ovn-installed on its own, shortly after the daemon
   * adds the port (bindMs, default 20), whether or not the daemon waits for it; 'down' never does.
   */
  ovnController?: 'up' | 'down';
  bindMs?: number;
  /** kube-ovn's 20 × 1 s address wait and 30 s ovn-installed wait, shortened. */
  waitMs?: { address?: number; ovnInstalled?: number };
  /** Every ADD/DEL answered this way instead of served. */
  fault?: Fault;
  mtu?: number;
}

/** A failure the handler reports with a status, as WriteHeaderAndEntity(status, CniResponse{Err}). */
class Refusal extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}
/** generateNicName's slice out of range: go-restful does not recover, the client sees EOF. */
class Panic extends Error {}

type Req = Record<string, unknown> & { pod_name: string; pod_namespace: string; container_id: string; net_ns: string; if_name: string; provider: string; deviceID: string; vf_driver: string; cni_type: string };

type Ipv4 = { ip: string; cidr: string; gateway: string };
type Route = { dst?: string; gw?: string };

const NSFS_MAGIC = 0x6e736673;
const PCI = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/; // ovs_linux.go pciAddrRegexp's intent

/** kube-ovn's generateNicName, written from its source for the simulator (the plugin has its own). */
export function generateNicName(containerId: string, ifname: string): string {
  // containerID[0:12] and containerID[0:12-len(ifname)] panic out of range, as Go slices do.
  if (containerId.length < 12) throw new Panic(`slice bounds out of range [:12] with length ${containerId.length}`);
  if (ifname === 'eth0') return `${containerId.slice(0, 12)}_h`;
  const short = ifname.startsWith('pod') && ifname.length === 14 ? ifname.slice(3, 10) : ifname;
  if (short.length > 12) throw new Panic(`slice bounds out of range [:${12 - short.length}]`);
  return `${containerId.slice(0, 12 - short.length)}_${short}_h`;
}

export class SimDaemon {
  readonly requests: Recorded[] = [];
  private server?: Server;
  /** ovn-controller's bindings under way, by port: the daemon's wait and stop() await them. */
  private readonly bindings = new Map<string, Promise<void>>();

  constructor(readonly opts: SimDaemonOptions) {}

  get cluster(): SimCluster {
    return this.opts.cluster;
  }

  async start(): Promise<this> {
    rmSync(this.opts.socketPath, { force: true });
    this.server = createServer((req, res) => void this.serve(req, res));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.opts.socketPath, resolve);
    });
    return this;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s) {
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
    await Promise.all(this.bindings.values());
    rmSync(this.opts.socketPath, { force: true });
  }

  setFault(fault: Fault | undefined): void {
    this.opts.fault = fault;
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const contentType = req.headers['content-type'];
    let body: Record<string, unknown> | undefined;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      /* answered below, as ReadEntity's failure */
    }
    this.requests.push({ method: req.method ?? '', path: req.url ?? '', contentType, body: body ?? {}, at: Date.now() });

    const plain = (status: number, msg: string) => res.writeHead(status, { 'Content-Type': 'text/plain' }).end(msg);
    if (req.url !== '/api/v1/add' && req.url !== '/api/v1/del') return void plain(404, '404: Page Not Found');
    if (req.method !== 'POST') return void plain(405, '405: Method Not Allowed');
    // go-restful: Consumes(application/json); no Content-Type counts as octet-stream.
    if (!contentType?.includes('application/json')) return void plain(415, '415: Unsupported Media Type');

    const fault = this.opts.fault;
    if (fault?.kind === 'hang') return; // never answers; the client's deadline must fire
    if (fault?.kind === 'reset') return void req.socket.destroy();
    if (fault?.kind === 'status') {
      return void res.writeHead(fault.status, { 'Content-Type': fault.contentType ?? 'application/json' }).end(fault.body);
    }
    const op = req.url === '/api/v1/add' ? 'add' : 'del';
    try {
      if (!body || typeof body !== 'object') throw new Refusal(400, `parse ${op} request failed ${text.slice(0, 80)}`);
      const r = { pod_name: '', pod_namespace: '', container_id: '', net_ns: '', if_name: '', provider: '', deviceID: '', vf_driver: '', cni_type: '', ...body } as Req;
      if (op === 'add') {
        const answer = await this.handleAdd(r);
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(answer, null, 2));
      } else {
        await this.handleDel(r);
        res.writeHead(204).end();
      }
    } catch (err) {
      if (err instanceof Panic) return void req.socket.destroy();
      const status = err instanceof Refusal ? err.status : 500;
      res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(this.errorBody((err as Error).message), null, 2));
    }
  }

  private errorBody(error: string): Record<string, unknown> {
    return this.cluster.legacyResponse
      ? { protocol: '', address: '', mac_address: '', cidr: '', gateway: '', routes: null, mtu: 0, nicname: '', dns: {}, error }
      : { ips: null, mac_address: '', routes: null, mtu: 0, nicname: '', dns: {}, error };
  }

  /** handler.go handleAdd. */
  private async handleAdd(r: Req): Promise<Record<string, unknown>> {
    const refusal = this.cluster.providerRefusal(r.provider, r.if_name);
    if (refusal) throw new Refusal(400, refusal);
    const pod = this.cluster.pod(r.pod_namespace, r.pod_name);
    if (!pod) throw new Error(`get pod ${r.pod_namespace}/${r.pod_name} failed pods "${r.pod_name}" not found`);
    const alloc = this.cluster.allocation(r.pod_namespace, r.pod_name, r.provider);
    if (!alloc) {
      await sleep(this.opts.waitMs?.address ?? 200); // kube-ovn waits 20 × 1 s for the controller
      throw new Error(`no address allocated to pod ${r.pod_namespace}/${r.pod_name} provider ${r.provider}, please see kube-ovn-controller logs to find errors`);
    }
    const ifname = r.if_name || 'eth0';
    const mtu = this.opts.mtu ?? 1400;
    const v4 = { ip: alloc.ip, cidr: alloc.subnet.cidrBlock, gateway: alloc.subnet.gateway };
    let routes: Route[] | null;
    try {
      routes = r.deviceID ? await this.configureOffloadNic(r, ifname, alloc.mac, mtu, v4) : await this.configureVethNic(r, ifname, alloc.mac, mtu, v4);
    } catch (err) {
      throw err instanceof Panic ? err : new Error(`configure nic ${ifname} for pod ${r.pod_name}/${r.pod_namespace} failed: ${(err as Error).message}`);
    }
    const isDefaultRoute = ifname === 'eth0';
    if (this.cluster.legacyResponse) {
      const dual = alloc.v6 !== undefined;
      return {
        protocol: dual ? 'Dual' : 'IPv4',
        address: dual ? `${v4.ip},${alloc.v6!.ip}` : v4.ip,
        mac_address: alloc.mac,
        cidr: dual ? `${v4.cidr},${alloc.v6!.cidr}` : v4.cidr,
        gateway: dual ? `${v4.gateway},${alloc.v6!.gateway}` : v4.gateway,
        routes, mtu, nicname: ifname, dns: {}, error: '',
      };
    }
    const gw = (g: string) => (isDefaultRoute ? { gateway: g } : {});
    const ips = [
      { protocol: 'IPv4', ip: v4.ip, cidr: v4.cidr, ...gw(v4.gateway) },
      ...(alloc.v6 ? [{ protocol: 'IPv6', ip: alloc.v6.ip, cidr: alloc.v6.cidr, ...gw(alloc.v6.gateway) }] : []),
    ];
    return { ips, mac_address: alloc.mac, routes, mtu, nicname: ifname, dns: {}, error: '' };
  }

  /** ovs_linux.go configureNic for a pod without a VF: setupVethPair, then the same port and container steps. */
  private async configureVethNic(r: Req, ifname: string, mac: string, mtu: number, v4: Ipv4): Promise<Route[]> {
    const host = generateNicName(r.container_id, ifname);
    const container = `${host.slice(0, -2)}_c`;
    if (this.opts.plumb) await ip('link', 'add', host, 'mtu', String(mtu), 'type', 'veth', 'peer', 'name', container, 'mtu', String(mtu));
    const rollback = await this.addPort(r, host, v4);
    try {
      await this.waitOvnInstalled(host);
      if (!netnsAlive(r.net_ns)) throw new Error(`failed to open netns "${r.net_ns}": unknown FS magic or no such file`);
      if (this.opts.plumb) await this.configureContainerNic(r.net_ns, container, ifname, mac, mtu, v4);
    } catch (err) {
      await rollback();
      if (this.opts.plumb) await execa('ip', ['link', 'del', host], { reject: false, timeout: 5000 }); // rollBackVethPair
      throw err;
    }
    return [{ dst: v4.cidr }, { gw: v4.gateway }];
  }

  /** The port on br-int with kube-ovn's external_ids (CleanDuplicatePort first); returns its rollback. */
  private async addPort(r: Req, host: string, v4: Ipv4): Promise<() => Promise<void>> {
    const ovs = this.opts.ovs;
    const ifaceId = r.provider === 'ovn' ? `${r.pod_name}.${r.pod_namespace}` : `${r.pod_name}.${r.pod_namespace}.${r.provider}`;
    if (ovs) {
      for (const name of (await ovs.vsctl('--bare', '--columns=name', 'find', 'interface', `external_ids:iface-id=${ifaceId}`)).split('\n').filter((n) => n && n !== host)) {
        await ovs.vsctl('--if-exists', '--with-iface', 'del-port', 'br-int', name);
      }
      await ovs.vsctl('--may-exist', 'add-port', 'br-int', host, '--', 'set', 'interface', host,
        `external_ids:iface-id=${ifaceId}`, 'external_ids:vendor=kube-ovn', `external_ids:pod_name=${r.pod_name}`,
        `external_ids:pod_namespace=${r.pod_namespace}`, `external_ids:pod_netns=${r.net_ns}`, `external_ids:ip=${v4.ip}`);
      if (this.opts.ovnController !== 'down') this.bind(host);
    }
    return async () => void (await ovs?.vsctl('--if-exists', '--with-iface', 'del-port', 'br-int', host)); // rollbackOvsPort
  }

  /** ovn-controller binds the port a moment after it appears: external_ids:ovn-installed=true. */
  private bind(host: string): void {
    const ovs = this.opts.ovs!;
    const done = sleep(this.opts.bindMs ?? 20)
      .then(() => ovs.vsctl('--if-exists', 'set', 'interface', host, 'external_ids:ovn-installed=true'))
      .then(() => undefined, () => undefined) // the port went in the meantime
      .finally(() => this.bindings.get(host) === done && this.bindings.delete(host));
    this.bindings.set(host, done);
  }

  /** The daemon waits 30 s for ovn-controller to set external_ids:ovn-installed=true (not for vfio-pci, which returns first). */
  private async waitOvnInstalled(host: string): Promise<void> {
    if (this.opts.ovnController !== 'down') return void (await this.bindings.get(host));
    await sleep(this.opts.waitMs?.ovnInstalled ?? 200);
    throw new Error(`ovs interface ${host} is not ready after 30s`);
  }

  /** configureContainerNic: into the pod netns, renamed, MAC, MTU, up, address, default route. */
  private async configureContainerNic(netns: string, name: string, ifname: string, mac: string, mtu: number, v4: Ipv4): Promise<void> {
    await ip('link', 'set', 'dev', name, 'netns', netns); // iproute2 takes a path here
    await ipIn(netns, 'link', 'set', 'dev', name, 'name', ifname);
    await ipIn(netns, 'link', 'set', 'dev', ifname, 'address', mac.toLowerCase(), 'mtu', String(mtu), 'up');
    await ipIn(netns, 'addr', 'add', `${v4.ip}/${v4.cidr.split('/')[1]}`, 'dev', ifname);
    if (ifname === 'eth0') await ipIn(netns, 'route', 'add', 'default', 'via', v4.gateway, 'dev', ifname);
  }

  /** ovs_linux.go configureNic for an offload port; the routes it returns (null for vfio-pci). */
  private async configureOffloadNic(r: Req, ifname: string, mac: string, mtu: number, v4: Ipv4): Promise<Route[] | null> {
    const node = this.opts.node;
    if (!node) throw new Error('simulated daemon has no node to plumb an offload port on');
    const host = generateNicName(r.container_id, ifname);
    // setupSriovInterface
    const found = node.spec.pfs.flatMap((pf) => pf.vfs.map((vf) => ({ pf, vf }))).find((x) => x.vf.pci === r.deviceID);
    if (!found) throw new Error(`failed to get one netdevice interface per ${r.deviceID}`);
    const { pf, vf } = found;
    const vfio = r.vf_driver === 'vfio-pci';
    if (vfio && vf.driver !== 'vfio-pci') throw new Error(`driver of device ${r.deviceID} is not 'vfio-pci'`);
    if (!vfio && !vf.netdev) throw new Error(`failed to get one netdevice interface per ${r.deviceID}`);
    if (pf.mode !== 'switchdev') throw new Error(`failed to find uplink representor of ${r.deviceID}`);
    if (!vf.rep) throw new Error(`failed to get vf ${vf.index} representor`);
    const vfName = vf.netdev;
    if (this.opts.plumb) {
      await ip('link', 'set', 'dev', vf.rep, 'down');
      await ip('link', 'set', 'dev', vf.rep, 'name', host);
    }
    node.renameNetdev(vf.rep, host);
    node.setVfMac(pf.uplink, vf.index, mac);

    // configureNic
    const rollbackPort = await this.addPort(r, host, v4);
    const rollback = async (err: Error) => {
      // rollbackOvsPort, and the representor up again; it is not renamed back.
      await rollbackPort();
      if (this.opts.plumb) await ip('link', 'set', 'dev', host, 'up').catch(() => undefined);
      return err;
    };
    if (this.opts.plumb) await ip('link', 'set', 'dev', host, 'mtu', String(mtu), 'up');
    if (vfio) return null; // no container NIC: the VM or DPDK app owns the VF
    try {
      await this.waitOvnInstalled(host);
      if (!netnsAlive(r.net_ns)) throw new Error(`failed to open netns "${r.net_ns}": unknown FS magic or no such file`);
    } catch (err) {
      throw await rollback(err as Error);
    }
    if (this.opts.plumb) {
      await ip('link', 'set', 'dev', vfName!, 'alias', vfName!);
      await this.configureContainerNic(r.net_ns, vfName!, ifname, mac, mtu, v4);
    }
    node.vfLeftHost(vf.pci, { netns: r.net_ns, name: ifname, alias: vfName, mac: mac.toLowerCase(), addresses: [`${v4.ip}/${v4.cidr.split('/')[1]}`] });
    return [{ dst: v4.cidr }, { gw: v4.gateway }];
  }

  /** handler.go handleDel → deleteNic → releaseVf. */
  private async handleDel(r: Req): Promise<void> {
    const pod = this.cluster.pod(r.pod_namespace, r.pod_name);
    if (r.net_ns === '') return; // "skip del port request": nothing is touched
    // nicType offload needs a deviceID, and (pod found) an OVN provider or cni_type kube-ovn.
    const offload = r.deviceID !== '' && (!pod || isOvnProvider(r.provider) || r.cni_type === 'kube-ovn');
    const ifname = r.if_name; // handleDel does not default it, as handleAdd does
    const host = generateNicName(r.container_id, ifname);
    const node = this.opts.node;
    if (offload) {
      if (!netnsAlive(r.net_ns)) {
        throw new Error(`del nic failed failed to release VF ${ifname} assigned to the Pod ${r.pod_name}/${r.pod_namespace} back to the host network namespace: failed to get container namespace for pod ${r.pod_namespace}/${r.pod_name}: failed to Statfs "${r.net_ns}"`);
      }
      // releaseVf: down and renamed back to its alias, then "moved" into the pod's own netns
      // (LinkSetNsFd(netns.Fd())): it stays there. Its errors are only logged.
      if (this.opts.plumb) {
        const shown = await execa('nsenter', [`--net=${r.net_ns}`, 'ip', '-j', 'link', 'show', 'dev', ifname], { reject: false, timeout: 5000 });
        if (shown.exitCode === 0) {
          const alias = (JSON.parse(String(shown.stdout)) as Array<{ ifalias?: string }>)[0]?.ifalias || ifname;
          await ipIn(r.net_ns, 'link', 'set', 'dev', ifname, 'down');
          if (alias !== ifname) await ipIn(r.net_ns, 'link', 'set', 'dev', ifname, 'name', alias);
        }
      }
      const vf = node?.vfAway(r.net_ns, ifname);
      if (vf?.away?.alias) node!.renameAway(r.net_ns, ifname, vf.away.alias);
    }
    // deleteNic: for any deviceID the representor goes down before its port goes (#6593, v1.16.2+).
    if (r.deviceID !== '' && this.cluster.atLeast(1, 16, 2) && this.opts.plumb) await execa('ip', ['link', 'set', 'dev', host, 'down'], { reject: false, timeout: 5000 });
    await this.opts.ovs?.vsctl('--if-exists', '--with-iface', 'del-port', 'br-int', host);
    if (r.deviceID === '' && this.opts.plumb) {
      // deleteNic: the host end, when it is a veth (a VF's representor never is).
      const shown = await execa('ip', ['-j', '-d', 'link', 'show', 'dev', host], { reject: false, timeout: 5000 });
      if (shown.exitCode === 0 && String(shown.stdout).includes('"info_kind":"veth"')) await ip('link', 'del', host);
    }
    if (PCI.test(r.deviceID)) {
      // setVfMac(deviceID, vfIndex, "00:00:00:00:00:00") for any PCI deviceID, offload port or not:
      // GetVfIndexByPciAddress needs the VF.
      const pf = node?.spec.pfs.find((p) => p.vfs.some((v) => v.pci === r.deviceID));
      if (!pf) throw new Error(`del nic failed failed to get vf ${r.deviceID} index`);
      node!.setVfMac(pf.uplink, pf.vfs.find((v) => v.pci === r.deviceID)!.index, '00:00:00:00:00:00');
    }
  }
}

/** ns.GetNS: the path must be an nsfs mount. */
function netnsAlive(path: string): boolean {
  try {
    return path !== '' && statfsSync(path).type === NSFS_MAGIC;
  } catch {
    return false;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function ip(...args: string[]): Promise<void> {
  await execa('ip', args, { timeout: 5000 });
}

/** `ip` inside a netns given by path (a runtime's, wherever it mounts them). */
async function ipIn(netns: string, ...args: string[]): Promise<void> {
  await execa('nsenter', [`--net=${netns}`, 'ip', ...args], { timeout: 5000 });
}
