/**
 * A simulated kube-ovn daemon on a unix socket. It speaks the protocol of
 * shared/reference/kube-ovn-daemon-protocol.md §2 exactly (415 without the JSON content
 * type, 404/405 as plain text, 200 + CniResponse for ADD, 204 for DEL) and records every
 * request. With `plumb`, it does the daemon's real work for an offload NIC (§3.2–3.4) on a
 * simulated node: the representor renamed to <cid[:12]>_h, the VF moved into the pod netns
 * and renamed, its MAC, MTU, address and default route set. Plumbing needs root.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { existsSync, rmSync } from 'node:fs';
import { basename } from 'node:path';
import { execa } from 'execa';
import type { SimNode } from './sim-node.js';

export type Shape = 'v116' | 'legacy';

export type Fault =
  | { kind: 'status'; status: number; body: string; contentType?: string }
  | { kind: 'hang' }
  | { kind: 'reset' };

export interface Recorded {
  method: string;
  path: string;
  contentType: string | undefined;
  body: Record<string, unknown>;
}

export interface SimDaemonOptions {
  socketPath: string;
  shape?: Shape;
  /** Every ADD/DEL answered this way instead of served. */
  fault?: Fault;
  /** Do the real work on this node's veths and netns (root). */
  plumb?: SimNode;
  /** With plumb: add and delete the representor's port on br-int in this OVSDB. */
  ovs?: { vsctl(...args: string[]): Promise<string> };
  mtu?: number;
  /** Also hand out an IPv6 address from fd00:10:16::/64. */
  dualStack?: boolean;
}

/** kube-ovn's generateNicName: "eth0" → <cid[:12]>_h, else <cid[:12-len(if)]>_<if>_h. */
export function hostNicName(containerId: string, ifname: string): string {
  return ifname === 'eth0' ? `${containerId.slice(0, 12)}_h` : `${containerId.slice(0, 12 - ifname.length)}_${ifname}_h`;
}

export class SimDaemon {
  readonly requests: Recorded[] = [];
  private server?: Server;
  private next = 2;
  private readonly pods = new Map<string, { ip: number; mac: string }>();

