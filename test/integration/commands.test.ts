/** DEL, CHECK, VERSION, STATUS, GC and malformed invocations, through the built bundle. */
import { describe, expect, it } from 'vitest';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cniError, LIVE_NETNS, useWorld, VF0, type World } from '../support/harness.js';
import { invoke } from '../support/plugin.js';

describe('DEL', () => {
  const world = useWorld();

  it('asks the daemon to delete with the same deviceID, and prints nothing', async () => {
    const w = world();
    const out = await w.run('DEL');
    expect(out).toMatchObject({ exitCode: 0, stdout: '' });
    expect(w.received('/api/v1/del')).toEqual([{
      cni_type: 'kube-ovn', pod_name: 'nginx', pod_namespace: 'default', container_id: '5b45c61b307e0a9f8c7d6e5f4a3b2c1d',
      net_ns: LIVE_NETNS, if_name: 'eth0', provider: 'ovn', routes: null, dns: {},
      vf_driver: '', deviceID: VF0, vhost_user_socket_volume_name: '', vhost_user_socket_name: '', vhost_user_socket_consumption: '',
    }]);
  });

  it('needs no CNI_NETNS', async () => {
    const w = world();
    const out = await w.run('DEL', {}, { cniEnv: { CNI_NETNS: undefined } });
    expect(out.exitCode).toBe(0);
    expect(w.received('/api/v1/del')[0]!.net_ns).toBe('');
  });

  it.each([
    ['not a PCI address', { deviceID: 'rdma_shared_a', pciBusID: undefined }, 'rdma_shared_a'],
    ['upper case', { deviceID: '0000:42:00.2'.toUpperCase() }, VF0],
    ['absent', { deviceID: undefined, pciBusID: undefined }, ''],
  ])('succeeds with a deviceID that is %s, forwarding it as kube-ovn would', async (_, extra, sent) => {
    const w = world();
    const out = await w.run('DEL', extra);
    expect(out).toMatchObject({ exitCode: 0, stdout: '' });
    expect(w.received('/api/v1/del')[0]!.deviceID).toBe(sent);
  });

  it('succeeds when the device-info file is garbage, and says so in the log', async () => {
    const w = world();
    const file = join(w.node.root, 'devinfo.json');
    writeFileSync(file, '{not json');
    const out = await w.run('DEL', { deviceID: undefined, pciBusID: undefined, runtimeConfig: { CNIDeviceInfoFile: file } });
    expect(out.exitCode).toBe(0);
    expect(w.log()).toContainEqual(expect.objectContaining({ level: 'warn', msg: expect.stringContaining('deviceID unreadable, deleting without it') }));
  });

  it('succeeds without calling the daemon for a container ID ADD would have refused', async () => {
    const w = world();
    const out = await w.run('DEL', {}, { containerId: 'abc' });
    expect(out.exitCode).toBe(0);
    expect(w.daemon.requests).toEqual([]);
  });

  it.each([
    ['the socket is gone', async (w: World) => w.daemon.stop(), 'does not exist'],
    ['the daemon hangs', async (w: World) => w.daemon.setFault({ kind: 'hang' }), 'did not answer within 1s'],
    ['the daemon answers 400 (its pod lookup failed)', async (w: World) => w.daemon.setFault({ kind: 'status', status: 400, body: '{"error":"get pod default/nginx failed"}' }), 'HTTP 400'],
  ])('11 when %s while the pod netns still exists, so the runtime retries', async (_, breakIt, text) => {
    const w = world();
    await breakIt(w);
    const err = cniError(await w.run('DEL', { daemon_timeout_s: 1 }, { netns: w.liveNetns }));
    expect(err.code).toBe(11);
    expect(err.msg).toContain(text);
  });

  it('11: the daemon answers 500', async () => {
    const w = world();
    w.daemon.setFault({ kind: 'status', status: 500, body: JSON.stringify({ error: 'del nic failed' }) });
    expect(cniError(await w.run('DEL', {}, { netns: w.liveNetns }))).toMatchObject({ code: 11, msg: 'kube-ovn daemon refused DEL (HTTP 500): del nic failed' });
  });
});

