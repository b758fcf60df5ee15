import { SUPPORTED_VERSIONS } from '../cni/version.js';

export const ABOUT = 'kube-ovn-offload: CNI plugin for Kube-OVN with Mellanox ASAP² hardware offload';

export const HELP = `${ABOUT}

As a CNI plugin (CNI_COMMAND set), it stands where "type": "kube-ovn" stood in a
NetworkAttachmentDefinition: on ADD it finds the VF that Multus passed as deviceID, its PF,
uplink and representor, checks switchdev mode and hw-tc-offload, and forwards the pod to the
kube-ovn daemon. It refuses the pod, naming the cause and the fix, when offload cannot work.
CNI protocol versions: ${SUPPORTED_VERSIONS.join(', ')}.

Usage:
  kube-ovn-offload version     print the plugin version
  kube-ovn-offload --help      this text

Environment:
  KUBE_OVN_OFFLOAD_SYSFS_ROOT  read /sys under this root (default /)
  KUBE_OVN_OFFLOAD_STATE_DIR   overrides the state_dir config key
`;
