/**
 * kube-ovn's names for an attachment (pkg/daemon/ovs_linux.go generateNicName, v1.11 → HEAD).
 * The daemon renames the VF representor to the host name it gives here; our record, CHECK and
 * the netns-gone clean-up all need the same name.
 */

// "pod16367aacb67": KubeVirt ≥ v1.0 names a VM's pod interfaces "pod" + 11 characters, which
// kube-ovn cuts to the 7 in the middle (ifname[3:len-4]) so the host name fits 15 bytes.
const KUBEVIRT_IFNAME = /^pod.{11}$/s;

/** The daemon's representor name: "eth0" → <cid[:12]>_h; else <cid[:12-len]>_<ifname>_h. */
export function representorHostName(containerId: string, ifname: string): string {
  if (ifname === 'eth0') return `${containerId.slice(0, 12)}_h`;
  const short = KUBEVIRT_IFNAME.test(ifname) ? ifname.slice(3, ifname.length - 4) : ifname;
  return `${containerId.slice(0, 12 - short.length)}_${short}_h`;
}

/**
 * Why the daemon cannot take this CNI_IFNAME, or undefined. generateNicName slices
 * containerID[0:12-len(ifname)], which panics for an ifname longer than 12 characters
 * (the KubeVirt form excepted); the daemon's handler does not recover, so the client sees EOF.
 */
export function ifnameProblem(ifname: string): string | undefined {
  if (ifname.length <= 12 || KUBEVIRT_IFNAME.test(ifname)) return undefined;
  return `is ${ifname.length} characters long; kube-ovn names the representor <containerID[:12-len(ifname)]>_<ifname>_h and accepts at most 12 (or KubeVirt's "pod" + 11)`;
}
