/**
 * The simulated node's "kernel": the fake tools run this (through tsx) for the commands that
 * change the node, so the change is made by SimNode, the one model of the node, the way the
 * kernel and mlx5 would make it (switchdev creates the representors and the uplink's
 * phys_port_name; a netdev moved between namespaces appears or vanishes in sysfs).
 *   sim-kernel.ts <root> eswitch <pci> <switchdev|legacy>
 *   sim-kernel.ts <root> hw-tc <netdev> <on|off>
 *   sim-kernel.ts <root> vf-mac <pf-netdev> <vf-index> <mac>
 *   sim-kernel.ts <root> sync                          (after the real `ip` moved or renamed a link)
 *   sim-kernel.ts <root> away-rename <netns> <name> <new-name>   (model-only pods, no root)
 *   sim-kernel.ts <root> away-return <netns> <name>
 * Exit 2 when the node has no such device (the tool prints the real error).
 */
import { SimNode } from './sim-node.js';

const [root, op, a = '', b = '', c = ''] = process.argv.slice(2);
const node = SimNode.load(root!);
const done = (() => {
  switch (op) {
    case 'eswitch':
      if ((b !== 'switchdev' && b !== 'legacy') || !node.spec.pfs.some((p) => p.pci === a)) return false;
      node.setMode(a, b);
      return true;
    case 'hw-tc':
      return node.setHwTcOfNetdev(a, b === 'on');
    case 'vf-mac':
      return /^\d+$/.test(b) && node.setVfMac(a, Number(b), c);
    case 'sync':
      node.syncFromKernel();
      return true;
    case 'away-rename':
      return node.renameAway(a, b, c);
    case 'away-return': {
      const vf = node.vfAway(a, b);
      if (vf) node.vfReturned(vf.pci, b);
      return Boolean(vf);
    }
    default:
      return false;
  }
})();
if (!done) process.exitCode = 2;
