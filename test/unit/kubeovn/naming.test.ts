import { describe, expect, it } from 'vitest';
import { ifnameProblem, representorHostName } from '../../../src/kubeovn/naming.js';
import { generateNicName } from '../../support/sim-daemon.js';

const CID = '5b45c61b307e0a9f8c7d6e5f4a3b2c1d';

describe('representorHostName: kube-ovn\'s generateNicName', () => {
  it.each([
    ['eth0', '5b45c61b307e_h'],
    ['net1', '5b45c61b_net1_h'],
    ['a', '5b45c61b307_a_h'],
    ['abcdefghijkl', '_abcdefghijkl_h'], // 12 characters: nothing of the container ID is left
    // KubeVirt ≥ v1.0: "pod" + 11 characters, cut to the 7 after "pod"
    ['pod16367aacb67', '5b45c_16367aa_h'],
    ['podabcdefghijk', '5b45c_abcdefg_h'],
  ])('%s → %s', (ifname, name) => {
    expect(representorHostName(CID, ifname)).toBe(name);
    expect(Buffer.byteLength(name)).toBeLessThanOrEqual(15); // a Linux interface name
  });

  it.each(['eth0', 'net1', 'abcdefghijkl', 'pod16367aacb67'])('agrees with the simulated daemon, written separately from kube-ovn\'s source, for %s', (ifname) => {
    expect(representorHostName(CID, ifname)).toBe(generateNicName(CID, ifname));
  });
});

describe('ifnameProblem', () => {
  it.each(['eth0', 'net1', 'abcdefghijkl', 'pod16367aacb67'])('accepts %s', (ifname) => {
    expect(ifnameProblem(ifname)).toBeUndefined();
  });

  it.each(['abcdefghijklm', 'pod16367aacb6', 'pod16367aacb678', 'net1234567890'])('refuses %s, which would crash kube-ovn\'s daemon', (ifname) => {
    expect(ifnameProblem(ifname)).toMatch(/accepts at most 12/);
  });
});
