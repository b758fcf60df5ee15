/** Which topology doctor reads from a plugin list (docs/topologies.md): pure, table-tested. */
import { describe, expect, it } from 'vitest';
import { chainText, layoutOf } from '../../../src/cli/cni-topology.js';

const ours = (extra: Record<string, unknown> = {}) => ({ type: 'kube-ovn-offload', ...extra });
const kubeOvn = { type: 'kube-ovn' };
const portmap = { type: 'portmap' };

describe('layoutOf', () => {
  it.each([
    ['no kube-ovn-offload', [kubeOvn, portmap], { kind: 'none' }],
    ['guard (the default mode) before kube-ovn', [ours(), kubeOvn, portmap], { kind: 'guard', requireVf: true }],
    ['guard with require_vf false', [ours({ mode: 'guard', offload: { require_vf: false } }), kubeOvn], { kind: 'guard', requireVf: false }],
    ['shim alone (require_vf false by default)', [ours({ mode: 'shim' }), portmap], { kind: 'shim', requireVf: false }],
    ['shim with require_vf true', [ours({ mode: 'shim', offload: { require_vf: true } }), portmap], { kind: 'shim', requireVf: true }],
  ])('%s', (_, plugins, expected) => {
    expect(layoutOf(plugins)).toEqual(expected);
  });

  it.each([
    ['guard with no kube-ovn: the old layout that replaced "type": "kube-ovn"', [ours(), portmap], 'with no kube-ovn after it, the layout where it replaced "type": "kube-ovn"'],
    ['guard after kube-ovn', [kubeOvn, ours(), portmap], '(guard) comes after kube-ovn'],
    ['shim with kube-ovn', [ours({ mode: 'shim' }), kubeOvn], '(shim) and kube-ovn in one list'],
    ['twice', [ours(), ours(), kubeOvn], 'is in the list 2 times'],
    ['a mode the plugin refuses', [ours({ mode: 'Guard' }), kubeOvn], '"mode": "Guard" is neither "guard" nor "shim"'],
  ])('broken: %s', (_, plugins, why) => {
    const layout = layoutOf(plugins);
    expect(layout.kind).toBe('broken');
    expect(layout.kind === 'broken' && layout.why).toContain(why);
  });

  it('says a list as its types, with our mode', () => {
    expect(chainText([ours(), kubeOvn, portmap, {}])).toBe('[kube-ovn-offload (guard), kube-ovn, portmap, ?]');
    expect(chainText([ours({ mode: 'shim' })])).toBe('[kube-ovn-offload (shim)]');
  });
});
