/**
 * phys_port_name forms of mlx5 eswitch ports (kernel net/devlink/port.c), as pure parsers.
 * A controller prefix ("c1…") marks a port of an external host (a BlueField DPU's host side):
 * never the local VF we are looking for.
 */

// "p0", "p1": the uplink (physical port). Never "p0s1" (split) or "pf0".
const UPLINK = /^p(\d+)$/;
// "pf0vf3": representor of VF 3 of PF 0 on this host; never "c1pf0vf3".
const LOCAL_VF = /^pf(\d+)vf(\d+)$/;

export function isUplinkPortName(name: string): boolean {
  return UPLINK.test(name);
}

export function parseVfPortName(name: string): { pf: number; vf: number } | undefined {
  const m = LOCAL_VF.exec(name);
  return m ? { pf: Number(m[1]), vf: Number(m[2]) } : undefined;
}

// The kernel's dev_valid_name: 1–15 bytes, not "." or "..", no "/", ":" or white space.
// Names from a tool's output are checked before a path is built from them.
const NETDEV_NAME = /^(?!\.{1,2}$)[^/:\s]{1,15}$/;

export function isNetdevName(name: string): boolean {
  return NETDEV_NAME.test(name) && Buffer.byteLength(name) <= 15;
}