describe('CHECK', () => {
  const world = useWorld();

  it('1: refused before cniVersion 0.4.0, as libcni does', async () => {
    const err = cniError(await world().run('CHECK', { cniVersion: '0.3.1' }));
    expect(err).toMatchObject({ code: 1, msg: 'config version 0.3.1 does not allow CHECK' });
  });

  it('7: needs prevResult', async () => {
    const err = cniError(await world().run('CHECK'));
    expect(err).toMatchObject({ code: 7, msg: 'CHECK needs prevResult' });
  });

  it('103: re-runs the offload checks', async () => {
    const w = world();
    w.node.setMode('0000:42:00.0', 'legacy');
    const prevResult = { cniVersion: '1.1.0', interfaces: [{ name: 'eth0', sandbox: LIVE_NETNS }] };
    expect(cniError(await w.run('CHECK', { prevResult })).code).toBe(103);
  });

  const prevResult = {
    cniVersion: '1.1.0',
    interfaces: [{ name: 'eth0', mac: '00:00:00:00:00:02', sandbox: LIVE_NETNS, pciID: VF0 }, { name: 'enp66s0f0r0' }],
    ips: [{ interface: 0, address: '10.16.0.2/16', gateway: '10.16.0.1' }],
  };
  const eth0 = { ifname: 'eth0', address: '00:00:00:00:00:02', mtu: 1400, addr_info: [{ family: 'inet', local: '10.16.0.2', prefixlen: 16 }] };

  it('passes when the pod interface is in its netns with its MAC and addresses', async () => {
    const w = world();
    w.node.setNetnsLinks(LIVE_NETNS, { eth0 });
    const out = await w.run('CHECK', { prevResult });
    expect(out).toMatchObject({ exitCode: 0, stdout: '' });
    expect(w.node.nsenterCalls()).toContainEqual([`--net=${LIVE_NETNS}`, 'ip', '-j', 'addr', 'show', 'dev', 'eth0']);
  });

  it.each([
    ['gone', {}, `interface eth0 is gone from the pod netns ${LIVE_NETNS}`],
    ['with another MAC', { eth0: { ...eth0, address: '02:aa:bb:cc:dd:ee' } }, 'interface eth0 has MAC 02:aa:bb:cc:dd:ee, expected 00:00:00:00:00:02'],
    ['without its address', { eth0: { ...eth0, addr_info: [] } }, 'interface eth0 lacks 10.16.0.2/16'],
  ])('109: the pod interface %s', async (_, links, msg) => {
    const w = world();
    w.node.setNetnsLinks(LIVE_NETNS, links);
    expect(cniError(await w.run('CHECK', { prevResult }))).toMatchObject({ code: 109, msg });
  });

  it.each([
    ['104', (w: World) => w.node.setHwTc('0000:42:00.0', 'off')],
    ['105', (w: World) => w.node.editVf(VF0, (vf) => (vf.rep = undefined))],
  ] as const)('%s: re-runs the offload checks', async (code, breakIt) => {
    const w = world();
    w.node.setNetnsLinks(LIVE_NETNS, { eth0 });
    breakIt(w);
    expect(cniError(await w.run('CHECK', { prevResult })).code).toBe(Number(code));
  });

  it('passes for a vfio-pci VF without looking for a netdev in the pod', async () => {
    const w = world();
    w.node.editVf(VF0, (vf) => Object.assign(vf, { driver: 'vfio-pci', netdev: undefined }));
    const out = await w.run('CHECK', { prevResult, vf_driver: 'vfio-pci' });
    expect(out).toMatchObject({ exitCode: 0, stdout: '' });
    expect(w.node.nsenterCalls()).toEqual([]);
  });

  it('109: prevResult has no interface for this ifname in this netns', async () => {
    const prevResult = { cniVersion: '1.1.0', interfaces: [{ name: 'net1', sandbox: '/var/run/netns/other' }] };
    expect(cniError(await world().run('CHECK', { prevResult }))).toMatchObject({ code: 109, msg: `prevResult has no interface eth0 in ${LIVE_NETNS}` });
  });
});

