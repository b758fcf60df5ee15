package main

// The CNI result, built as kube-ovn's generateCNIResult builds it: master's
// from "ips", v1.15.24's from protocol/address/cidr/gateway.

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
)

const (
	protocolIPv4 = "IPv4"
	protocolIPv6 = "IPv6"
	protocolDual = "Dual"
)

// resultWithMtu is a 1.0.0 result together with the pod interface's mtu,
// which Debian's types100.Interface cannot carry.
type resultWithMtu struct {
	*current.Result
	mtu int
}

// buildResult picks the answer's shape: "ips" (v1.16+) when present, else the
// v1.15 fields when "protocol" is set; an answer with neither is read as
// v1.16+ with no addresses (an IPAM-less or MAC-only answer).
func buildResult(resp *cniResponse, netns string) (*resultWithMtu, error) {
	var result *current.Result
	if len(resp.IPs) == 0 && resp.Protocol != "" {
		result = legacyResult(resp, netns)
	} else {
		var err error
		if result, err = ipsResult(resp, netns); err != nil {
			return nil, err
		}
	}
	return &resultWithMtu{Result: result, mtu: resp.Mtu}, nil
}

func podInterface(resp *cniResponse, netns string) *current.Interface {
	return &current.Interface{Name: resp.PodNicName, Mac: resp.MacAddress, Sandbox: netns}
}

// ipsResult is kube-ovn master's generateCNIResult.
func ipsResult(resp *cniResponse, netns string) (*current.Result, error) {
	result := &current.Result{
		CNIVersion: current.ImplementedSpecVersion,
		DNS:        resp.DNS,
		Routes:     parseRoutes(resp.Routes),
	}
	// A default route per gateway only when the daemon returned no routes.
	synthesizeRoutes := len(result.Routes) == 0
	for _, cfg := range resp.IPs {
		ip, defaultRoute, err := addressFromIPConfig(cfg)
		if err != nil {
			return nil, fmt.Errorf("failed to assign address: %w", err)
		}
		result.IPs = append(result.IPs, ip)
		if synthesizeRoutes && defaultRoute != nil {
			result.Routes = append(result.Routes, defaultRoute)
		}
	}
	result.Interfaces = []*current.Interface{podInterface(resp, netns)}
	return result, nil
}

// addressFromIPConfig turns one "ips" item into an address on interface 0 and,
// when it has a gateway, a default route of its family.
func addressFromIPConfig(cfg ipConfig) (*current.IPConfig, *types.Route, error) {
	_, cidr, err := net.ParseCIDR(cfg.CIDR)
	if err != nil {
		return nil, nil, fmt.Errorf("failed to parse CIDR %q: %w", cfg.CIDR, err)
	}
	v6 := cfg.Protocol == protocolIPv6
	ip := net.ParseIP(cfg.IP)
	if ip == nil {
		return nil, nil, fmt.Errorf("failed to parse IP %q", cfg.IP)
	}
	var gw net.IP
	if cfg.Gateway != "" {
		if gw = net.ParseIP(cfg.Gateway); gw == nil {
			return nil, nil, fmt.Errorf("failed to parse gateway %q", cfg.Gateway)
		}
		gw = toFamily(gw, v6)
	}
	addr := &current.IPConfig{
		Address:   net.IPNet{IP: toFamily(ip, v6), Mask: cidr.Mask},
		Gateway:   gw,
		Interface: current.Int(0),
	}
	if gw == nil {
		return addr, nil, nil
	}
	return addr, &types.Route{Dst: defaultDst(v6), GW: gw}, nil
}

// legacyResult is kube-ovn v1.15.24's generateCNIResult. Like it, an unknown
// protocol yields no addresses and no interface, and an unparsable cidr or a
// dual-stack list with too few items panics.
func legacyResult(resp *cniResponse, netns string) *current.Result {
	result := &current.Result{
		CNIVersion: current.ImplementedSpecVersion,
		DNS:        resp.DNS,
		Routes:     parseRoutes(resp.Routes),
	}
	synthesizeRoutes := len(result.Routes) == 0
	add := func(address, gateway string, mask *net.IPNet, v6 bool) {
		ip := &current.IPConfig{
			Address:   net.IPNet{IP: toFamily(net.ParseIP(address), v6), Mask: mask.Mask},
			Gateway:   toFamily(net.ParseIP(gateway), v6),
			Interface: current.Int(0),
		}
		result.IPs = append(result.IPs, ip)
		if gw := net.ParseIP(gateway); gw != nil && synthesizeRoutes {
			result.Routes = append(result.Routes, &types.Route{Dst: defaultDst(v6), GW: toFamily(gw, v6)})
		}
	}

	switch resp.Protocol {
	case protocolIPv4, protocolIPv6:
		_, mask, _ := net.ParseCIDR(resp.CIDR)
		add(resp.IPAddress, resp.Gateway, mask, resp.Protocol == protocolIPv6)
	case protocolDual:
		for _, block := range strings.Split(resp.CIDR, ",") {
			_, mask, _ := net.ParseCIDR(block)
			item := -1
			switch checkProtocol(block) {
			case protocolIPv4:
				item = 0
			case protocolIPv6:
				item = 1
			}
			if item < 0 {
				continue
			}
			gateway := ""
			if resp.Gateway != "" {
				gateway = strings.Split(resp.Gateway, ",")[item]
			}
			add(strings.Split(resp.IPAddress, ",")[item], gateway, mask, item == 1)
		}
	default:
		return result
	}
	result.Interfaces = []*current.Interface{podInterface(resp, netns)}
	return result
}

