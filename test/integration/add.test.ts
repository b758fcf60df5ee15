/**
 * ADD through the built bundle as a process: fake sysfs and tools, simulated daemon.
 * What the daemon receives, and the result the runtime gets, per CNI version.
 */
import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cniError, useWorld, VF0 } from '../support/harness.js';
import { connectx5 } from '../support/sim-node.js';

// Every key kube-ovn's binary sends (pkg/request/cniserver.go), with its JSON type.
const REQUEST_KEYS = {
  cni_type: 'string', pod_name: 'string', pod_namespace: 'string', container_id: 'string', net_ns: 'string', if_name: 'string',
  provider: 'string', routes: 'object', dns: 'object', vf_driver: 'string', deviceID: 'string',
  vhost_user_socket_volume_name: 'string', vhost_user_socket_name: 'string', vhost_user_socket_consumption: 'string',
};

describe('ADD on a switchdev node', () => {
  const world = useWorld();

  it('sends the daemon every key kube-ovn sends, with the same names and JSON types', async () => {
    const w = world();
    const out = await w.run('ADD', { routes: [{ dst: '192.168.0.0/16', gw: '10.16.0.254' }], dns: { nameservers: ['10.96.0.10'] } });
    expect(out.exitCode).toBe(0);
    const [req] = w.daemon.requests;
    expect(req).toMatchObject({ method: 'POST', path: '/api/v1/add', contentType: 'application/json' });
    expect(Object.keys(req!.body).sort()).toEqual(Object.keys(REQUEST_KEYS).sort());
    for (const [k, t] of Object.entries(REQUEST_KEYS)) expect(typeof req!.body[k], k).toBe(t);
    expect(req!.body).toEqual({
      cni_type: 'kube-ovn', pod_name: 'nginx', pod_namespace: 'default', container_id: '5b45c61b307e0a9f8c7d6e5f4a3b2c1d',
      net_ns: w.liveNetns, if_name: 'eth0', provider: 'ovn',
      routes: [{ dst: '192.168.0.0/16', gw: '10.16.0.254' }], dns: { nameservers: ['10.96.0.10'] }, vf_driver: '', deviceID: VF0,
      vhost_user_socket_volume_name: '', vhost_user_socket_name: '', vhost_user_socket_consumption: '',
    });
  });

  it('turns IPv6 on and router advertisements off in the pod netns first, as kube-ovn\'s binary does', async () => {
    const w = world();
    await w.run('ADD');
    const [call] = w.node.nsenterCalls();
    expect(call!.slice(0, 3)).toEqual([`--net=${w.liveNetns}`, 'sh', '-c']);
    for (const f of ['all/disable_ipv6', 'default/disable_ipv6', 'all/accept_ra', 'default/accept_ra']) expect(call![3]).toContain(`/proc/sys/net/ipv6/conf/${f}`);
  });

  it('sends routes as null when the config has none, as kube-ovn does', async () => {
    const w = world();
    await w.run('ADD');
    expect(w.received('/api/v1/add')[0]).toMatchObject({ routes: null, dns: {}, provider: 'ovn' });
  });

  it('returns a 1.1.0 result with the VF as pciID, the MTU, and the representor, as the daemon renamed it, as a host interface', async () => {
    const w = world();
    const out = await w.run('ADD');
    expect(out.stderr).toBe('');
    expect(out.json).toEqual({
      cniVersion: '1.1.0',
      interfaces: [
        { name: 'eth0', mac: '00:00:00:00:00:02', mtu: 1400, sandbox: w.liveNetns, pciID: VF0 },
        { name: '5b45c61b307e_h', mac: 'ee:00:00:00:42:00' },
      ],
      ips: [{ interface: 0, address: '10.16.0.2/16', gateway: '10.16.0.1' }],
      routes: [{ dst: '10.16.0.0/16' }, { dst: '0.0.0.0/0', gw: '10.16.0.1' }],
    });
  });

  it.each([
    ['0.3.0', true], ['0.3.1', true], ['0.4.0', true], ['1.0.0', false],
  ])('converts the result to cniVersion %s', async (cniVersion, hasIpVersion) => {
    const w = world();
    const out = await w.run('ADD', { cniVersion });
    expect(out.json!.cniVersion).toBe(cniVersion);
    expect(out.json!.interfaces[0]).toEqual({ name: 'eth0', mac: '00:00:00:00:00:02', sandbox: w.liveNetns });
    expect(out.json!.ips[0]).toEqual({ ...(hasIpVersion ? { version: '4' } : {}), interface: 0, address: '10.16.0.2/16', gateway: '10.16.0.1' });
  });

  it('appends to a previous plugin\'s result, shifting its IP indices past the earlier interfaces', async () => {
    const w = world();
    const prevResult = { cniVersion: '1.1.0', interfaces: [{ name: 'lo', sandbox: w.liveNetns }], ips: [{ interface: 0, address: '127.0.0.1/8' }] };
    const out = await w.run('ADD', { prevResult });
    expect(out.json!.interfaces.map((i: { name: string }) => i.name)).toEqual(['lo', 'eth0', '5b45c61b307e_h']);
    expect(out.json!.ips).toEqual([{ interface: 0, address: '127.0.0.1/8' }, { interface: 1, address: '10.16.0.2/16', gateway: '10.16.0.1' }]);
  });

  it('logs which source decided each check, with deviceID, uplink and representor on the line', async () => {
    const w = world();
    await w.run('ADD');
    const checks = w.log().find((l) => l.msg === 'offload checks')!;
    expect(checks).toMatchObject({
      level: 'info', cmd: 'ADD', containerID: '5b45c61b307e0a9f8c7d6e5f4a3b2c1d', ifname: 'eth0', deviceID: VF0,
      uplink: 'enp66s0f0np0', representor: 'enp66s0f0r0', eswitch: { mode: 'switchdev', source: 'devlink' },
      hwTcOffload: { state: 'on', source: 'ethtool' }, representorSource: 'devlink', failures: [],
    });
  });

  it.each([
    ['runtimeConfig.deviceID', { deviceID: undefined, pciBusID: undefined, runtimeConfig: { deviceID: '0000:42:00.3' } }, '0000:42:00.3'],
    ['runtimeConfig.deviceID over deviceID and pciBusID', { runtimeConfig: { deviceID: '0000:42:00.3' } }, '0000:42:00.3'],
    ['top-level deviceID over pciBusID', { deviceID: '0000:42:00.3', pciBusID: VF0 }, '0000:42:00.3'],
    ['pciBusID alone', { deviceID: undefined, pciBusID: '0000:42:00.3' }, '0000:42:00.3'],
    ['upper case, lower-cased', { deviceID: '0000:42:00.3'.toUpperCase(), pciBusID: undefined }, '0000:42:00.3'],
  ])('takes the VF from %s', async (_, extra, pci) => {
    const w = world();
    const out = await w.run('ADD', extra);
    expect(out.exitCode).toBe(0);
    expect(out.json!.interfaces[0].pciID).toBe(pci);
    expect(w.received('/api/v1/add')[0]!.deviceID).toBe(pci);
  });

  it('prefers an inline deviceID over the device-info file', async () => {
    const w = world();
    const file = join(w.node.root, 'devinfo.json');
    writeFileSync(file, JSON.stringify({ type: 'pci', version: '1.1.0', pci: { 'pci-address': '0000:42:00.4' } }));
    const out = await w.run('ADD', { runtimeConfig: { CNIDeviceInfoFile: file } });
    expect(out.json!.interfaces[0].pciID).toBe(VF0);
  });

  it('takes the VF from the device-info file Multus names in runtimeConfig', async () => {
    const w = world();
    const file = join(w.node.root, 'devinfo.json');
    writeFileSync(file, JSON.stringify({ type: 'pci', version: '1.1.0', pci: { 'pci-address': '0000:42:00.4' } }));
    const out = await w.run('ADD', { deviceID: undefined, pciBusID: undefined, runtimeConfig: { CNIDeviceInfoFile: file } });
    expect(out.json!.interfaces[0].pciID).toBe('0000:42:00.4');
    expect(w.received('/api/v1/add')[0]!.deviceID).toBe('0000:42:00.4');
  });
});

