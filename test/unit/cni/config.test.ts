import { describe, it, expect } from 'vitest';
import { parseConfig, parseJson } from '../../../src/cni/config.js';
import { thrown } from '../../support/thrown.js';

const MINIMAL = { cniVersion: '1.0.0', name: 'sriov-offload', type: 'kube-ovn-offload' };

describe('parseConfig', () => {
  it('fills every default from a minimal configuration', () => {
    expect(parseConfig(MINIMAL, {})).toEqual({
      cniVersion: '1.0.0',
      name: 'sriov-offload',
      mode: 'guard',
      serverSocket: '/run/openvswitch/kube-ovn-daemon.sock',
      provider: 'ovn',
      routes: null,
      dns: {},
      vfDriver: '',
      vhostUser: { volumeName: '', name: '', consumption: '' },
      offload: { requireVf: true, enforce: true, allowBond: false, checkOvs: true, verify: 'warn' },
      ovsdbSocket: '/run/openvswitch/db.sock',
      daemonTimeoutMs: 200_000,
      toolTimeoutMs: 10_000,
      lockTimeoutMs: 60_000,
      invocationTimeoutMs: 230_000,
      logFile: '',
      logLevel: 'info',
      stateDir: '/var/lib/cni/kube-ovn-offload',
      deviceIdSources: {},
      prevResult: undefined,
      validAttachments: undefined,
      notes: [],
    });
  });

  it('accepts an offload key it does not know (a newer release\'s) and notes it for the log', () => {
    const conf = parseConfig({ ...MINIMAL, offload: { enforce: true, allowBond: true } }, {});
    expect(conf.offload.enforce).toBe(true);
    expect(conf.notes).toEqual(['unknown key offload.allowBond ignored (a newer release\'s?)']);
  });

  it('reads every key a user may write', () => {
    const conf = parseConfig({
      ...MINIMAL,
      server_socket: '/run/kube-ovn/daemon.sock',
      provider: 'sriov-offload.default.ovn',
      routes: [{ dst: '10.0.0.0/8', gw: '10.16.0.1' }],
      dns: { nameservers: ['10.96.0.10'] },
      vf_driver: 'vfio-pci',
      vhost_user_socket_volume_name: 'vhostuser-sockets',
      vhost_user_socket_name: 'sock0',
      vhost_user_socket_consumption: 'kubevirt',
      offload: { enforce: false, allow_bond: true, check_ovs: false },
      ovsdb_socket: '/run/ovs/db.sock',
      daemon_timeout_s: 30,
      tool_timeout_s: 2.5,
      log_file: '/var/log/kube-ovn-offload.log',
      log_level: 'debug',
      state_dir: '/run/kube-ovn-offload',
    }, {});
    expect(conf).toMatchObject({
      serverSocket: '/run/kube-ovn/daemon.sock',
      provider: 'sriov-offload.default.ovn',
      routes: [{ dst: '10.0.0.0/8', gw: '10.16.0.1' }],
      dns: { nameservers: ['10.96.0.10'] },
      vfDriver: 'vfio-pci',
      vhostUser: { volumeName: 'vhostuser-sockets', name: 'sock0', consumption: 'kubevirt' },
      offload: { enforce: false, allowBond: true, checkOvs: false },
      ovsdbSocket: '/run/ovs/db.sock',
      daemonTimeoutMs: 30_000,
      toolTimeoutMs: 2_500,
      logFile: '/var/log/kube-ovn-offload.log',
      logLevel: 'debug',
      stateDir: '/run/kube-ovn-offload',
    });
  });

  it.each([
    [{}, {}, '/var/lib/cni/kube-ovn-offload', 'the default'],
    [{ state_dir: '/var/lib/cni/conf' }, {}, '/var/lib/cni/conf', 'the config'],
    [{ state_dir: '/var/lib/cni/conf' }, { KUBE_OVN_OFFLOAD_STATE_DIR: '/env/state' }, '/env/state', 'the environment over the config'],
    [{}, { KUBE_OVN_OFFLOAD_STATE_DIR: '/env/state' }, '/env/state', 'the environment over the default'],
    [{ state_dir: '/var/lib/cni/conf' }, { KUBE_OVN_OFFLOAD_STATE_DIR: '' }, '/var/lib/cni/conf', 'an empty variable does not override'],
    [{ state_dir: '/var/run/kovo/../kovo2' }, {}, '/var/run/kovo2', 'the config, normalised'],
  ])('state_dir %j with env %j is %s (%s)', (keys, env, want, _why) => {
    expect(parseConfig({ ...MINIMAL, ...keys }, env).stateDir).toBe(want);
  });

  describe('confines the paths a NAD names (a tenant may write one)', () => {
    it.each([
      ['log_file', '/etc/cron.d/evil', '/var/log/'],
      ['log_file', '/var/log/../../etc/shadow', '/var/log/'],
      ['log_file', 'relative.log', '/var/log/'],
      ['log_file', '/var/log/', '/var/log/'],
      ['log_file', '/var/logs/x.log', '/var/log/'],
      ['log_file', '/dev/stdout', '/var/log/'],
      ['log_file', '/var/log/x\u0000.log', '/var/log/'],
      ['state_dir', '/etc', '/var/lib/cni/ or /run/ or /var/run/'],
      ['state_dir', '/run', '/var/lib/cni/ or /run/ or /var/run/'],
      ['state_dir', '/var/lib/cni/../kubelet', '/var/lib/cni/ or /run/ or /var/run/'],
      ['runtimeConfig.CNIDeviceInfoFile', '/etc/shadow', '/var/run/k8s.cni.cncf.io/devinfo/ or /run/k8s.cni.cncf.io/devinfo/'],
      ['runtimeConfig.CNIDeviceInfoFile', '/var/run/k8s.cni.cncf.io/devinfo/../../../../etc/shadow', '/var/run/k8s.cni.cncf.io/devinfo/ or /run/k8s.cni.cncf.io/devinfo/'],
    ])('%s %j is 7, naming the allowed roots', (key, raw, roots) => {
      const value = raw;
      const conf = key === 'runtimeConfig.CNIDeviceInfoFile' ? { ...MINIMAL, runtimeConfig: { CNIDeviceInfoFile: value } } : { ...MINIMAL, [key]: value };
      const e = thrown(() => parseConfig(conf, { CNI_COMMAND: 'ADD' }));
      expect(e.code).toBe(7);
      expect(e.message).toContain(`${key} ${JSON.stringify(value)}`);
      expect(e.message).toContain(`under ${roots}`);
    });

    it('accepts the paths the deployment uses', () => {
      const conf = parseConfig({
        ...MINIMAL,
        log_file: '/var/log/kube-ovn/kube-ovn-offload.log',
        state_dir: '/var/lib/cni/kube-ovn-offload',
        runtimeConfig: { CNIDeviceInfoFile: '/var/run/k8s.cni.cncf.io/devinfo/dp/mellanox.com-cx5-0000:42:00.2-device.json' },
      }, { CNI_COMMAND: 'ADD' });
      expect(conf).toMatchObject({
        logFile: '/var/log/kube-ovn/kube-ovn-offload.log',
        stateDir: '/var/lib/cni/kube-ovn-offload',
        deviceIdSources: { deviceInfoFile: '/var/run/k8s.cni.cncf.io/devinfo/dp/mellanox.com-cx5-0000:42:00.2-device.json' },
      });
    });

    it('widens only through KUBE_OVN_OFFLOAD_PATH_ROOTS, which the runtime sets', () => {
      const conf = { ...MINIMAL, log_file: '/srv/test/plugin.log', state_dir: '/srv/test/state' };
      expect(thrown(() => parseConfig(conf, { CNI_COMMAND: 'ADD' })).code).toBe(7);
      expect(parseConfig(conf, { CNI_COMMAND: 'ADD', KUBE_OVN_OFFLOAD_PATH_ROOTS: '/nowhere:/srv/test' })).toMatchObject({ logFile: '/srv/test/plugin.log', stateDir: '/srv/test/state' });
      // A relative root is no root: "." would otherwise admit whatever the cwd is.
      expect(thrown(() => parseConfig({ ...MINIMAL, log_file: '/srv/x.log' }, { CNI_COMMAND: 'ADD', KUBE_OVN_OFFLOAD_PATH_ROOTS: 'srv:.' })).code).toBe(7);
    });

    it('lets DEL go on with the defaults, and says why', () => {
      const conf = parseConfig({ ...MINIMAL, log_file: '/etc/x', state_dir: '/etc', runtimeConfig: { CNIDeviceInfoFile: '/etc/shadow' } }, { CNI_COMMAND: 'DEL' });
      expect(conf).toMatchObject({ logFile: '', stateDir: '/var/lib/cni/kube-ovn-offload', deviceIdSources: { deviceInfoFile: undefined } });
      expect(conf.notes).toEqual([
        expect.stringMatching(/^log_file "\/etc\/x" is outside .*: DEL goes on with stderr$/),
        expect.stringMatching(/^state_dir "\/etc" is outside .*: DEL goes on with the default \/var\/lib\/cni\/kube-ovn-offload$/),
        expect.stringMatching(/^runtimeConfig.CNIDeviceInfoFile "\/etc\/shadow" is outside .*: DEL goes on with no device-info file$/),
      ]);
    });
  });

  const TOP = { server_socket: '/top.sock', provider: 'top.ovn', routes: [{ dst: '192.168.0.0/16' }] };
  it.each([
    [
      'ipam keys win over top-level ones',
      { ...TOP, ipam: { type: 'kube-ovn', server_socket: '/ipam.sock', provider: 'net1.default.ovn', routes: [{ dst: '10.0.0.0/8', gw: '10.16.0.1' }] } },
      { serverSocket: '/ipam.sock', provider: 'net1.default.ovn', routes: [{ dst: '10.0.0.0/8', gw: '10.16.0.1' }] },
    ],
    [
      'an ipam section without those keys leaves the top-level ones',
      { ...TOP, ipam: { type: 'kube-ovn' } },
      { serverSocket: '/top.sock', provider: 'top.ovn', routes: [{ dst: '192.168.0.0/16' }] },
    ],
    [
      'ipam keys alone, with defaults under them',
      { ipam: { type: 'kube-ovn', provider: 'net1.default.ovn' } },
      { serverSocket: '/run/openvswitch/kube-ovn-daemon.sock', provider: 'net1.default.ovn', routes: null },
    ],
  ])('ipam remap: %s', (_name, keys, want) => {
    expect(parseConfig({ ...MINIMAL, ...keys }, {})).toMatchObject(want);
  });

  it.each([
    [{ ...MINIMAL, name: 'bad name' }, 'name: network name must match'],
    [{ ...MINIMAL, name: '../x' }, 'name: network name must match'],
    [{ ...MINIMAL, name: '' }, 'name: network name must match'],
    [{ cniVersion: '1.0.0' }, 'name: Invalid input'],
    [{ name: 'sriov-offload' }, 'cniVersion: Invalid input'],
    [{ ...MINIMAL, daemon_timeout_s: 2_147_484 }, 'daemon_timeout_s: '],
    [{ ...MINIMAL, tool_timeout_s: 3_000_000 }, 'tool_timeout_s: '],
    [{ ...MINIMAL, offload: { enforce: 'yes' } }, 'offload.enforce: Invalid input'],
    [{ ...MINIMAL, daemon_timeout_s: 0 }, 'daemon_timeout_s: '],
    [{ ...MINIMAL, log_level: 'trace' }, 'log_level: '],
    [{ ...MINIMAL, routes: [{ dst: 10 }] }, 'routes.0.dst: '],
    [null, '(top level): '],
    [[], '(top level): '],
  ])('%j is refused with code 7 naming %j', (doc, where) => {
    const err = thrown(() => parseConfig(doc, {}));
    expect(err.code).toBe(7);
    expect(err.message).toContain(`invalid network configuration: ${where}`);
  });

  it('keys it does not know pass through (capabilities, args, future keys)', () => {
    expect(parseConfig({ ...MINIMAL, capabilities: { deviceID: true }, args: { cni: {} }, some_future_key: 1 }, {}).name).toBe('sriov-offload');
  });

  it('collects every deviceID source, unvalidated, in the documented order', () => {
    const conf = parseConfig({
      ...MINIMAL,
      deviceID: '0000:42:00.3',
      pciBusID: '0000:AF:00.4',
      runtimeConfig: { deviceID: '0000:42:00.2', CNIDeviceInfoFile: '/var/run/k8s.cni.cncf.io/devinfo/dp/x.json' },
    }, {});
    expect(conf.deviceIdSources).toEqual({
      runtimeConfig: '0000:42:00.2',
      deviceID: '0000:42:00.3',
      pciBusID: '0000:AF:00.4',
      deviceInfoFile: '/var/run/k8s.cni.cncf.io/devinfo/dp/x.json',
    });
    expect(Object.keys(conf.deviceIdSources)).toEqual(['runtimeConfig', 'deviceID', 'pciBusID', 'deviceInfoFile']);
  });

  it('passes prevResult through untouched', () => {
    const prevResult = { cniVersion: '1.0.0', interfaces: [{ name: 'eth0' }] };
    expect(parseConfig({ ...MINIMAL, prevResult }, {}).prevResult).toEqual(prevResult);
  });
});

describe('parseJson', () => {
  it('parses a configuration document', () => {
    expect(parseJson('{"cniVersion":"1.0.0","name":"n"}')).toEqual({ cniVersion: '1.0.0', name: 'n' });
  });

  it.each([[''], ['{'], ['not json'], ['{"a":1,}']])('%j is refused with code 6', (stdin) => {
    const err = thrown(() => parseJson(stdin));
    expect(err.code).toBe(6);
    expect(err.message).toBe('network configuration on stdin is not valid JSON');
    expect(err.details).not.toBe('');
  });
});