// parseRoutes converts the daemon's routes; an empty dst is the default route
// of the gateway's family (IPv6 unless the gateway is IPv4).
func parseRoutes(routes []route) []*types.Route {
	parsed := make([]*types.Route, len(routes))
	for i, r := range routes {
		dst := r.Destination
		if dst == "" {
			dst = "::/0"
			if checkProtocol(r.Gateway) == protocolIPv4 {
				dst = "0.0.0.0/0"
			}
		}
		parsed[i] = &types.Route{GW: net.ParseIP(r.Gateway)}
		if _, cidr, err := net.ParseCIDR(dst); err == nil {
			parsed[i].Dst = *cidr
		}
	}
	return parsed
}

func defaultDst(v6 bool) net.IPNet {
	if v6 {
		return net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}
	}
	return net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}
}

func toFamily(ip net.IP, v6 bool) net.IP {
	if v6 {
		return ip.To16()
	}
	return ip.To4()
}

// checkProtocol is kube-ovn's util.CheckProtocol: the family of an address or
// CIDR, "Dual" for a v4,v6 (or v6,v4) pair, "" for anything else.
func checkProtocol(address string) string {
	if address == "" {
		return ""
	}
	parts := strings.Split(address, ",")
	if len(parts) == 2 {
		a, b := parseHost(parts[0]), parseHost(parts[1])
		if a == nil || b == nil {
			return ""
		}
		if (a.To4() != nil) != (b.To4() != nil) {
			return protocolDual
		}
		return ""
	}
	ip := parseHost(address)
	switch {
	case ip == nil:
		return ""
	case ip.To4() != nil:
		return protocolIPv4
	default:
		return protocolIPv6
	}
}

// parseHost parses the address part of "addr" or "addr/prefix".
func parseHost(s string) net.IP {
	return net.ParseIP(strings.Split(s, "/")[0])
}

// printResult prints the result in the config's cniVersion. Below 1.0.0 that
// is types.PrintResult's conversion, which drops mtu as libcni v1.3 does; at
// 1.0.0 the pod interface's mtu is put back, as kube-ovn's types100 keeps it.
func printResult(r *resultWithMtu, cniVersion string) error {
	converted, err := r.Result.GetAsVersion(cniVersion)
	if err != nil {
		return err
	}
	asCurrent, ok := converted.(*current.Result)
	if !ok || r.mtu == 0 {
		return converted.Print()
	}
	type ifaceWithMtu struct {
		Name    string `json:"name"`
		Mac     string `json:"mac,omitempty"`
		Mtu     int    `json:"mtu,omitempty"`
		Sandbox string `json:"sandbox,omitempty"`
	}
	ifaces := make([]*ifaceWithMtu, len(asCurrent.Interfaces))
	for i, iface := range asCurrent.Interfaces {
		// kube-ovn's result has exactly one interface, the pod's.
		ifaces[i] = &ifaceWithMtu{Name: iface.Name, Mac: iface.Mac, Mtu: r.mtu, Sandbox: iface.Sandbox}
	}
	out := struct {
		CNIVersion string              `json:"cniVersion,omitempty"`
		Interfaces []*ifaceWithMtu     `json:"interfaces,omitempty"`
		IPs        []*current.IPConfig `json:"ips,omitempty"`
		Routes     []*types.Route      `json:"routes,omitempty"`
		DNS        types.DNS           `json:"dns,omitempty"`
	}{asCurrent.CNIVersion, ifaces, asCurrent.IPs, asCurrent.Routes, asCurrent.DNS}
	data, err := json.MarshalIndent(out, "", "    ")
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(data)
	return err
}
