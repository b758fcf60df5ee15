/**
 * The test-only stand-in for kube-ovn's CNI binary (test/support/kube-ovn-cni): what it sends
 * to the daemon and what it prints, checked against kube-ovn's cmd/cni (master 1533681d,
 * v1.15.24 for the older answer shape). The daemon here is a bare node:http server on a unix
 * socket that records each request and answers what the test says.
 *
 * ADD enters CNI_NETNS and changes IPv6 sysctls there, so ADD runs only as root, in a throwaway
 * netns made by `ip netns add`; DEL, CHECK and VERSION touch no netns and run as anyone.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { invoke, type Invocation, type Outcome } from '../support/plugin.js';
import { KUBE_OVN_CNI, buildKubeOvnCni } from '../support/kube-ovn-cni.js';

const isRoot = process.getuid?.() === 0;
const built = await buildKubeOvnCni().then(
  () => true,
  () => false,
);
const hasIPv6 = existsSync('/proc/sys/net/ipv6/conf/all/disable_ipv6');

/** Every key of kube-ovn's CniRequest, in the (alphabetical) order its client sends them. */
const REQUEST_KEYS = [
  'cni_type',
  'container_id',
  'deviceID',
  'dns',
  'if_name',
  'net_ns',
  'pod_name',
  'pod_namespace',
  'provider',
  'routes',
  'vf_driver',
  'vhost_user_socket_consumption',
  'vhost_user_socket_name',
  'vhost_user_socket_volume_name',
];
/** Every optional netconf key kube-ovn passes on, set. */
const FULL_NETCONF = {
  routes: [{ dst: '10.0.0.0/8', gw: '10.16.0.1' }],
  dns: { nameservers: ['10.96.0.10'], search: [] },
  deviceID: '0000:03:00.2',
  vf_driver: 'mlx5_core',
  vhost_user_socket_volume_name: 'vol',
  vhost_user_socket_name: 'sock',
  vhost_user_socket_consumption: 'kubevirt',
};
const CONTAINER_ID = '5b45c61b307e0a9f8c7d6e5f4a3b2c1d';
const ARGS = 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=nginx;K8S_POD_INFRA_CONTAINER_ID=5b45c61b307e';

interface Seen {
  method: string;
  url: string;
  contentType: string | undefined;
  raw: string;
  body: Record<string, unknown>;
}
interface Answer {
  status: number;
  body?: string;
  contentType?: string;
}

/** The daemon's two answer shapes for one dual-stack pod. */
const MAC = '00:00:00:E3:20:0B';
const ANSWER_IPS = {
  ips: [
    { protocol: 'IPv4', ip: '10.16.0.5', cidr: '10.16.0.0/16', gateway: '10.16.0.1' },
    { protocol: 'IPv6', ip: 'fd00:10:16::5', cidr: 'fd00:10:16::/64', gateway: 'fd00:10:16::1' },
  ],
  mac_address: MAC,
  routes: null,
  mtu: 1400,
  nicname: 'eth0',
  dns: {},
  error: '',
};
const ANSWER_V115 = {
  protocol: 'Dual',
  address: '10.16.0.5,fd00:10:16::5',
  mac_address: MAC,
  cidr: '10.16.0.0/16,fd00:10:16::/64',
  gateway: '10.16.0.1,fd00:10:16::1',
  routes: null,
  mtu: 1400,
  nicname: 'eth0',
  dns: {},
  error: '',
};

function json(status: number, body: unknown): Answer {
  return { status, body: JSON.stringify(body, null, 2), contentType: 'application/json' };
}

function cniError(o: Outcome): { code: number; msg: string; details?: string } {
  expect(o.exitCode, o.stderr).toBe(1);
  return o.json as { code: number; msg: string; details?: string };
}

