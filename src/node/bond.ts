import type { Sysfs } from './sysfs.js';

/**
 * The bond an uplink is enslaved to, read from sysfs (this kernel has no bonding driver in
 * tests, so bonds exist only in fake trees): /sys/class/net/<uplink>/master pointing at a
 * device with bonding/, or /sys/class/net/<uplink>/bonding_slave/ present. An OVS or bridge
 * master is not a bond.
 */
export async function bondOf(sysfs: Sysfs, uplink: string): Promise<string | undefined> {
  const master = await sysfs.linkName(sysfs.netdev(uplink, 'master'));
  if (master && (await sysfs.list(sysfs.netdev(master, 'bonding'))).length > 0) return master;
  if ((await sysfs.list(sysfs.netdev(uplink, 'bonding_slave'))).length > 0) return master ?? '(unknown bond)';
  return undefined;
}
