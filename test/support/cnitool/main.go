// Command cnitool is a small CNI runtime used by the end-to-end tests.
//
// It loads a network configuration list by name and runs ADD, CHECK or DEL
// for it against a network namespace, using Debian's libcni.
//
// Usage:
//
//	cnitool <add|check|del> <network-name> <netns-path> [-i IFNAME | --ifname IFNAME]
//
// Environment:
//
//	NETCONFPATH        directory holding the network configuration (default /etc/cni/net.d)
//	CNI_PATH           colon-separated list of plugin directories (required)
//	CNI_ARGS           extra plugin arguments, "K1=V1;K2=V2"
//	CAP_ARGS           JSON object of capability arguments
//	CNI_IFNAME         interface name inside the namespace (default eth0; the flag wins)
//	CNI_CACHE_DIR      libcni cache directory (default: libcni's own default)
//	CNITOOL_TIMEOUT_S  timeout for the whole operation in seconds (default 60)
//	CNITOOL_CONTAINERID  the container ID to pass (default: derived from the netns path);
//	                   containerd passes the sandbox ID, also on its DEL with an empty netns
//
// A netns argument of "" is passed as an empty CNI_NETNS, as containerd's DEL from
// RemovePodSandbox does.
//
// On failure the error text is written to stderr and the exit status is 1.
// When the failure carries a CNI error object, an extra stderr line
// "CNI_ERROR {"code":N,"msg":"...","details":"..."}" is written as well.
package main

import (
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
)

const (
	defaultNetConfPath = "/etc/cni/net.d"
	defaultIfName      = "eth0"
	defaultTimeout     = 60 * time.Second
)

const usageText = `usage: cnitool <add|check|del> <network-name> <netns-path> [-i IFNAME | --ifname IFNAME]

environment:
  NETCONFPATH        directory with network configurations (default /etc/cni/net.d)
  CNI_PATH           colon-separated plugin directories (required)
  CNI_ARGS           plugin arguments, K1=V1;K2=V2
  CAP_ARGS           capability arguments as a JSON object
  CNI_IFNAME         interface name (default eth0; -i/--ifname wins)
  CNI_CACHE_DIR      libcni cache directory
  CNITOOL_TIMEOUT_S  timeout in seconds (default 60)
  CNITOOL_CONTAINERID  container ID (default: derived from the netns path)
`

type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

type options struct {
	command string
	netName string
	netns   string
	ifName  string
}

// parseArgs accepts the positional arguments and the interface flag in any order.
func parseArgs(args []string) (*options, error) {
	var positional []string
	ifName := ""
	for i := 0; i < len(args); i++ {
		arg := args[i]
		switch {
		case arg == "-h" || arg == "--help":
			return nil, &usageError{}
		case arg == "-i" || arg == "--ifname":
			if i+1 >= len(args) {
				return nil, &usageError{fmt.Sprintf("option %s requires a value", arg)}
			}
			i++
			ifName = args[i]
		case strings.HasPrefix(arg, "-i="):
			ifName = strings.TrimPrefix(arg, "-i=")
		case strings.HasPrefix(arg, "--ifname="):
			ifName = strings.TrimPrefix(arg, "--ifname=")
		case arg == "--":
			positional = append(positional, args[i+1:]...)
			i = len(args)
		case len(arg) > 1 && strings.HasPrefix(arg, "-"):
			return nil, &usageError{fmt.Sprintf("unknown option %q", arg)}
		default:
			positional = append(positional, arg)
		}
	}
	if len(positional) != 3 {
		return nil, &usageError{fmt.Sprintf("expected 3 arguments, got %d", len(positional))}
	}
	o := &options{command: positional[0], netName: positional[1], netns: positional[2]}
	switch o.command {
	case "add", "check", "del":
	default:
		return nil, &usageError{fmt.Sprintf("unknown command %q", o.command)}
	}
	if ifName == "" {
		ifName = os.Getenv("CNI_IFNAME")
	}
	if ifName == "" {
		ifName = defaultIfName
	}
	o.ifName = ifName
	return o, nil
}

// parseCNIArgs turns "K1=V1;K2=V2" into key/value pairs.
func parseCNIArgs(s string) ([][2]string, error) {
	var out [][2]string
	if s == "" {
		return out, nil
	}
	for _, pair := range strings.Split(s, ";") {
		// An empty value is allowed: Multus thick sends "K8S_POD_INFRA_CONTAINER_ID=".
		kv := strings.Split(pair, "=")
		if len(kv) != 2 || kv[0] == "" {
			return nil, fmt.Errorf("invalid CNI_ARGS pair %q", pair)
		}
		out = append(out, [2]string{kv[0], kv[1]})
	}
	return out, nil
}

