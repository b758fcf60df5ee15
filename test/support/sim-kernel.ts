/**
 * The simulated node's "kernel": the fake devlink and ethtool run this (through tsx) for the
 * commands that change the hardware, so the change is made by SimNode, the one model of the
 * node, the way mlx5 would make it (switchdev creates the representors and the uplink's
 * phys_port_name; legacy removes them).
 *   sim-kernel.ts <root> eswitch <pci> <switchdev|legacy>
 *   sim-kernel.ts <root> hw-tc <netdev> <on|off>
 * Exit 2 when the node has no such device (the tool prints the real error).
 */
import { SimNode } from './sim-node.js';

const [root, op, target, value] = process.argv.slice(2);
const node = SimNode.load(root!);
if (op === 'eswitch' && (value === 'switchdev' || value === 'legacy') && node.spec.pfs.some((p) => p.pci === target)) {
  node.setMode(target!, value);
} else if (op === 'hw-tc' && node.setHwTcOfNetdev(target!, value === 'on')) {
  // done
} else {
  process.exitCode = 2;
}
