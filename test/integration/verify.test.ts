/**
 * After the daemon's 200 (shim), the plugin asks OVSDB whether the representor is a br-int port
 * of this pod that ovn-controller has bound: kube-ovn#2727, a pod on a VF with nothing in OVS.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { cniError, useWorld, VF0, type World } from '../support/harness.js';

const PORT = '5b45c61b307e_h';
const vfio = (w: World) => w.node.editVf(VF0, (vf) => Object.assign(vf, { driver: 'vfio-pci', netdev: undefined }));
const notBound = `the pod may not be connected to OVN: ovn-controller has not bound port ${PORT} (external_ids:ovn-installed is not true after 1s)`;

describe('verification after the daemon, ovn-controller up', () => {
  // ovn-controller binds 300 ms after the port appears: the daemon does not wait for a vfio-pci port.
  const world = useWorld({ daemon: { bindMs: 300 } });

  it('a VF on mlx5_core: verified at once (the daemon waited for ovn-installed itself)', async () => {
    const w = world();
    const out = await w.run('ADD');
    expect(out.exitCode, out.stdout).toBe(0);
    expect(out.json!.warnings ?? []).toEqual([]);
    expect(w.log()).toContainEqual(expect.objectContaining({ msg: `verified: port ${PORT} is on br-int and bound by ovn-controller` }));
  });

  it('a vfio-pci VF: waits for ovn-controller, which binds it after the daemon answered', async () => {
    const w = world();
    vfio(w);
    const out = await w.run('ADD', { vf_driver: 'vfio-pci', tool_timeout_s: 5 });
    expect(out.exitCode, out.stdout).toBe(0);
    expect(out.json!.warnings.filter((m: string) => /OVN|verified/.test(m))).toEqual([]);
    expect(await w.ovs.vsctl('get', 'interface', PORT, 'external_ids:ovn-installed')).toBe('"true"');
  });

  it('OVSDB out of reach: not verified, said as a warning; the pod is attached', async () => {
    const w = world();
    const out = await w.run('ADD', { ovsdb_socket: join(w.node.root, 'no-db.sock') });
    expect(out.exitCode, out.stdout).toBe(0);
    expect(out.json!.warnings).toContainEqual(expect.stringMatching(new RegExp(`^port ${PORT} not verified: OVSDB at .* is unreachable`)));
  });

  it('offload.check_ovs false: OVSDB left alone, which the log says, without a warning', async () => {
    const w = world();
    const out = await w.run('ADD', { offload: { check_ovs: false } });
    expect(out.json!.warnings ?? []).toEqual([]);
    expect(w.log()).toContainEqual(expect.objectContaining({ level: 'info', msg: `port ${PORT} not verified: offload.check_ovs is false` }));
  });
});

describe('verification after the daemon, ovn-controller down', () => {
  const world = useWorld({ daemon: { ovnController: 'down' } });

  it('a vfio-pci VF the daemon answered for, never bound: a warning in the result and the log', async () => {
    const w = world();
    vfio(w);
    const out = await w.run('ADD', { vf_driver: 'vfio-pci', tool_timeout_s: 1 });
    expect(out.exitCode, out.stdout).toBe(0);
    expect(out.json!.warnings).toContain(notBound);
    expect(w.log()).toContainEqual(expect.objectContaining({ level: 'warn', msg: notBound }));
  });

  it('offload.verify strict: 110, the daemon undoes the attachment, and the runtime\'s DEL finds the VF on record', async () => {
    const w = world();
    vfio(w);
    const conf = { vf_driver: 'vfio-pci', tool_timeout_s: 1, offload: { verify: 'strict' } };
    const err = cniError(await w.run('ADD', conf));
    expect(err).toMatchObject({ code: 110, msg: `the pod is not connected to OVN: ovn-controller has not bound port ${PORT} (external_ids:ovn-installed is not true after 1s)` });
    expect(err.details).toContain(`ovs-vsctl --columns=name,external_ids list interface ${PORT}`);
    expect(w.daemon.requests.map((r) => r.path)).toEqual(['/api/v1/add', '/api/v1/del']);
    expect(await w.ovs.vsctl('--if-exists', 'get', 'interface', PORT, 'name')).toBe('');
    expect(w.stateFiles()).toEqual([`vf/${VF0}.json`]);
    expect((await w.run('DEL', conf)).exitCode).toBe(0);
    expect(w.stateFiles()).toEqual([]);
  });

  it('offload.verify takes only warn or strict', async () => {
    expect(cniError(await world().run('ADD', { offload: { verify: 'yes' } }))).toMatchObject({ code: 7, msg: expect.stringContaining('offload.verify') });
  });
});
