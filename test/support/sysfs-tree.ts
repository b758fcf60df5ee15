/** Fake sysfs trees (test/support/sim-node) for the unit tests of src/node, removed after each test. */
import { afterEach } from 'vitest';
import { Sysfs } from '../../src/node/sysfs.js';
import { SimNode, connectx5, type NodeSpec, type PfSpec } from './sim-node.js';

export interface SysfsTrees {
  /** One ConnectX-5 PF with 4 VFs, edited first; its Sysfs reader. */
  tree(edit?: (pf: PfSpec) => void): { node: SimNode; sysfs: Sysfs };
  /** Any node spec; its Sysfs reader. */
  node(spec: NodeSpec): { node: SimNode; sysfs: Sysfs };
}

export function useSysfsTrees(): SysfsTrees {
  const nodes: SimNode[] = [];
  afterEach(() => {
    for (const n of nodes.splice(0)) n.remove();
  });
  const node = (spec: NodeSpec) => {
    const n = new SimNode(spec);
    nodes.push(n);
    return { node: n, sysfs: new Sysfs(n.root) };
  };
  return {
    node,
    tree(edit) {
      const pf = connectx5();
      edit?.(pf);
      return node({ pfs: [pf] });
    },
  };
}
