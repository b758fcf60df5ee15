// nad-status: the network-status entry Multus would write for one secondary network, as far as
// the device-info file decides it. A test-only model, never shipped.
//
// What it models, read in network-attachment-definition-client v1.4.0, the version Multus
// v4.0.2 vendors (third_party/multus-cni-v4.0.2.tar.gz):
//   - pkg/apis/k8s.cni.cncf.io/v1/types.go: DeviceInfo, PciDevice and NetworkStatus, their
//     JSON names and types, all omitempty;
//   - pkg/utils/cniconfig.go loadDeviceInfo: os.ReadFile, then encoding/json Unmarshal into a
//     DeviceInfo (unknown keys dropped, a wrong type an error);
//   - Multus pkg/multus/multus.go CmdAdd: an error from getDelegateDeviceInfo is only logged,
//     and the status is made without device-info (CreateNetworkStatus with dev == nil).
//
// Usage: nad-status NETWORK IFNAME DEVICE_INFO_FILE
// Prints the NetworkStatus JSON on stdout; a device-info error on stderr, status 0.
package main

import (
	"encoding/json"
	"fmt"
	"os"
)

type PciDevice struct {
	PciAddress        string `json:"pci-address,omitempty"`
	Vhostnet          string `json:"vhost-net,omitempty"`
	RdmaDevice        string `json:"rdma-device,omitempty"`
	PfPciAddress      string `json:"pf-pci-address,omitempty"`
	RepresentorDevice string `json:"representor-device,omitempty"`
}

type VdpaDevice struct {
	ParentDevice      string `json:"parent-device,omitempty"`
	Driver            string `json:"driver,omitempty"`
	Path              string `json:"path,omitempty"`
	PciAddress        string `json:"pci-address,omitempty"`
	PfPciAddress      string `json:"pf-pci-address,omitempty"`
	RepresentorDevice string `json:"representor-device,omitempty"`
}

type VhostDevice struct {
	Mode string `json:"mode,omitempty"`
	Path string `json:"path,omitempty"`
}

type MemifDevice struct {
	Role string `json:"role,omitempty"`
	Path string `json:"path,omitempty"`
	Mode string `json:"mode,omitempty"`
}

type DeviceInfo struct {
	Type      string       `json:"type,omitempty"`
	Version   string       `json:"version,omitempty"`
	Pci       *PciDevice   `json:"pci,omitempty"`
	Vdpa      *VdpaDevice  `json:"vdpa,omitempty"`
	VhostUser *VhostDevice `json:"vhost-user,omitempty"`
	Memif     *MemifDevice `json:"memif,omitempty"`
}

type NetworkStatus struct {
	Name       string      `json:"name"`
	Interface  string      `json:"interface,omitempty"`
	DeviceInfo *DeviceInfo `json:"device-info,omitempty"`
}

func loadDeviceInfo(path string) (*DeviceInfo, error) {
	var devInfo DeviceInfo
	bytes, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(bytes, &devInfo); err != nil {
		return nil, err
	}
	return &devInfo, nil
}

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: nad-status NETWORK IFNAME DEVICE_INFO_FILE")
		os.Exit(2)
	}
	status := NetworkStatus{Name: os.Args[1], Interface: os.Args[2]}
	dev, err := loadDeviceInfo(os.Args[3])
	if err != nil {
		fmt.Fprintf(os.Stderr, "getDelegateDeviceInfo returned an error - err=%v\n", err)
	} else {
		status.DeviceInfo = dev
	}
	out, err := json.Marshal(status)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(string(out))
}