describe('VERSION, STATUS, GC', () => {
  const world = useWorld();

  it.each([
    ['{"cniVersion":"0.4.0"}', '0.4.0'],
    ['', '1.1.0'],
    ['not json', '1.1.0'],
  ])('VERSION with stdin %j answers every supported version', async (stdin, cniVersion) => {
    const out = await invoke({ command: 'VERSION', conf: stdin, env: world().node.env(), cniEnv: { CNI_CONTAINERID: undefined, CNI_NETNS: undefined, CNI_IFNAME: undefined, CNI_PATH: undefined } });
    expect(out.exitCode).toBe(0);
    expect(out.json).toEqual({ cniVersion, supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
  });

  it('STATUS succeeds while the daemon listens', async () => {
    const out = await world().run('STATUS');
    expect(out).toMatchObject({ exitCode: 0, stdout: '' });
  });

  it('50: STATUS when the daemon socket is gone', async () => {
    const w = world();
    await w.daemon.stop();
    const err = cniError(await w.run('STATUS'));
    expect(err).toMatchObject({ code: 50, msg: `kube-ovn daemon is not reachable at ${w.socket}: ENOENT` });
  });

  it('1: STATUS and GC need cniVersion 1.1.0', async () => {
    const w = world();
    expect(cniError(await w.run('STATUS', { cniVersion: '1.0.0' })).code).toBe(1);
    expect(cniError(await w.run('GC', { cniVersion: '1.0.0' })).code).toBe(1);
  });
});

describe('malformed invocations', () => {
  const world = useWorld();

  it('1: an unsupported cniVersion lists the supported ones', async () => {
    const err = cniError(await world().run('ADD', { cniVersion: '0.2.0' }));
    expect(err).toMatchObject({ code: 1, msg: 'incompatible CNI versions', details: 'config is "0.2.0", plugin supports [0.3.0 0.3.1 0.4.0 1.0.0 1.1.0]' });
  });

  it('logs an early refusal (unsupported version) to log_file too', async () => {
    const w = world();
    cniError(await w.run('ADD', { cniVersion: '0.2.0' }));
    expect(w.log()).toContainEqual(expect.objectContaining({ level: 'error', code: 1, msg: 'incompatible CNI versions' }));
  });

  it('4: a container ID shorter than the 12 characters the daemon slices', async () => {
    const w = world();
    const err = cniError(await w.run('ADD', {}, { containerId: 'abc' }));
    expect(err).toMatchObject({ code: 4, msg: 'CNI_CONTAINERID "abc" is shorter than 12 characters' });
    expect(w.daemon.requests).toEqual([]);
  });

  it('prints its error at once and leaves no tool running when one tool fails while another hangs', async () => {
    const w = world();
    w.node.setTool('devlink', 'garbage');
    w.node.setTool('ethtool', 'hang');
    const started = Date.now();
    const err = cniError(await w.run('ADD', { tool_timeout_s: 60 }));
    expect(err.code).toBe(5);
    // Well before ethtool's 60 s deadline: the hung ethtool was cancelled, not waited for.
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('6: stdin that is not JSON', async () => {
    const w = world();
    const out = await invoke({ command: 'ADD', conf: '{"cniVersion": "1.0.0", ', env: w.node.env() });
    expect(cniError(out)).toMatchObject({ code: 6, msg: 'network configuration on stdin is not valid JSON' });
  });

  it('7: a config key of the wrong type names the key', async () => {
    const err = cniError(await world().run('ADD', { daemon_timeout_s: 'soon' }));
    expect(err.code).toBe(7);
    expect(err.msg).toMatch(/^invalid network configuration: daemon_timeout_s: /);
  });

  it.each([
    [{ CNI_CONTAINERID: undefined }, 'required env variables [CNI_CONTAINERID] missing'],
    [{ CNI_NETNS: undefined, CNI_PATH: undefined }, 'required env variables [CNI_NETNS,CNI_PATH] missing'],
    [{ CNI_IFNAME: 'this-is-too-long0' }, 'invalid CNI_IFNAME "this-is-too-long0": longer than 15 bytes'],
    [{ CNI_CONTAINERID: '../x' }, 'invalid CNI_CONTAINERID "../x"'],
    [{ CNI_COMMAND: 'FROB' }, 'unknown CNI_COMMAND: "FROB"'],
  ])('4: environment %j', async (cniEnv, msg) => {
    const w = world();
    const err = cniError(await w.run('ADD', {}, { cniEnv }));
    expect(err).toMatchObject({ code: 4, msg });
    expect(w.daemon.requests).toEqual([]);
  });
});
