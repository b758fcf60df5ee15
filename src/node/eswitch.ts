import type { Answer } from './tools.js';
import type { PfNetdevs } from './uplink.js';
import type { Sysfs } from './sysfs.js';

export interface EswitchMode {
  /** "switchdev", "legacy", "switchdev_inactive", …. */
  mode: string;
  /** Who decided: devlink, the MOFED/compat sysfs file, or the phys_switch_id heuristic. */
  source: string;
}

/**
 * The PF's eSwitch mode, authoritative source first: devlink; where devlink cannot answer
 * (absent, or a kernel without it), /sys/class/net/<pf>/compat/devlink/mode; where neither
 * answers, an uplink with a phys_switch_id means switchdev (sriovnet's only test).
 */
export async function eswitchModeOf(sysfs: Sysfs, fromDevlink: Answer<string>, netdevs: PfNetdevs): Promise<EswitchMode> {
  if (fromDevlink.value !== undefined) return { mode: fromDevlink.value, source: fromDevlink.source };
  const candidates = netdevs.uplink ? [netdevs.uplink] : netdevs.all;
  for (const dev of candidates) {
    const mode = await sysfs.read(sysfs.netdev(dev, 'compat', 'devlink', 'mode'));
    if (mode) return { mode, source: `${sysfs.netdev(dev, 'compat', 'devlink', 'mode')} (${fromDevlink.why})` };
  }
  return netdevs.uplink
    ? { mode: 'switchdev', source: `phys_switch_id of ${netdevs.uplink} (${fromDevlink.why}; no compat/devlink/mode)` }
    : { mode: 'legacy', source: `no PF netdev has a phys_switch_id and phys_port_name p<N> (${fromDevlink.why}; no compat/devlink/mode)` };
}
