// Command kube-ovn is a TEST-ONLY stand-in for kube-ovn's own CNI binary
// (kubeovn/kube-ovn cmd/cni, read at master 1533681d and at v1.15.24). It is
// never shipped: the end-to-end tests put it after kube-ovn-offload in a
// conflist ([kube-ovn-offload, kube-ovn, portmap]) because the real binary
// cannot be built here (its Go modules are unreachable; only Debian packages
// are). It is written from a reading of kube-ovn's source, not copied from it,
// and is built offline in GOPATH mode against Debian's libcni 1.1.2
// (golang-github-appc-cni-dev) by test/support/build-go.sh.
//
// What it does, as kube-ovn's binary does:
//
//   - ADD: load the netconf, read K8S_POD_NAME/K8S_POD_NAMESPACE from
//     CNI_ARGS, set net.ipv6.conf.{all,default}.{disable_ipv6,accept_ra}=0
//     inside CNI_NETNS, POST /api/v1/add to the daemon over the unix socket
//     server_socket, build the CNI result from the answer and print it in the
//     config's cniVersion.
//   - DEL: the same netconf and CNI_ARGS handling, no sysctl, POST /api/v1/del;
//     an empty CNI_NETNS is allowed.
//   - CHECK: nothing (kube-ovn has no CHECK handler; libcni's skel gates it on
//     cniVersion >= 0.4.0). VERSION: skel's answer for version.All.
//   - After a successful ADD or DEL, skel v1.3 (which kube-ovn uses) fails
//     with code 8 when CNI_NETNS is the plugin's own netns, unless
//     CNI_NETNS_OVERRIDE is "true" or "1". Debian's skel 1.1.2 has no such
//     check, so it is done here.
//
// The daemon's answer may have either shape: master's (v1.16+) "ips" list, or
// the v1.15 and older "protocol"/"address"/"cidr"/"gateway" fields with
// comma-separated dual-stack values; the result is built the way the binary of
// that version builds it, so the stand-in works against a daemon of either.
//
// Known differences from the real binary:
//
//   - Debian's libcni 1.1.2 knows CNI versions up to 1.0.0: a config with
//     cniVersion 1.1.0 is refused with code 1, where kube-ovn's binary (cni
//     v1.3) accepts it. Debian's skel does not know GC and STATUS either: it
//     refuses them with code 3 "missing containerID" (GC and STATUS carry no
//     CNI_CONTAINERID), or code 4 "unknown CNI_COMMAND" when one is set; the
//     real binary answers code 1 below cniVersion 1.1.0 and succeeds doing
//     nothing at 1.1.0.
//   - Debian's types100.Interface has no "mtu"; the stand-in adds the pod
//     interface's mtu itself to a 1.0.0 result so that it prints what
//     kube-ovn prints. (A Debian libcni caller drops it again when it parses
//     the result; libcni v1.3 keeps it.)
//   - skel 1.1.2 checks the missing CNI_* variables before the container ID,
//     interface name and network name; skel v1.3 checks them in one pass, so
//     with several faults at once the first one reported may differ.
//   - The details of "server_socket is required" print the netconf with Go's
//     %+v; Debian's types.NetConf lacks cni v1.3's ValidAttachments field.
//   - No HTTP timeout in kube-ovn; here KUBE_OVN_STANDIN_TIMEOUT_S (seconds,
//     default 300) bounds the daemon call, as a safety net for the tests only.
//     When it fires the error is the same code 11 "RPC failed".
//   - kube-ovn logs nothing from the binary either; the stand-in writes no
//     log file.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/version"
)

const (
	// cniTypeName is kube-ovn's CNI type (kube-ovn util.CniTypeName).
	cniTypeName = "kube-ovn"
	// ovnProvider is the default provider (kube-ovn util.OvnProvider).
	ovnProvider = "ovn"
	// errInvalidNetNS is CNI error 8; Debian's libcni 1.1.2 has no constant for it.
	errInvalidNetNS uint = 8
)

