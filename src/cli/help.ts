import { SUPPORTED_VERSIONS } from '../cni/version.js';

export const ABOUT = 'kube-ovn-offload: CNI plugin for Kube-OVN with Mellanox ASAP² hardware offload';

export const HELP = `${ABOUT}

As a CNI plugin (CNI_COMMAND set), it runs in a NetworkAttachmentDefinition with kube-ovn:
on ADD it finds the VF that Multus passed as deviceID, its PF, uplink and representor,
checks switchdev mode, hw-tc-offload, bond and OVS hw-offload, and refuses the pod, naming
the cause and the fix, when offload cannot work. In "mode": "guard" (the default) kube-ovn's
own plugin, next in the list, then asks the kube-ovn daemon for the pod's NIC; in "mode":
"shim" it forwards the pod to the daemon itself. CNI protocol versions: ${SUPPORTED_VERSIONS.join(', ')}.

Usage:
  kube-ovn-offload doctor [--pf DEV] [--json] [--cni-conf-dir DIR] [--cni-bin-dir DIR]
      check this node's offload prerequisites and its CNI set-up (Multus, the plugins,
      the topology), one line each, with the fix
  kube-ovn-offload setup --pf DEV --vfs N [--apply] [--emit-systemd]
      the SR-IOV and switchdev set-up as a plan of shell commands; --apply runs it
  kube-ovn-offload manifests --resource NAME [--topology guard|shim] [--nad NS/NAME] ...
      the device-plugin ConfigMap, installer DaemonSet, NetworkAttachmentDefinition
      (guard: and its kube-ovn Subnet) and an example Pod, as YAML
  kube-ovn-offload flows [--input FILE] [--all] [--json]
      offloaded and software datapath flows per pod, from ovs-appctl dpctl/dump-flows
  kube-ovn-offload status [--pod NS/NAME] [--json] [--input FILE]
      the operator view (not CNI STATUS): per pod with a VF on this node, its VF, representor,
      br-int port and flows, and one verdict: offloaded, software path, broken or unknown
  kube-ovn-offload version
  kube-ovn-offload <command> --help

Environment:
  KUBE_OVN_OFFLOAD_SYSFS_ROOT  read /sys, /proc and /run under this root (default /)
  KUBE_OVN_OFFLOAD_STATE_DIR   the plugin's state_dir (default /var/lib/cni/kube-ovn-offload)
  KUBE_OVN_OFFLOAD_PATH_ROOTS  colon-separated folders the plugin also accepts for log_file,
                               state_dir and the device-info file (tests; a NAD cannot set it)
`;