describe.skipIf(!built)('kube-ovn CNI stand-in', () => {
  let dir = '';
  let socket = '';
  let server: Server | undefined;
  let seen: Seen[] = [];
  /** What the daemon answers; undefined leaves the request hanging. */
  let answer: (s: Seen) => Answer | undefined = () => undefined;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kovo-standin-'));
    socket = join(dir, 'kube-ovn-daemon.sock');
    seen = [];
    answer = (s) => (s.url === '/api/v1/del' ? { status: 204 } : json(200, ANSWER_IPS));
    const srv = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        let body: Record<string, unknown> = {};
        try {
          body = JSON.parse(raw) as Record<string, unknown>;
        } catch {
          // kept as raw; the test asserts on it
        }
        const s: Seen = { method: req.method ?? '', url: req.url ?? '', contentType: req.headers['content-type'], raw, body };
        seen.push(s);
        const a = answer(s);
        if (!a) return;
        res.writeHead(a.status, a.contentType ? { 'Content-Type': a.contentType } : {});
        res.end(a.body ?? '');
      });
    });
    server = srv;
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(socket, () => resolve());
    });
  });

  afterEach(async () => {
    const srv = server;
    server = undefined;
    if (srv) {
      srv.closeAllConnections();
      await new Promise<void>((resolve) => srv.close(() => resolve()));
    }
    rmSync(dir, { recursive: true, force: true });
  });

  /** The i-th request the daemon received. */
  const req = (i: number): Seen => {
    const s = seen[i];
    if (!s) throw new Error(`the daemon received ${seen.length} request(s), not ${i + 1}`);
    return s;
  };
  /** The body of the one request the daemon received, after checking its method, path, type and keys. */
  const onlyRequest = (url: string): Record<string, unknown> => {
    expect(seen).toHaveLength(1);
    expect(req(0)).toMatchObject({ method: 'POST', url, contentType: 'application/json' });
    expect(Object.keys(req(0).body)).toEqual(REQUEST_KEYS);
    return req(0).body;
  };
  const conf = (extra: Record<string, unknown> = {}, cniVersion = '1.0.0') => ({
    cniVersion,
    name: 'kube-ovn',
    type: 'kube-ovn',
    server_socket: socket,
    ...extra,
  });
  const run = (command: Invocation['command'], c: unknown, inv: Partial<Invocation> = {}) =>
    invoke({ command, conf: c, env: {}, bin: KUBE_OVN_CNI, containerId: CONTAINER_ID, args: ARGS, ...inv });

  describe('DEL, CHECK and VERSION (no netns)', () => {
    it('DEL posts every key, with routes, dns, vf_driver and vhost_user_socket_name left empty as cmdDel does', async () => {
      const o = await run('DEL', conf({ ...FULL_NETCONF, provider: 'net1.default.ovn' }), { netns: '' });
      expect(o.exitCode, o.stdout + o.stderr).toBe(0);
      expect(o.stdout).toBe('');
      expect(onlyRequest('/api/v1/del')).toEqual({
        cni_type: 'kube-ovn',
        container_id: CONTAINER_ID,
        deviceID: '0000:03:00.2',
        dns: {},
        if_name: 'eth0',
        net_ns: '',
        pod_name: 'nginx',
        pod_namespace: 'default',
        provider: 'net1.default.ovn',
        routes: null,
        vf_driver: '',
        vhost_user_socket_consumption: 'kubevirt',
        vhost_user_socket_name: '',
        vhost_user_socket_volume_name: 'vol',
      });
    });

    it('DEL sends deviceID as written and the default provider "ovn"', async () => {
      const o = await run('DEL', conf({ deviceID: '0000:03:00.2 ' }), { netns: '/var/run/netns/gone' });
      expect(o.exitCode, o.stdout).toBe(0);
      expect(req(0).body).toMatchObject({ deviceID: '0000:03:00.2 ', provider: 'ovn', net_ns: '/var/run/netns/gone' });
    });

    it('DEL: any status but 204 is 11 "RPC failed" with the raw body', async () => {
      const body = JSON.stringify({ error: 'del nic failed for xxx' }, null, 2);
      answer = () => ({ status: 500, body, contentType: 'application/json' });
      expect(cniError(await run('DEL', conf()))).toEqual({ code: 11, msg: 'RPC failed', details: `delete ip return 500 ${body}` });
      answer = () => ({ status: 200 });
      expect(cniError(await run('DEL', conf()))).toEqual({ code: 11, msg: 'RPC failed', details: 'delete ip return 200 ' });
    });

    it('DEL: no daemon on the socket is 11 "RPC failed"', async () => {
      const c = conf({ server_socket: join(dir, 'absent.sock') });
      const err = cniError(await run('DEL', c));
      expect(err).toMatchObject({ code: 11, msg: 'RPC failed' });
      expect(err.details).toBe(`Post "http://dummy/api/v1/del": dial unix ${join(dir, 'absent.sock')}: connect: no such file or directory`);
    });

    it('DEL: KUBE_OVN_STANDIN_TIMEOUT_S bounds a daemon that never answers', async () => {
      answer = () => undefined;
      const err = cniError(await run('DEL', conf(), { cniEnv: { KUBE_OVN_STANDIN_TIMEOUT_S: '1' } }));
      expect(err).toMatchObject({ code: 11, msg: 'RPC failed' });
      expect(err.details).toContain('Client.Timeout exceeded');
    });

    it('CNI_ARGS: 7 without K8S_POD_NAME or without CNI_ARGS; the first non-empty value wins', async () => {
      expect(cniError(await run('DEL', conf(), { args: 'K8S_POD_NAMESPACE=default' }))).toEqual({
        code: 7,
        msg: 'Invalid Configuration',
        details: 'K8S_POD_NAME is required in CNI_ARGS',
      });
      expect(cniError(await run('DEL', conf(), { args: '' }))).toEqual({ code: 7, msg: 'Invalid Configuration', details: 'CNI_ARGS is required' });
      expect(seen).toHaveLength(0);
      const o = await run('DEL', conf(), { args: 'K8S_POD_NAME=;K8S_POD_NAME=web;K8S_POD_NAME=other;K8S_POD_NAMESPACE=prod' });
      expect(o.exitCode, o.stdout).toBe(0);
      expect(req(0).body).toMatchObject({ pod_name: 'web', pod_namespace: 'prod' });
    });

    it('netconf: 6 when it does not decode, 7 without server_socket', async () => {
      expect(cniError(await run('DEL', conf({ server_socket: 5 })))).toMatchObject({ code: 6, msg: 'failed to load netconf' });
      const err = cniError(await run('DEL', { cniVersion: '1.0.0', name: 'kube-ovn', type: 'kube-ovn' }));
      expect(err).toMatchObject({ code: 7, msg: 'Invalid Configuration' });
      expect(err.details).toMatch(/^server_socket is required in cni\.conf, /);
      expect(seen).toHaveLength(0);
    });

    it('netconf: as another type\'s IPAM, the ipam object\'s provider and server_socket replace the top-level ones', async () => {
      const ipam = { type: 'kube-ovn', server_socket: socket, provider: 'net1.default.ovn' };
      let o = await run('DEL', conf({ type: 'macvlan', server_socket: '/nowhere', provider: 'top', ipam }));
      expect(o.exitCode, o.stdout).toBe(0);
      expect(req(0).body).toMatchObject({ cni_type: 'macvlan', provider: 'net1.default.ovn' });
      // Even when empty: no provider in ipam means "ovn", no server_socket there means 7.
      o = await run('DEL', conf({ type: 'macvlan', provider: 'top', ipam: { type: 'kube-ovn', server_socket: socket } }));
      expect(o.exitCode, o.stdout).toBe(0);
      expect(req(1).body).toMatchObject({ provider: 'ovn' });
      expect(cniError(await run('DEL', conf({ type: 'macvlan', ipam: { type: 'kube-ovn' } })))).toMatchObject({ code: 7 });
      // For type kube-ovn the ipam object is ignored.
      o = await run('DEL', conf({ provider: 'top', ipam: { type: 'kube-ovn', server_socket: '/nowhere', provider: 'inner' } }));
      expect(o.exitCode, o.stdout).toBe(0);
      expect(req(2).body).toMatchObject({ cni_type: 'kube-ovn', provider: 'top' });
    });

    it('DEL in the plugin\'s own netns is 8 after the request, as skel v1.3 checks; CNI_NETNS_OVERRIDE lifts it', async () => {
      expect(cniError(await run('DEL', conf(), { netns: '/proc/self/ns/net' }))).toEqual({
        code: 8,
        msg: "plugin's netns and netns from CNI_NETNS should not be the same",
      });
      expect(seen).toHaveLength(1);
      const o = await run('DEL', conf(), { netns: '/proc/self/ns/net', cniEnv: { CNI_NETNS_OVERRIDE: 'true' } });
      expect(o.exitCode, o.stdout).toBe(0);
    });

    it('CHECK succeeds without a request from cniVersion 0.4.0 and is refused below', async () => {
      const o = await run('CHECK', conf(), { netns: '/var/run/netns/never-entered' });
      expect(o.exitCode, o.stdout).toBe(0);
      expect(o.stdout).toBe('');
      expect(cniError(await run('CHECK', conf({}, '0.3.1'), { netns: '/var/run/netns/never-entered' }))).toEqual({
        code: 1,
        msg: 'config version does not allow CHECK',
      });
      expect(seen).toHaveLength(0);
    });

    it('VERSION lists what Debian\'s libcni 1.1.2 knows, up to 1.0.0', async () => {
      const o = await run('VERSION', '');
      expect(o.exitCode).toBe(0);
      expect(o.json).toEqual({ cniVersion: '1.0.0', supportedVersions: ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0'] });
    });
  });

  describe.skipIf(!isRoot)('ADD (root, in a throwaway netns)', () => {
    let nsName = '';
    let netns = '';
    const nsSysctl = async (key: string) =>
      (await execa('ip', ['netns', 'exec', nsName, 'cat', `/proc/sys/net/ipv6/conf/${key}`], { timeout: 10_000 })).stdout.trim();

    beforeEach(async () => {
      nsName = `kovo-standin-${randomBytes(4).toString('hex')}`;
      await execa('ip', ['netns', 'add', nsName], { timeout: 10_000 });
      netns = `/var/run/netns/${nsName}`;
    });
    afterEach(async () => {
      if (nsName) await execa('ip', ['netns', 'del', nsName], { timeout: 10_000, reject: false });
      nsName = '';
    });

    const add = (c: unknown, inv: Partial<Invocation> = {}) => run('ADD', c, { netns, ...inv });

    it('posts every key with its JSON type, as written in the netconf', async () => {
      const o = await add(conf(FULL_NETCONF), { ifname: 'net1' });
      expect(o.exitCode, o.stdout + o.stderr).toBe(0);
      expect(onlyRequest('/api/v1/add')).toEqual({
        cni_type: 'kube-ovn',
        container_id: CONTAINER_ID,
        deviceID: '0000:03:00.2',
        dns: { nameservers: ['10.96.0.10'] },
        if_name: 'net1',
        net_ns: netns,
        pod_name: 'nginx',
        pod_namespace: 'default',
        provider: 'ovn',
        routes: [{ dst: '10.0.0.0/8', gw: '10.16.0.1' }],
        vf_driver: 'mlx5_core',
        vhost_user_socket_consumption: 'kubevirt',
        vhost_user_socket_name: 'sock',
        vhost_user_socket_volume_name: 'vol',
      });
    });

    it('sends routes null and dns {} when the netconf has none', async () => {
      const o = await add(conf());
      expect(o.exitCode, o.stdout).toBe(0);
      expect(req(0).body).toMatchObject({ routes: null, dns: {}, deviceID: '', vf_driver: '', provider: 'ovn' });
    });

    const result100 = () => ({
      cniVersion: '1.0.0',
      interfaces: [{ name: 'eth0', mac: MAC, mtu: 1400, sandbox: netns }],
      ips: [
        { interface: 0, address: '10.16.0.5/16', gateway: '10.16.0.1' },
        { interface: 0, address: 'fd00:10:16::5/64', gateway: 'fd00:10:16::1' },
      ],
      routes: [
        { dst: '0.0.0.0/0', gw: '10.16.0.1' },
        { dst: '::/0', gw: 'fd00:10:16::1' },
      ],
      dns: {},
    });
    const result031 = () => ({
      cniVersion: '0.3.1',
      interfaces: [{ name: 'eth0', mac: MAC, sandbox: netns }],
      ips: [
        { version: '4', interface: 0, address: '10.16.0.5/16', gateway: '10.16.0.1' },
        { version: '6', interface: 0, address: 'fd00:10:16::5/64', gateway: 'fd00:10:16::1' },
      ],
      routes: [
        { dst: '0.0.0.0/0', gw: '10.16.0.1' },
        { dst: '::/0', gw: 'fd00:10:16::1' },
      ],
      dns: {},
    });

    for (const [shape, body] of [
      ['v1.16+ "ips"', ANSWER_IPS],
      ['v1.15 protocol/address/cidr/gateway', ANSWER_V115],
    ] as const) {
      it(`result from the ${shape} answer, at cniVersion 1.0.0 and 0.3.1`, async () => {
        answer = () => json(200, body);
        let o = await add(conf());
        expect(o.exitCode, o.stdout + o.stderr).toBe(0);
        expect(o.json).toEqual(result100());
        o = await add(conf({}, '0.3.1'));
        expect(o.exitCode, o.stdout + o.stderr).toBe(0);
        expect(o.json).toEqual(result031());
      });
    }

    it('result from a v1.15 single-family answer', async () => {
      answer = () => json(200, { protocol: 'IPv4', address: '10.16.0.5', cidr: '10.16.0.0/16', gateway: '10.16.0.1', mac_address: MAC, mtu: 1500, nicname: 'eth0' });
      const o = await add(conf());
      expect(o.exitCode, o.stdout).toBe(0);
      expect(o.json).toEqual({
        cniVersion: '1.0.0',
        interfaces: [{ name: 'eth0', mac: MAC, mtu: 1500, sandbox: netns }],
        ips: [{ interface: 0, address: '10.16.0.5/16', gateway: '10.16.0.1' }],
        routes: [{ dst: '0.0.0.0/0', gw: '10.16.0.1' }],
        dns: {},
      });
    });

    it('routes the daemon returns replace the per-gateway default routes; an empty dst is the default of the gateway\'s family', async () => {
      answer = () => json(200, { ...ANSWER_IPS, routes: [{ gw: '10.16.0.1' }, { dst: '192.168.0.0/16', gw: '10.16.0.254' }, { gw: 'fd00:10:16::1' }] });
      const o = await add(conf());
      expect(o.exitCode, o.stdout).toBe(0);
      expect(o.json!.routes).toEqual([
        { dst: '0.0.0.0/0', gw: '10.16.0.1' },
        { dst: '192.168.0.0/16', gw: '10.16.0.254' },
        { dst: '::/0', gw: 'fd00:10:16::1' },
      ]);
    });

    it('an address without a gateway gets no route; an IPAM-only answer has the interface and no address', async () => {
      answer = () => json(200, { ...ANSWER_IPS, ips: [{ protocol: 'IPv4', ip: '10.16.0.5', cidr: '10.16.0.0/16' }] });
      let o = await add(conf());
      expect(o.exitCode, o.stdout).toBe(0);
      expect(o.json).toEqual({
        cniVersion: '1.0.0',
        interfaces: [{ name: 'eth0', mac: MAC, mtu: 1400, sandbox: netns }],
        ips: [{ interface: 0, address: '10.16.0.5/16' }],
        dns: {},
      });
      answer = () => json(200, { ips: null, mac_address: '', routes: null, mtu: 0, nicname: '', dns: {} });
      o = await add(conf({}, '0.3.1'));
      expect(o.exitCode, o.stdout).toBe(0);
      expect(o.json).toEqual({ cniVersion: '0.3.1', interfaces: [{ name: '', sandbox: netns }], dns: {} });
    });

    it('an address that does not parse is 999 "failed to assign address"', async () => {
      answer = () => json(200, { ...ANSWER_IPS, ips: [{ protocol: 'IPv4', ip: '10.16.0.5', cidr: '10.16.0.0' }] });
      expect(cniError(await add(conf()))).toEqual({
        code: 999,
        msg: 'failed to assign address: failed to parse CIDR "10.16.0.0": invalid CIDR address: 10.16.0.0',
      });
    });

    it('500 and 400 are 11 "RPC failed" with the status and the answer\'s error', async () => {
      const e500 = 'no address allocated to pod default/nginx provider ovn, please see kube-ovn-controller logs';
      answer = () => json(500, { error: e500 });
      expect(cniError(await add(conf()))).toEqual({ code: 11, msg: 'RPC failed', details: `request ip return 500 ${e500}` });
      const e400 = 'provider net1.default.ovn is not bound to any subnet';
      answer = () => json(400, { error: e400 });
      expect(cniError(await add(conf()))).toEqual({ code: 11, msg: 'RPC failed', details: `request ip return 400 ${e400}` });
    });

    it('an answer that is not JSON is 11 "RPC failed", whatever the status', async () => {
      answer = () => ({ status: 415, body: '415: Unsupported Media Type', contentType: 'text/plain' });
      let err = cniError(await add(conf()));
      expect(err).toEqual({ code: 11, msg: 'RPC failed', details: "invalid character ':' after top-level value" });
      answer = () => ({ status: 200 });
      err = cniError(await add(conf()));
      expect(err).toEqual({ code: 11, msg: 'RPC failed', details: 'unexpected end of JSON input' });
    });

    it('7 without K8S_POD_NAME, before the netns is entered or the daemon asked', async () => {
      expect(cniError(await add(conf(), { args: 'K8S_POD_NAMESPACE=default' }))).toEqual({
        code: 7,
        msg: 'Invalid Configuration',
        details: 'K8S_POD_NAME is required in CNI_ARGS',
      });
      expect(seen).toHaveLength(0);
    });

    it('a CNI_NETNS that is not a namespace is 999, before the daemon is asked', async () => {
      const notNs = join(dir, 'not-a-netns');
      writeFileSync(notNs, '');
      const err = cniError(await add(conf(), { netns: notNs }));
      expect(err.code).toBe(999);
      expect(err.msg).toMatch(new RegExp(`^unknown FS magic on "${notNs}": [0-9a-f]+$`));
      expect(seen).toHaveLength(0);
    });

    it.skipIf(!hasIPv6)('enables IPv6 and turns accept_ra off in the pod netns only', async () => {
      const keys = ['all/disable_ipv6', 'default/disable_ipv6', 'all/accept_ra', 'default/accept_ra'];
      await execa('ip', ['netns', 'exec', nsName, 'sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1', 'net.ipv6.conf.all.accept_ra=1', 'net.ipv6.conf.default.accept_ra=1'], { timeout: 10_000 });
      const host = () => keys.map((k) => readFileSync(`/proc/sys/net/ipv6/conf/${k}`, 'utf8').trim());
      const hostBefore = host();
      const o = await add(conf());
      expect(o.exitCode, o.stdout).toBe(0);
      for (const k of keys) expect(await nsSysctl(k), k).toBe('0');
      expect(host()).toEqual(hostBefore);
    });
  });
});
