/** What the plugin keeps per VF, its locks, and how DEL, CHECK, GC and STATUS use them. */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cniError, useWorld, VF0, type World } from '../support/harness.js';
import { startTime } from '../../src/plugin/lock.js';

const CID = '5b45c61b307e0a9f8c7d6e5f4a3b2c1d';

describe('per-VF state', () => {
  const world = useWorld();

  it('ADD records what it resolved, mode 0600, and DEL removes it', async () => {
    const w = world();
    expect((await w.run('ADD')).exitCode).toBe(0);
    const file = join(w.stateDir, 'vf', `${VF0}.json`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({
      version: 1, mode: 'shim', network: 'kube-ovn', containerId: CID, ifname: 'eth0', netns: w.liveNetns,
      pod: { name: 'nginx', namespace: 'default' }, deviceID: VF0, pf: '0000:42:00.0', uplink: 'enp66s0f0np0', vfIndex: 0, vfNetdev: 'enp66s0f0v0',
      representor: { original: 'enp66s0f0r0', host: '5b45c61b307e_h' },
      result: { interfaces: [expect.objectContaining({ name: 'eth0', pciID: VF0 }), { name: '5b45c61b307e_h', mac: 'ee:00:00:00:42:00' }] },
    });
    expect((await w.run('DEL')).exitCode).toBe(0);
    expect(w.stateFiles()).toEqual([]);
    expect((await w.run('DEL')).exitCode).toBe(0); // and again
  });

  it('DEL succeeds past a record it cannot read, and removes it', async () => {
    const w = world();
    await w.run('ADD');
    writeFileSync(join(w.stateDir, 'vf', `${VF0}.json`), '');
    expect((await w.run('DEL')).exitCode).toBe(0);
    expect(w.received('/api/v1/del')[0]!.deviceID).toBe(VF0);
    expect(w.stateFiles()).toEqual([]);
  });

  it('ADD undoes the attachment when the daemon answered 200 with a body it cannot read', async () => {
    const w = world();
    w.daemon.setFault({ kind: 'status', status: 200, body: '{"ips":[' });
    expect(cniError(await w.run('ADD')).code).toBe(11);
    expect(w.daemon.requests.map((r) => r.path)).toEqual(['/api/v1/add', '/api/v1/del']);
  });

  it('DEL without deviceID in its config finds the VF in the record', async () => {
    const w = world();
    await w.run('ADD');
    expect((await w.run('DEL', { deviceID: undefined, pciBusID: undefined })).exitCode).toBe(0);
    expect(w.received('/api/v1/del')[0]!.deviceID).toBe(VF0);
    expect(w.stateFiles()).toEqual([]);
  });

  it('DEL succeeds when the VF itself is gone (VFs re-created) and the daemon cannot release it', async () => {
    const w = world();
    await w.run('ADD', {}, { netns: w.liveNetns });
    rmSync(join(w.node.root, 'sys/bus/pci/devices', VF0));
    w.daemon.setFault({ kind: 'status', status: 500, body: '{"error":"del nic failed: no such device"}' });
    expect((await w.run('DEL', {}, { netns: w.liveNetns })).exitCode).toBe(0);
    expect(w.stateFiles()).toEqual([]);
    expect(w.log()).toContainEqual(expect.objectContaining({ msg: 'removed stale port 5b45c61b307e_h from br-int' }));
  });

  it('DEL after a lost netns does what the daemon could not: port off br-int through OVSDB, VF MAC reset through the PF', async () => {
    const w = world();
    const pod = await w.podNetns();
    await w.run('ADD', {}, { netns: pod.path });
    expect(await w.ovs.vsctl('list-ports', 'br-int')).toBe('5b45c61b307e_h');
    expect(w.node.vf(VF0).vf.adminMac).toBe('00:00:00:00:00:02');
    await pod.destroy();
    expect((await w.run('DEL', {}, { netns: pod.path })).exitCode).toBe(0);
    expect(w.daemon.requests.at(-1)!.path).toBe('/api/v1/del'); // the daemon answered 500 first
    expect(await w.ovs.vsctl('list-ports', 'br-int')).toBe('');
    expect(w.node.vf(VF0).vf.adminMac).toBe('00:00:00:00:00:00');
    expect(w.log()).toContainEqual(expect.objectContaining({ level: 'info', msg: 'removed stale port 5b45c61b307e_h from br-int' }));
    expect(w.log()).toContainEqual(expect.objectContaining({ level: 'info', msg: 'VF 0 MAC reset through enp66s0f0np0' }));
  });

  it('CHECK without deviceID in its config finds the VF in the record', async () => {
    const w = world();
    const add = await w.run('ADD');
    const out = await w.run('CHECK', { deviceID: undefined, pciBusID: undefined, prevResult: add.json });
    expect(out).toMatchObject({ exitCode: 0, stdout: '' });
  });

  it('CHECK fails with 105 when the VF\'s representor is not the one ADD left', async () => {
    const w = world();
    const add = await w.run('ADD');
    w.node.renameNetdev('5b45c61b307e_h', 'other_h');
    const err = cniError(await w.run('CHECK', { prevResult: add.json }));
    expect(err).toMatchObject({ code: 105, msg: 'the representor of VF 0000:42:00.2 is other_h, not 5b45c61b307e_h as ADD left it' });
  });

  describe('nothing is left half-done', () => {
    afterEach(() => {
      expect(world().stateFiles()).toEqual([]);
    });

    it.each([
      ['a refused pod', (w: World) => w.node.setMode('0000:42:00.0', 'legacy')],
      ['a daemon that answers 500', (w: World) => w.daemon.setFault({ kind: 'status', status: 500, body: '{"error":"boom"}' })],
      ['a daemon that is gone', (w: World) => w.daemon.stop()],
      ['a devlink that prints garbage', (w: World) => w.node.setTool('devlink', 'garbage')],
    ])('after %s: no record, no lock', async (_, breakIt) => {
      const w = world();
      await breakIt(w);
      expect((await w.run('ADD')).exitCode).toBe(1);
    });
  });

  it('a record that cannot be written refuses the pod before the daemon is asked: nothing to undo', async () => {
    const w = world();
    // vf/ is a dangling symlink: reading finds no record, writing one fails.
    mkdirSync(w.stateDir);
    symlinkSync(join(w.node.root, 'nowhere'), join(w.stateDir, 'vf'));
    const err = cniError(await w.run('ADD'));
    expect(err.code).toBe(5);
    expect(w.daemon.requests).toEqual([]);
  });

  it('a daemon that never answers leaves the VF on record (it may have plumbed it), for DEL to find', async () => {
    const w = world();
    w.daemon.setFault({ kind: 'hang' });
    expect(cniError(await w.run('ADD', { daemon_timeout_s: 1 })).code).toBe(11);
    expect(w.stateFiles()).toEqual([`vf/${VF0}.json`]);
    w.daemon.setFault(undefined);
    expect((await w.run('DEL')).exitCode).toBe(0);
    expect(w.stateFiles()).toEqual([]);
  });
});

describe('one VF, two pods', () => {
  const world = useWorld();
  const other = { containerId: 'ffffffffffff0000aaaabbbbcccc', args: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=other' };

  it('11: a second ADD for a VF that a live pod holds is refused, naming that pod', async () => {
    const w = world();
    expect((await w.run('ADD', {}, { netns: w.liveNetns })).exitCode).toBe(0);
    const err = cniError(await w.run('ADD', {}, other));
    expect(err).toMatchObject({ code: 11, msg: `VF ${VF0} is still attached to pod default/nginx` });
    expect(w.received('/api/v1/add')).toHaveLength(1);
  });

  it('a holder whose netns is gone is stale: the VF is taken over, with a log line', async () => {
    const w = world();
    const pod = await w.podNetns();
    await w.run('ADD', {}, { netns: pod.path });
    await pod.destroy(); // and no DEL came (kube-ovn's failed first, or Multus skipped it)
    expect((await w.run('ADD', {}, other)).exitCode).toBe(0);
    expect(w.log()).toContainEqual(expect.objectContaining({ level: 'warn', msg: expect.stringContaining(`whose netns ${pod.path} is gone; taking it over`) }));
    expect(JSON.parse(readFileSync(join(w.stateDir, 'vf', `${VF0}.json`), 'utf8')).containerId).toBe(other.containerId);
  });

  it('the old pod\'s late DEL leaves the new pod\'s VF alone: sent without deviceID, its record kept', async () => {
    const w = world();
    const pod = await w.podNetns();
    await w.run('ADD', {}, { netns: pod.path });
    await pod.destroy();
    expect((await w.run('ADD', {}, other)).exitCode).toBe(0); // takes over the stale VF
    expect((await w.run('DEL', {}, { netns: pod.path })).exitCode).toBe(0); // the first pod's DEL, late
    expect(w.received('/api/v1/del')[0]).toMatchObject({ container_id: CID, deviceID: '' });
    expect(JSON.parse(readFileSync(join(w.stateDir, 'vf', `${VF0}.json`), 'utf8')).containerId).toBe(other.containerId);
  });
});

describe('locks', () => {
  const world = useWorld();
  const lockFile = (w: World) => join(w.stateDir, 'lock', `${VF0}.lock`);

  it('11 after lock_timeout_s while a live process holds the VF\'s lock', async () => {
    const w = world();
    mkdirSync(join(w.stateDir, 'lock'), { recursive: true });
    writeFileSync(lockFile(w), JSON.stringify({ pid: process.pid, start: startTime(process.pid) }));
    const err = cniError(await w.run('ADD', { lock_timeout_s: 1 }));
    expect(err).toMatchObject({ code: 11, msg: `VF ${VF0} is busy: another ADD or DEL holds its lock` });
    expect(err.details).toContain(`held by pid ${process.pid}`);
  });

  it.each([
    ['a pid that no longer exists', { pid: 2 ** 22 + 1, start: '1' }],
    ['a pid reused by another process', { pid: process.pid, start: 'not-my-start-time' }],
  ])('a lock held by %s does not block: it is broken and ADD goes on', async (_, owner) => {
    const w = world();
    mkdirSync(join(w.stateDir, 'lock'), { recursive: true });
    writeFileSync(lockFile(w), JSON.stringify(owner));
    expect((await w.run('ADD', { lock_timeout_s: 5 })).exitCode).toBe(0);
    expect(w.stateFiles()).toEqual([`vf/${VF0}.json`]);
  });
});

describe('a damaged lock file', () => {
  const world = useWorld();

  it('one that names no owner (emptied by a power loss) is broken once it is older than a start-up', async () => {
    const w = world();
    const file = join(w.stateDir, 'lock', `${VF0}.lock`);
    mkdirSync(join(w.stateDir, 'lock'), { recursive: true });
    writeFileSync(file, '');
    utimesSync(file, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    expect((await w.run('ADD', { lock_timeout_s: 5 })).exitCode).toBe(0);
  });
});

describe('GC and STATUS (1.1.0)', () => {
  const world = useWorld();
  const gcEnv = { cniEnv: { CNI_CONTAINERID: undefined, CNI_NETNS: undefined, CNI_IFNAME: undefined } };
  const pods = [
    { containerId: 'aaaaaaaaaaaa0001', deviceID: '0000:42:00.2' },
    { containerId: 'bbbbbbbbbbbb0002', deviceID: '0000:42:00.3' },
  ];

  it('GC forgets the attachments not listed, keeps the listed ones and other networks\' ones', async () => {
    const w = world();
    for (const p of pods) expect((await w.run('ADD', { deviceID: p.deviceID }, { containerId: p.containerId })).exitCode).toBe(0);
    expect((await w.run('ADD', { name: 'other-net', deviceID: '0000:42:00.4' }, { containerId: 'cccccccccccc0003' })).exitCode).toBe(0);
    const out = await w.run('GC', { 'cni.dev/valid-attachments': [{ containerID: pods[1]!.containerId, ifname: 'eth0' }] }, gcEnv);
    expect(out).toMatchObject({ exitCode: 0, stdout: '' });
    expect(w.stateFiles().sort()).toEqual(['vf/0000:42:00.3.json', 'vf/0000:42:00.4.json']);
  });

  it('GC reads the older key cni.dev/attachments too, and removes dead owners\' locks', async () => {
    const w = world();
    await w.run('ADD', { deviceID: pods[0]!.deviceID }, { containerId: pods[0]!.containerId });
    writeFileSync(join(w.stateDir, 'lock', '0000:42:00.5.lock'), JSON.stringify({ pid: 2 ** 22 + 1, start: '1' }));
    expect((await w.run('GC', { 'cni.dev/attachments': [] }, gcEnv)).exitCode).toBe(0);
    expect(w.stateFiles()).toEqual([]);
  });

  it('GC without a list removes nothing', async () => {
    const w = world();
    await w.run('ADD');
    expect((await w.run('GC', {}, gcEnv)).exitCode).toBe(0);
    expect(w.stateFiles()).toEqual([`vf/${VF0}.json`]);
  });

  it('GC keeps going past an unreadable record and reports it', async () => {
    const w = world();
    await w.run('ADD', { deviceID: pods[0]!.deviceID }, { containerId: pods[0]!.containerId });
    writeFileSync(join(w.stateDir, 'vf', '0000:42:00.5.json'), '{corrupt');
    const err = cniError(await w.run('GC', { 'cni.dev/valid-attachments': [] }, gcEnv));
    expect(err).toMatchObject({ code: 5, msg: 'GC could not collect 1 item(s)' });
    expect(err.details).toContain('0000:42:00.5');
    expect(w.stateFiles()).toEqual(['vf/0000:42:00.5.json']);
  });

  it.each([
    ['ready', () => undefined, 0],
    ['51 in legacy mode', (w: World) => w.node.setMode('0000:42:00.0', 'legacy'), 51],
    ['51 when OVS hw-offload is off', (w: World) => w.ovs.vsctl('set', 'Open_vSwitch', '.', 'other_config:hw-offload=false'), 51],
    ['51, not 5, when a check cannot run (devlink answers garbage)', (w: World) => w.node.setTool('devlink', 'garbage'), 51],
  ])('STATUS: %s', async (_, breakIt, code) => {
    const w = world();
    await breakIt(w);
    const out = await w.run('STATUS', {}, gcEnv);
    expect(out.exitCode).toBe(code ? 1 : 0);
    if (code) expect(cniError(out).code).toBe(code);
  });
});