describe('ADD against each daemon response shape', () => {
  const legacy = useWorld({ cluster: { version: 'v1.15.24', dualStack: true } });

  it('reads the ≤ v1.15 shape (protocol Dual, comma lists) into one IP per family', async () => {
    const out = await legacy().run('ADD', { cniVersion: '0.3.1' });
    expect(out.json!.ips).toEqual([
      { version: '4', interface: 0, address: '10.16.0.2/16', gateway: '10.16.0.1' },
      { version: '6', interface: 0, address: 'fd00:10:16::2/64', gateway: 'fd00:10:16::1' },
    ]);
  });
});

describe('ADD against the ≥ v1.16 shape, dual stack', () => {
  const modern = useWorld({ cluster: { version: 'head', dualStack: true } });

  it('reads ips[] into one IP per family', async () => {
    const out = await modern().run('ADD');
    expect(out.json!.ips).toEqual([
      { interface: 0, address: '10.16.0.2/16', gateway: '10.16.0.1' },
      { interface: 0, address: 'fd00:10:16::2/64', gateway: 'fd00:10:16::1' },
    ]);
  });
});

describe('representor lookup on awkward nodes', () => {
  const repsFirst = useWorld({
    spec: () => {
      const pf = connectx5();
      pf.vfs.forEach((vf, i) => (vf.rep = `aaa_rep${i}`)); // sorts before the uplink in <pf>/net
      return { pfs: [pf], devlink: 'absent' };
    },
  });

  it('never takes a representor for the uplink when it sorts first, even without devlink', async () => {
    const w = repsFirst();
    const out = await w.run('ADD');
    expect(out.exitCode).toBe(0);
    expect(w.log().find((l) => l.msg === 'offload checks')).toMatchObject({ uplink: 'enp66s0f0np0', representor: 'aaa_rep0', representorSource: 'sysfs phys_port_name' });
    expect(w.node.vf(VF0).vf.rep).toBe(out.json!.interfaces[1].name); // the one the daemon renamed
  });
});

