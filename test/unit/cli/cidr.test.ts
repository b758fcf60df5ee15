/** A kube-ovn Subnet's addressing from --cidr: what kube-ovn accepts, and what it refuses. */
import { describe, expect, it } from 'vitest';
import { isIPv6 } from 'node:net';
import fc from 'fast-check';
import { addressText, parseAddress, subnetAddressing } from '../../../src/cli/cidr.js';

describe('subnetAddressing', () => {
  it.each([
    ['10.17.0.0/16', { cidrBlock: '10.17.0.0/16', protocol: 'IPv4', gateway: '10.17.0.1', excludeIps: ['10.17.0.1'] }],
    ['192.168.8.0/30', { cidrBlock: '192.168.8.0/30', protocol: 'IPv4', gateway: '192.168.8.1', excludeIps: ['192.168.8.1'] }],
    ['fd00:10:17::/112', { cidrBlock: 'fd00:10:17::/112', protocol: 'IPv6', gateway: 'fd00:10:17::1', excludeIps: ['fd00:10:17::1'] }],
    // kube-ovn refuses upper case in IPv6 CIDRs (ValidateSubnet): written back in lower case.
    ['FD00:10:17::/112', { cidrBlock: 'fd00:10:17::/112', protocol: 'IPv6', gateway: 'fd00:10:17::1', excludeIps: ['fd00:10:17::1'] }],
    ['10.17.0.0/16,fd00:10:17::/112', { cidrBlock: '10.17.0.0/16,fd00:10:17::/112', protocol: 'Dual', gateway: '10.17.0.1,fd00:10:17::1', excludeIps: ['10.17.0.1', 'fd00:10:17::1'] }],
    // IPv4 first, as kube-ovn writes a Dual cidrBlock and its gateway.
    ['fd00:10:17::/112,10.17.0.0/16', { cidrBlock: '10.17.0.0/16,fd00:10:17::/112', protocol: 'Dual', gateway: '10.17.0.1,fd00:10:17::1', excludeIps: ['10.17.0.1', 'fd00:10:17::1'] }],
  ])('%s → cidrBlock, protocol, first host as gateway, gateway excluded', (cidr, want) => {
    expect(subnetAddressing(cidr)).toEqual({ ok: true, value: want });
  });

  it.each([
    ['10.17.0.0', '"10.17.0.0" is not a CIDR such as 10.17.0.0/16'],
    ['10.17.0.0/33', '"10.17.0.0/33" is not a CIDR'],
    ['10.17.0.0/016', '"10.17.0.0/016" is not a CIDR'],
    ['10.17.0/16', '"10.17.0/16" is not a CIDR'],
    ['fe80::%eth0/64', '"fe80::%eth0/64" is not a CIDR'],
    ['::ffff:10.0.0.0/120', '"::ffff:10.0.0.0/120" is not a CIDR'],
    ['10.17.0.1/16', '10.17.0.1/16 has host bits set: the network is 10.17.0.0/16'],
    ['fd00:10:17::1/112', 'fd00:10:17::1/112 has host bits set: the network is fd00:10:17::/112'],
    ['10.17.0.0/31', '10.17.0.0/31 leaves no address for a pod: use a prefix of at most /30'],
    ['fd00::/127', 'fd00::/127 leaves no address for a pod: use a prefix of at most /126'],
    ['127.0.0.0/8', '127.0.0.0/8 overlaps 127.0.0.0/8 (loopback), which kube-ovn refuses for a Subnet'],
    ['224.0.0.0/8', '224.0.0.0/8 overlaps 224.0.0.0/4 (multicast)'],
    ['169.254.0.0/24', '169.254.0.0/24 overlaps 169.254.0.0/16 (link-local)'],
    ['0.0.0.0/0', '0.0.0.0/0 overlaps 0.0.0.0/32 (the zero address)'],
    ['fe80::/64', 'fe80::/64 overlaps fe80::/10 (link-local)'],
    ['ff02::/16', 'ff02::/16 overlaps ff00::/8 (multicast)'],
    ['10.17.0.0/16,10.18.0.0/16', 'two CIDRs must be one IPv4 and one IPv6'],
    ['10.17.0.0/16,fd00::/64,fd01::/64', 'at most two CIDRs'],
  ])('refuses %s, saying why', (cidr, message) => {
    const got = subnetAddressing(cidr);
    expect(got.ok).toBe(false);
    expect(got.ok || got.message).toContain(message);
  });
});

describe('addressText', () => {
  it.each([
    [0n, '::'],
    [1n, '::1'],
    [0xfd000010001700000000000000000001n, 'fd00:10:17::1'],
    // RFC 5952: the first of two equally long zero runs becomes "::"; a lone zero group stays.
    [0x00010000000000000001000000000000n, '1::1:0:0:0'],
    [0x20010db8000000010001000100010001n, '2001:db8:0:1:1:1:1:1'],
  ])('IPv6 %s → %s (RFC 5952)', (value, text) => {
    expect(addressText(6, value)).toBe(text);
  });

  it('writes every IPv6 address so that node:net takes it and it reads back to the same value', () => {
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), (value) => {
      const text = addressText(6, value);
      expect(isIPv6(text)).toBe(true);
      expect(text).toBe(text.toLowerCase());
      expect(parseAddress(text)).toEqual({ family: 6, value });
    }));
  });

  it('reads any hex-group IPv6 text, however written, to the value its canonical form has', () => {
    fc.assert(fc.property(fc.ipV6().filter((t) => !t.includes('.')), (text) => {
      const parsed = parseAddress(text)!;
      expect(parsed.family).toBe(6);
      expect(parseAddress(addressText(6, parsed.value))).toEqual(parsed);
    }));
  });

  it('writes IPv4 as a dotted quad, and reads it back', () => {
    expect(addressText(4, 0x0a110001n)).toBe('10.17.0.1');
    expect(parseAddress('10.17.0.1')).toEqual({ family: 4, value: 0x0a110001n });
  });

  it.each(['fe80::1%eth0', '::ffff:10.0.0.1', '010.17.0.1', 'fd00::g'])('reads no address from %s', (text) => {
    expect(parseAddress(text)).toBeUndefined();
  });
});