// route is a route as kube-ovn's netconf and daemon write it.
type route struct {
	Destination string `json:"dst,omitempty"`
	Gateway     string `json:"gw,omitempty"`
}

// ipamConf is the "ipam" object when kube-ovn serves as another plugin's IPAM.
type ipamConf struct {
	Type         string  `json:"type"`
	ServerSocket string  `json:"server_socket,omitempty"`
	Provider     string  `json:"provider,omitempty"`
	Routes       []route `json:"routes,omitempty"`
}

// netConf is kube-ovn's network configuration. The outer IPAM field shadows
// the embedded types.NetConf's one for the key "ipam". Field names follow
// kube-ovn's, because an error detail prints the struct with %+v.
type netConf struct {
	types.NetConf
	ServerSocket               string    `json:"server_socket,omitempty"`
	Provider                   string    `json:"provider,omitempty"`
	Routes                     []route   `json:"routes,omitempty"`
	IPAM                       *ipamConf `json:"ipam,omitempty"`
	DeviceID                   string    `json:"deviceID,omitempty"`
	VfDriver                   string    `json:"vf_driver,omitempty"`
	VhostUserSocketVolumeName  string    `json:"vhost_user_socket_volume_name,omitempty"`
	VhostUserSocketName        string    `json:"vhost_user_socket_name,omitempty"`
	VhostUserSocketConsumption string    `json:"vhost_user_socket_consumption,omitempty"`
}

func main() {
	// Namespace switches act on one OS thread; keep main on the thread group leader.
	runtime.LockOSThread()
	skel.PluginMain(
		checkOwnNetns(cmdAdd),
		cmdCheck,
		checkOwnNetns(cmdDel),
		version.All,
		"CNI kube-ovn plugin (test stand-in, not shipped)",
	)
}

// cmdCheck does nothing: kube-ovn registers no CHECK handler, and skel v1.3
// answers success for a missing handler once the version gate has passed.
func cmdCheck(*skel.CmdArgs) error { return nil }

// checkOwnNetns adds skel v1.3's check after ADD and DEL: CNI_NETNS must not be
// the plugin's own network namespace, unless CNI_NETNS_OVERRIDE says so.
func checkOwnNetns(cmd func(*skel.CmdArgs) error) func(*skel.CmdArgs) error {
	return func(args *skel.CmdArgs) error {
		if err := cmd(args); err != nil {
			return err
		}
		override := os.Getenv("CNI_NETNS_OVERRIDE")
		if strings.ToUpper(override) == "TRUE" || override == "1" {
			return nil
		}
		if isOwnNetns(args.Netns) {
			return types.NewError(errInvalidNetNS, "plugin's netns and netns from CNI_NETNS should not be the same", "")
		}
		return nil
	}
}

// isOwnNetns reports whether path names this thread's network namespace. A
// path that cannot be read (also "", allowed on DEL) is not.
func isOwnNetns(path string) bool {
	var target, own syscall.Stat_t
	if err := syscall.Stat(path, &target); err != nil {
		return false
	}
	if err := syscall.Stat(threadNetnsPath(), &own); err != nil {
		return false
	}
	return target.Dev == own.Dev && target.Ino == own.Ino
}

func threadNetnsPath() string {
	return fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), syscall.Gettid())
}

func cmdAdd(args *skel.CmdArgs) error {
	conf, req, err := commonRequest(args)
	if err != nil {
		return err
	}
	if err := enableIPv6(args.Netns); err != nil {
		return err
	}
	// Only ADD passes these on; DEL leaves them at their zero values.
	req.Routes = conf.Routes
	req.DNS = conf.DNS
	req.VfDriver = conf.VfDriver
	req.VhostUserSocketName = conf.VhostUserSocketName

	resp, err := daemonAdd(conf.ServerSocket, req)
	if err != nil {
		return types.NewError(types.ErrTryAgainLater, "RPC failed", err.Error())
	}
	result, err := buildResult(resp, args.Netns)
	if err != nil {
		return err
	}
	return printResult(result, conf.CNIVersion)
}