  constructor(readonly opts: SimDaemonOptions) {}

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
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      /* recorded as {} */
    }
    this.requests.push({ method: req.method ?? '', path: req.url ?? '', contentType, body });

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
    try {
      if (req.url === '/api/v1/add') {
        const answer = await this.add(body);
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(answer, null, 2));
      } else {
        await this.del(body);
        res.writeHead(204).end();
      }
    } catch (err) {
      const error = (err as Error).message;
      res.writeHead(500, { 'Content-Type': 'application/json' }).end(JSON.stringify(this.errorBody(error), null, 2));
    }
  }

  private errorBody(error: string): Record<string, unknown> {
    return this.opts.shape === 'legacy'
      ? { protocol: '', address: '', mac_address: '', cidr: '', gateway: '', routes: null, mtu: 0, nicname: '', dns: {}, error }
      : { ips: null, mac_address: '', routes: null, mtu: 0, nicname: '', dns: {}, error };
  }

  private async add(req: Record<string, unknown>): Promise<Record<string, unknown>> {
    const key = `${String(req.pod_namespace)}/${String(req.pod_name)}`;
    let pod = this.pods.get(key);
    if (!pod) {
      const n = this.next++;
      pod = { ip: n, mac: `00:00:00:${hex(n >> 16)}:${hex(n >> 8)}:${hex(n)}`.toUpperCase() };
      this.pods.set(key, pod);
    }
    const v4 = { ip: `10.16.${(pod.ip >> 8) & 255}.${pod.ip & 255}`, cidr: '10.16.0.0/16', gateway: '10.16.0.1' };
    const v6 = { ip: `fd00:10:16::${pod.ip.toString(16)}`, cidr: 'fd00:10:16::/64', gateway: 'fd00:10:16::1' };
    const mtu = this.opts.mtu ?? 1400;
    const ifname = String(req.if_name || 'eth0');
    if (this.opts.plumb && req.deviceID) await this.plumbAdd(req, ifname, pod.mac, mtu, v4);
    const routes = [{ dst: '10.16.0.0/16' }, { gw: v4.gateway }];
    if (this.opts.shape === 'legacy') {
      return {
        protocol: this.opts.dualStack ? 'Dual' : 'IPv4',
        address: this.opts.dualStack ? `${v4.ip},${v6.ip}` : v4.ip,
        mac_address: pod.mac,
        cidr: this.opts.dualStack ? `${v4.cidr},${v6.cidr}` : v4.cidr,
        gateway: this.opts.dualStack ? `${v4.gateway},${v6.gateway}` : v4.gateway,
        routes, mtu, nicname: ifname, dns: {}, error: '',
      };
    }
    const ips = [{ protocol: 'IPv4', ...v4 }, ...(this.opts.dualStack ? [{ protocol: 'IPv6', ...v6 }] : [])];
    return { ips, mac_address: pod.mac, routes, mtu, nicname: ifname, dns: {}, error: '' };
  }

  private async del(req: Record<string, unknown>): Promise<void> {
    this.pods.delete(`${String(req.pod_namespace)}/${String(req.pod_name)}`);
    if (!req.net_ns) return; // the daemon skips a DEL without netns (204)
    if (this.opts.plumb && req.deviceID) await this.plumbDel(req);
  }

  private async plumbAdd(req: Record<string, unknown>, ifname: string, mac: string, mtu: number, v4: { ip: string; gateway: string }): Promise<void> {
    const node = this.opts.plumb!;
    const { vf } = node.vf(String(req.deviceID));
    const ns = netnsName(String(req.net_ns));
    if (!vf.netdev) throw new Error(`configure nic ${ifname} for pod ${String(req.pod_name)}/${String(req.pod_namespace)} failed: failed to get one netdevice interface per ${String(req.deviceID)}`);
    if (!vf.rep) throw new Error(`configure nic ${ifname} failed: failed to find VF representor for vfIndex ${vf.index}`);
    const host = hostNicName(String(req.container_id), ifname);
    await ip('link', 'set', 'dev', vf.rep, 'down');
    await ip('link', 'set', 'dev', vf.rep, 'name', host);
    node.renameNetdev(vf.rep, host);
    const vfName = vf.netdev;
    await ip('link', 'set', 'dev', vfName, 'alias', vfName);
    await ip('link', 'set', 'dev', vfName, 'netns', ns);
    node.vfLeftHost(vf.pci);
    const pod = `${String(req.pod_name)}.${String(req.pod_namespace)}`;
    await this.opts.ovs?.vsctl('--may-exist', 'add-port', 'br-int', host, '--', 'set', 'interface', host,
      `external_ids:iface-id=${pod}`, 'external_ids:vendor=kube-ovn', `external_ids:pod_netns=${String(req.net_ns)}`);
    await ip('-n', ns, 'link', 'set', 'dev', vfName, 'name', ifname);
    await ip('-n', ns, 'link', 'set', 'dev', ifname, 'address', mac.toLowerCase(), 'mtu', String(mtu), 'up');
    await ip('-n', ns, 'addr', 'add', `${v4.ip}/16`, 'dev', ifname);
    await ip('-n', ns, 'route', 'add', 'default', 'via', v4.gateway, 'dev', ifname);
    await ip('link', 'set', 'dev', host, 'mtu', String(mtu), 'up');
  }

  private async plumbDel(req: Record<string, unknown>): Promise<void> {
    const node = this.opts.plumb!;
    const netns = String(req.net_ns);
    const ifname = String(req.if_name || 'eth0');
    if (!existsSync(netns)) {
      throw new Error(`del nic failed failed to release VF ${ifname} assigned to the Pod ${String(req.pod_name)}/${String(req.pod_namespace)}: failed to open netns "${netns}"`);
    }
    const ns = netnsName(netns);
    const { vf } = node.vf(String(req.deviceID));
    const shown = await execa('ip', ['-n', ns, '-j', 'link', 'show', 'dev', ifname], { reject: false, timeout: 5000 });
    if (shown.exitCode === 0) {
      const alias = (JSON.parse(String(shown.stdout)) as Array<{ ifalias?: string }>)[0]?.ifalias || ifname;
      await ip('-n', ns, 'link', 'set', 'dev', ifname, 'down');
      if (alias !== ifname) await ip('-n', ns, 'link', 'set', 'dev', ifname, 'name', alias);
      // kube-ovn ≥ v1.13 means to return the VF to the host (PR #3440); do so, so that
      // a test can reuse it and remove it.
      await ip('-n', ns, 'link', 'set', 'dev', alias, 'netns', '1');
      node.vfReturned(vf.pci, alias);
    }
    const host = hostNicName(String(req.container_id), ifname);
    await execa('ip', ['link', 'set', 'dev', host, 'down'], { reject: false, timeout: 5000 });
    await this.opts.ovs?.vsctl('--if-exists', '--with-iface', 'del-port', 'br-int', host);
  }
}

function hex(n: number): string {
  return (n & 255).toString(16).padStart(2, '0');
}

function netnsName(path: string): string {
  if (!/^\/(var\/)?run\/netns\/[^/]+$/.test(path)) throw new Error(`simulated daemon handles /run/netns/<name> paths only, not ${path}`);
  return basename(path);
}

async function ip(...args: string[]): Promise<void> {
  await execa('ip', args, { timeout: 5000 });
}
