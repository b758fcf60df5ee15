import { describe, it, expect } from 'vitest';
import { isUplinkPortName, parseVfPortName } from '../../../src/node/port-name.js';

describe('isUplinkPortName', () => {
  it.each([
    ['p0', true, 'the first physical port'],
    ['p1', true, 'the second physical port'],
    ['p10', true, 'a two-digit port'],
    ['p0s1', false, 'a split port'],
    ['pf0', false, 'a PF port'],
    ['c1p0', false, "a DPU host's port"],
    ['pf0vf0', false, 'a VF representor'],
    ['', false, 'an empty phys_port_name'],
    ['p', false, 'no number'],
  ])('%j → %s (%s)', (name, want) => {
    expect(isUplinkPortName(name)).toBe(want);
  });
});

describe('parseVfPortName', () => {
  it.each([
    ['pf0vf3', { pf: 0, vf: 3 }],
    ['pf1vf12', { pf: 1, vf: 12 }],
    ['pf0vf0', { pf: 0, vf: 0 }],
  ])('%j is the local representor %j', (name, want) => {
    expect(parseVfPortName(name)).toEqual(want);
  });

  it.each([
    ['c1pf0vf3', "a DPU host's VF (external controller)"],
    ['pf0sf3', 'a sub-function'],
    ['pf0', 'a PF port'],
    ['3', 'a bare number'],
    ['pf0vf', 'no VF number'],
    ['p0', 'the uplink'],
    ['enp66s0f0npf0vf0', 'a udev-renamed netdev name, not a phys_port_name'],
    ['', 'an empty phys_port_name'],
  ])('%j is not a local VF representor (%s)', (name) => {
    expect(parseVfPortName(name)).toBeUndefined();
  });
});