// cmdDel does not enter the netns, and an empty CNI_NETNS is fine.
func cmdDel(args *skel.CmdArgs) error {
	conf, req, err := commonRequest(args)
	if err != nil {
		return err
	}
	if err := daemonDel(conf.ServerSocket, req); err != nil {
		return types.NewError(types.ErrTryAgainLater, "RPC failed", err.Error())
	}
	return nil
}

// commonRequest loads the netconf, reads the pod from CNI_ARGS, and fills
// the request keys that both kube-ovn's cmdAdd and cmdDel fill.
func commonRequest(args *skel.CmdArgs) (*netConf, cniRequest, error) {
	conf, err := loadNetConf(args.StdinData)
	if err != nil {
		return nil, cniRequest{}, err
	}
	podName, err := valueFromArgs("K8S_POD_NAME", args.Args)
	if err != nil {
		return nil, cniRequest{}, err
	}
	podNamespace, err := valueFromArgs("K8S_POD_NAMESPACE", args.Args)
	if err != nil {
		return nil, cniRequest{}, err
	}
	defaultProvider(conf, args.IfName)
	return conf, cniRequest{
		CniType:                    conf.Type,
		PodName:                    podName,
		PodNamespace:               podNamespace,
		ContainerID:                args.ContainerID,
		NetNs:                      args.Netns,
		IfName:                     args.IfName,
		Provider:                   conf.Provider,
		DeviceID:                   conf.DeviceID,
		VhostUserSocketVolumeName:  conf.VhostUserSocketVolumeName,
		VhostUserSocketConsumption: conf.VhostUserSocketConsumption,
	}, nil
}

// defaultProvider is kube-ovn master's applyDefaultProvider. loadNetConf has
// already defaulted an empty provider, so it never changes anything; it is
// kept for the order of steps.
func defaultProvider(conf *netConf, ifName string) {
	if conf.Provider == "" && conf.Type == cniTypeName && ifName == "eth0" {
		conf.Provider = ovnProvider
	}
}

// loadNetConf decodes the netconf the way kube-ovn does.
func loadNetConf(data []byte) (*netConf, error) {
	conf := &netConf{}
	if err := json.Unmarshal(data, conf); err != nil {
		return nil, types.NewError(types.ErrDecodingFailure, "failed to load netconf", err.Error())
	}
	// As another plugin's IPAM, the ipam object's values win, even empty ones.
	if conf.Type != cniTypeName && conf.IPAM != nil {
		conf.Provider = conf.IPAM.Provider
		conf.ServerSocket = conf.IPAM.ServerSocket
		conf.Routes = conf.IPAM.Routes
	}
	if conf.ServerSocket == "" {
		return nil, types.NewError(types.ErrInvalidNetworkConfig, "Invalid Configuration",
			fmt.Sprintf("server_socket is required in cni.conf, %+v", conf))
	}
	if conf.Provider == "" {
		conf.Provider = ovnProvider
	}
	return conf, nil
}

// valueFromArgs returns the first non-empty value of key in CNI_ARGS ("K=V;K=V").
func valueFromArgs(key, cniArgs string) (string, error) {
	if cniArgs == "" {
		return "", types.NewError(types.ErrInvalidNetworkConfig, "Invalid Configuration", "CNI_ARGS is required")
	}
	prefix := key + "="
	for _, pair := range strings.Split(cniArgs, ";") {
		if strings.HasPrefix(pair, prefix) && len(pair) > len(prefix) {
			return pair[len(prefix):], nil
		}
	}
	return "", types.NewError(types.ErrInvalidNetworkConfig, "Invalid Configuration", key+" is required in CNI_ARGS")
}
