/**
 * The name the daemon gives the representor (kube-ovn's generateNicName):
 * "eth0" → <cid[:12]>_h; another ifname → <cid[:12-len(ifname)]>_<ifname>_h.
 */
export function representorHostName(containerId: string, ifname: string): string {
  return ifname === 'eth0' ? `${containerId.slice(0, 12)}_h` : `${containerId.slice(0, 12 - ifname.length)}_${ifname}_h`;
}