func parseTimeout(s string) (time.Duration, error) {
	if s == "" {
		return defaultTimeout, nil
	}
	secs, err := strconv.ParseFloat(s, 64)
	if err != nil || secs <= 0 {
		return 0, fmt.Errorf("invalid CNITOOL_TIMEOUT_S %q: must be a positive number of seconds", s)
	}
	return time.Duration(secs * float64(time.Second)), nil
}

func containerID(netnsPath string) string {
	sum := sha512.Sum512([]byte(netnsPath))
	return "cnitool-" + hex.EncodeToString(sum[:10])
}

func run(o *options) error {
	netConfPath := os.Getenv("NETCONFPATH")
	if netConfPath == "" {
		netConfPath = defaultNetConfPath
	}
	cniPath := os.Getenv("CNI_PATH")
	if cniPath == "" {
		return errors.New("CNI_PATH must be set")
	}

	cniArgs, err := parseCNIArgs(os.Getenv("CNI_ARGS"))
	if err != nil {
		return err
	}

	var capArgs map[string]interface{}
	if s := os.Getenv("CAP_ARGS"); s != "" {
		if err := json.Unmarshal([]byte(s), &capArgs); err != nil {
			return fmt.Errorf("invalid CAP_ARGS: %w", err)
		}
	}

	timeout, err := parseTimeout(os.Getenv("CNITOOL_TIMEOUT_S"))
	if err != nil {
		return err
	}

	netns := ""
	if o.netns != "" {
		if netns, err = filepath.Abs(o.netns); err != nil {
			return fmt.Errorf("resolving netns path %q: %w", o.netns, err)
		}
	}
	id := os.Getenv("CNITOOL_CONTAINERID")
	if id == "" {
		id = containerID(netns)
	}

	list, err := libcni.LoadConfList(netConfPath, o.netName)
	if err != nil {
		return fmt.Errorf("loading network %q from %s: %w", o.netName, netConfPath, err)
	}

	paths := filepath.SplitList(cniPath)
	var cninet *libcni.CNIConfig
	if cacheDir := os.Getenv("CNI_CACHE_DIR"); cacheDir != "" {
		cninet = libcni.NewCNIConfigWithCacheDir(paths, cacheDir, nil)
	} else {
		cninet = libcni.NewCNIConfig(paths, nil)
	}

	rt := &libcni.RuntimeConf{
		ContainerID:    id,
		NetNS:          netns,
		IfName:         o.ifName,
		Args:           cniArgs,
		CapabilityArgs: capArgs,
	}

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	switch o.command {
	case "add":
		result, err := cninet.AddNetworkList(ctx, list, rt)
		if err != nil {
			return err
		}
		if result == nil {
			return nil
		}
		if list.CNIVersion != "" {
			converted, err := result.GetAsVersion(list.CNIVersion)
			if err != nil {
				return fmt.Errorf("converting result to version %s: %w", list.CNIVersion, err)
			}
			result = converted
		}
		var buf bytes.Buffer
		if err := result.PrintTo(&buf); err != nil {
			return fmt.Errorf("printing result: %w", err)
		}
		buf.WriteByte('\n')
		_, err = os.Stdout.Write(buf.Bytes())
		return err
	case "check":
		return cninet.CheckNetworkList(ctx, list, rt)
	case "del":
		return cninet.DelNetworkList(ctx, list, rt)
	}
	return fmt.Errorf("unknown command %q", o.command)
}

type cniErrorJSON struct {
	Code    uint   `json:"code"`
	Msg     string `json:"msg"`
	Details string `json:"details"`
}

func reportError(err error) {
	fmt.Fprintln(os.Stderr, err.Error())
	var cniErr *types.Error
	if errors.As(err, &cniErr) && cniErr != nil {
		data, jerr := json.Marshal(cniErrorJSON{Code: cniErr.Code, Msg: cniErr.Msg, Details: cniErr.Details})
		if jerr == nil {
			fmt.Fprintf(os.Stderr, "CNI_ERROR %s\n", data)
		}
	}
}

func main() {
	o, err := parseArgs(os.Args[1:])
	if err != nil {
		var ue *usageError
		if errors.As(err, &ue) && ue.msg == "" {
			fmt.Fprint(os.Stdout, usageText)
			os.Exit(0)
		}
		fmt.Fprintf(os.Stderr, "cnitool: %v\n%s", err, usageText)
		os.Exit(1)
	}
	if err := run(o); err != nil {
		reportError(err)
		os.Exit(1)
	}
}
