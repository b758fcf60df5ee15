import { describe, it, expect } from 'vitest';
import { CniRequest, CniResponse, responseIps } from '../../../src/kubeovn/protocol.js';

// The two shapes a daemon answers POST /api/v1/add with (docs/upstream.md#kube-ovn-cniresponse).
const V116 = '{"ips":[{"protocol":"IPv4","ip":"10.16.0.5","cidr":"10.16.0.0/16","gateway":"10.16.0.1"}],"mac_address":"00:00:00:aa:bb:cc","routes":[{"dst":"10.16.0.0/16"},{"gw":"10.16.0.1"}],"mtu":1400,"nicname":"eth0","dns":{},"error":""}';
const LEGACY_DUAL = '{"protocol":"Dual","address":"10.16.0.5,fd00:10:16::5","mac_address":"00:00:00:AA:BB:CC","cidr":"10.16.0.0/16,fd00:10:16::/64","gateway":"10.16.0.1,fd00:10:16::1","routes":null,"mtu":1400,"nicname":"eth0","dns":{},"error":""}';

const legacy = (fields: Record<string, unknown>): CniResponse =>
  CniResponse.parse({ mac_address: '00:00:00:aa:bb:cc', routes: null, mtu: 1400, nicname: 'eth0', dns: {}, error: '', ...fields });

describe('CniResponse', () => {
  it('parses the ≥ v1.16 shape with ips[]', () => {
    expect(CniResponse.parse(JSON.parse(V116))).toEqual({
      ips: [{ protocol: 'IPv4', ip: '10.16.0.5', cidr: '10.16.0.0/16', gateway: '10.16.0.1' }],
      mac_address: '00:00:00:aa:bb:cc',
      routes: [{ dst: '10.16.0.0/16' }, { gw: '10.16.0.1' }],
      mtu: 1400,
      nicname: 'eth0',
      dns: {},
      error: '',
    });
  });

  it('parses the ≤ v1.15 shape with protocol/address/cidr/gateway', () => {
    expect(CniResponse.parse(JSON.parse(LEGACY_DUAL))).toMatchObject({
      protocol: 'Dual',
      address: '10.16.0.5,fd00:10:16::5',
      cidr: '10.16.0.0/16,fd00:10:16::/64',
      gateway: '10.16.0.1,fd00:10:16::1',
      routes: null,
      mac_address: '00:00:00:AA:BB:CC',
    });
  });

  it('parses a ≥ v1.16 error answer (ips null)', () => {
    const resp = CniResponse.parse({ ips: null, mac_address: '', routes: null, mtu: 0, nicname: '', dns: {}, error: 'no address allocated to pod default/web-0' });
    expect(resp.error).toBe('no address allocated to pod default/web-0');
    expect(responseIps(resp)).toEqual([]);
  });

  it.each([
    [{ mac_address: '00:00:00:aa:bb:cc' }, 'neither ips nor protocol/address'],
    [{ ips: [{ ip: '10.16.0.5' }] }, 'an ips[] entry without cidr'],
    [{ protocol: 'IPv4', address: '10.16.0.5' }, 'a legacy answer without cidr'],
    [{ ips: [], mtu: '1400' }, 'mtu as a string'],
  ])('rejects %j (%s)', (doc, _why) => {
    expect(CniResponse.safeParse(doc).success).toBe(false);
  });
});