describe('a BlueField DPU: host representors c1pf0vfN beside local pf0vfN', () => {
  const dpu = useWorld({
    spec: () => {
      const pf = connectx5();
      pf.hostReps = [{ name: 'aa_host_vf0', vf: 0 }, { name: 'aa_host_vf1', vf: 1 }];
      return { pfs: [pf] };
    },
  });

  it.each(['ok', 'absent'] as const)('picks the local representor (devlink %s)', async (devlink) => {
    const w = dpu();
    w.node.setTool('devlink', devlink);
    const out = await w.run('ADD', { deviceID: '0000:42:00.3' });
    expect(out.exitCode).toBe(0);
    expect(w.log().find((l) => l.msg === 'offload checks')).toMatchObject({
      representor: 'enp66s0f0r1',
      representorSource: devlink === 'ok' ? 'devlink' : 'sysfs phys_port_name',
    });
  });
});

describe('thick Multus: devlink and ethtool absent from the image', () => {
  const compat = useWorld({
    spec: () => {
      const pf = connectx5();
      pf.compatFile = true;
      return { pfs: [pf], devlink: 'absent', ethtool: 'absent' };
    },
  });

  it('reads the mode from compat/devlink/mode and lets the pod through with hw-tc-offload unverified', async () => {
    const w = compat();
    const out = await w.run('ADD');
    expect(out.exitCode).toBe(0);
    const checks = w.log().find((l) => l.msg === 'offload checks')!;
    expect(checks.eswitch.source).toMatch(/compat\/devlink\/mode \(devlink is not installed\)$/);
    expect(checks.hwTcOffload).toEqual({ state: 'unverified', source: 'ethtool is not installed' });
    expect(w.log()).toContainEqual(expect.objectContaining({ level: 'warn', msg: 'hw-tc-offload on enp66s0f0np0 is unverified: ethtool is not installed' }));
  });

  it('refuses legacy mode read from compat/devlink/mode', async () => {
    const w = compat();
    w.node.setMode('0000:42:00.0', 'legacy');
    const err = cniError(await w.run('ADD'));
    expect(err.code).toBe(103);
    expect(err.details).toContain('compat/devlink/mode');
  });
});

describe('two PFs of one NIC', () => {
  const twoPfs = useWorld({
    spec: () => {
      const pf0 = connectx5({ vfs: 2 });
      const pf1 = connectx5({ vfs: 2, pci: '0000:42:00.1', prefix: 'enp66s0f1' });
      pf1.vfs.forEach((vf, i) => (vf.pci = `0000:42:02.${i}`));
      return { pfs: [pf0, pf1], devlink: 'absent' };
    },
  });

  it('finds VF 0 of PF 1 by its pf1vf0 representor, not PF 0\'s pf0vf0', async () => {
    const w = twoPfs();
    const out = await w.run('ADD', { deviceID: '0000:42:02.0' });
    expect(out.exitCode).toBe(0);
    expect(w.log().find((l) => l.msg === 'offload checks')).toMatchObject({ pf: '0000:42:00.1', uplink: 'enp66s0f1np0', vfIndex: 0, representor: 'enp66s0f1r0' });
  });
});

describe('results that carry warnings', () => {
  const world = useWorld();

  it('with offload.enforce false and hw-tc-offload off: the pod goes on (software path), the failure in warnings', async () => {
    const w = world();
    w.node.setHwTc('0000:42:00.0', 'off');
    const out = await w.run('ADD', { offload: { enforce: false } });
    expect(out.exitCode).toBe(0);
    expect(out.json!.interfaces[1]).toEqual({ name: '5b45c61b307e_h', mac: 'ee:00:00:00:42:00' });
    expect(out.json!.warnings).toEqual([expect.stringMatching(/^offload\.enforce is false, going on without offload: hw-tc-offload is off on uplink enp66s0f0np0/)]);
  });

  it('with offload.enforce false on a legacy PF the daemon itself cannot plumb the VF: 11 with its reason', async () => {
    // kube-ovn takes the offload path for any deviceID, and needs switchdev's uplink representor.
    const w = world();
    w.node.setMode('0000:42:00.0', 'legacy');
    const err = cniError(await w.run('ADD', { offload: { enforce: false } }));
    expect(err).toMatchObject({ code: 11, msg: expect.stringContaining('failed to find uplink representor of 0000:42:00.2') });
    expect(w.log()).toContainEqual(expect.objectContaining({ level: 'warn', msg: expect.stringMatching(/^offload\.enforce is false, going on without offload: the eSwitch of PF 0000:42:00\.0 is in legacy mode/) }));
  });

  it('with ethtool absent: hw-tc-offload unverified, in the result too', async () => {
    const w = world();
    w.node.setTool('ethtool', 'absent');
    const out = await w.run('ADD', { cniVersion: '1.0.0' });
    expect(out.json!.warnings).toEqual(['hw-tc-offload on enp66s0f0np0 is unverified: ethtool is not installed']);
  });

  it('7: a prevResult that is not a result', async () => {
    const out = await world().run('ADD', { prevResult: { ips: 'x' } });
    expect(cniError(out)).toMatchObject({ code: 7, msg: 'prevResult is not a CNI result' });
  });
});