describe('responseIps', () => {
  it.each([
    ['≥ v1.16, IPv4', CniResponse.parse(JSON.parse(V116)), [{ ip: '10.16.0.5', cidr: '10.16.0.0/16', gateway: '10.16.0.1' }]],
    [
      '≥ v1.16, dual stack without gateways (not the default-route NIC)',
      CniResponse.parse({ ips: [{ protocol: 'IPv4', ip: '10.16.0.5', cidr: '10.16.0.0/16' }, { protocol: 'IPv6', ip: 'fd00:10:16::5', cidr: 'fd00:10:16::/64', gateway: '' }] }),
      [{ ip: '10.16.0.5', cidr: '10.16.0.0/16' }, { ip: 'fd00:10:16::5', cidr: 'fd00:10:16::/64' }],
    ],
    [
      '≤ v1.15, dual stack',
      CniResponse.parse(JSON.parse(LEGACY_DUAL)),
      [{ ip: '10.16.0.5', cidr: '10.16.0.0/16', gateway: '10.16.0.1' }, { ip: 'fd00:10:16::5', cidr: 'fd00:10:16::/64', gateway: 'fd00:10:16::1' }],
    ],
    [
      '≤ v1.15, cidr and gateway listed v6 first: still paired by family',
      legacy({ protocol: 'Dual', address: '10.16.0.5,fd00:10:16::5', cidr: 'fd00:10:16::/64,10.16.0.0/16', gateway: 'fd00:10:16::1,10.16.0.1' }),
      [{ ip: '10.16.0.5', cidr: '10.16.0.0/16', gateway: '10.16.0.1' }, { ip: 'fd00:10:16::5', cidr: 'fd00:10:16::/64', gateway: 'fd00:10:16::1' }],
    ],
    [
      '≤ v1.15, IPv4 only',
      legacy({ protocol: 'IPv4', address: '10.16.0.5', cidr: '10.16.0.0/16', gateway: '10.16.0.1' }),
      [{ ip: '10.16.0.5', cidr: '10.16.0.0/16', gateway: '10.16.0.1' }],
    ],
    [
      '≤ v1.15, IPv6 only with no gateway',
      legacy({ protocol: 'IPv6', address: 'fd00:10:16::5', cidr: 'fd00:10:16::/64', gateway: '' }),
      [{ ip: 'fd00:10:16::5', cidr: 'fd00:10:16::/64' }],
    ],
    [
      '≤ v1.15, gateway key absent',
      legacy({ protocol: 'IPv4', address: '10.16.0.5', cidr: '10.16.0.0/16' }),
      [{ ip: '10.16.0.5', cidr: '10.16.0.0/16' }],
    ],
  ])('%s', (_name, resp, want) => {
    const ips = responseIps(resp);
    expect(ips).toEqual(want);
    // No "gateway": undefined left behind for the result to print.
    expect(JSON.parse(JSON.stringify(ips))).toEqual(want);
  });
});

describe('CniRequest', () => {
  const request = {
    cni_type: 'kube-ovn',
    pod_name: 'web-0',
    pod_namespace: 'default',
    container_id: '5b45c61b307e0a7f',
    net_ns: '/var/run/netns/cni-1',
    if_name: 'net1',
    provider: 'sriov-offload.default.ovn',
    routes: null,
    dns: {},
    vf_driver: '',
    deviceID: '0000:42:00.2',
    vhost_user_socket_volume_name: '',
    vhost_user_socket_name: '',
    vhost_user_socket_consumption: '',
  };

  it('accepts a request with every key, routes null and dns {}', () => {
    expect(CniRequest.parse(request)).toEqual(request);
  });

  it('accepts routes as a list', () => {
    expect(CniRequest.parse({ ...request, routes: [{ dst: '10.0.0.0/8', gw: '10.16.0.1' }] }).routes).toEqual([{ dst: '10.0.0.0/8', gw: '10.16.0.1' }]);
  });

  it.each(Object.keys(request).map((k) => [k]))('rejects a request without %s (every key is always sent)', (key) => {
    const { [key]: _gone, ...rest } = request as Record<string, unknown>;
    expect(CniRequest.safeParse(rest).success).toBe(false);
  });

  it.each([['device_id'], ['pciBusID'], ['cniVersion']])('rejects a request with the extra key %s', (key) => {
    expect(CniRequest.safeParse({ ...request, [key]: 'x' }).success).toBe(false);
  });

  it.each([
    [{ cni_type: 'kube-ovn-offload' }, 'our own type instead of "kube-ovn"'],
    [{ routes: undefined }, 'routes undefined instead of null'],
    [{ dns: null }, 'dns null instead of {}'],
  ])('rejects %j (%s)', (patch, _why) => {
    expect(CniRequest.safeParse({ ...request, ...patch }).success).toBe(false);
  });
});
