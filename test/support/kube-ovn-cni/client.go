package main

// The daemon client: kube-ovn's pkg/request (gorequest over a unix socket),
// redone with net/http.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/containernetworking/cni/pkg/types"
)

const (
	addURL = "http://dummy/api/v1/add"
	delURL = "http://dummy/api/v1/del"
	// defaultTimeout bounds a daemon call when KUBE_OVN_STANDIN_TIMEOUT_S is
	// unset or not a positive number. kube-ovn itself sets no timeout.
	defaultTimeout = 300 * time.Second
)

// cniRequest is kube-ovn's CniRequest. No field is omitempty: every key is sent.
type cniRequest struct {
	CniType                    string    `json:"cni_type"`
	PodName                    string    `json:"pod_name"`
	PodNamespace               string    `json:"pod_namespace"`
	ContainerID                string    `json:"container_id"`
	NetNs                      string    `json:"net_ns"`
	IfName                     string    `json:"if_name"`
	Provider                   string    `json:"provider"`
	Routes                     []route   `json:"routes"`
	DNS                        types.DNS `json:"dns"`
	VfDriver                   string    `json:"vf_driver"`
	DeviceID                   string    `json:"deviceID"`
	VhostUserSocketVolumeName  string    `json:"vhost_user_socket_volume_name"`
	VhostUserSocketName        string    `json:"vhost_user_socket_name"`
	VhostUserSocketConsumption string    `json:"vhost_user_socket_consumption"`
}

// ipConfig is one address of a v1.16+ answer.
type ipConfig struct {
	Protocol string `json:"protocol"`
	IP       string `json:"ip"`
	CIDR     string `json:"cidr"`
	Gateway  string `json:"gateway,omitempty"`
}

// cniResponse holds the daemon's answer in both shapes: master's (v1.16+)
// "ips", and the v1.15-and-older protocol/address/cidr/gateway fields.
type cniResponse struct {
	IPs        []ipConfig `json:"ips"`
	Protocol   string     `json:"protocol"`
	IPAddress  string     `json:"address"`
	CIDR       string     `json:"cidr"`
	Gateway    string     `json:"gateway"`
	MacAddress string     `json:"mac_address"`
	Routes     []route    `json:"routes"`
	Mtu        int        `json:"mtu"`
	PodNicName string     `json:"nicname"`
	DNS        types.DNS  `json:"dns"`
	Err        string     `json:"error"`
}

// daemonAdd posts an ADD. Any transport error, a body that is not JSON of the
// right types, or a status other than 200 is an error.
func daemonAdd(socket string, req cniRequest) (*cniResponse, error) {
	status, body, err := post(socket, addURL, req)
	if err != nil {
		return nil, err
	}
	resp := &cniResponse{}
	if err := json.Unmarshal(body, resp); err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("request ip return %d %s", status, resp.Err)
	}
	return resp, nil
}

// daemonDel posts a DEL, which succeeds only with 204.
func daemonDel(socket string, req cniRequest) error {
	status, body, err := post(socket, delURL, req)
	if err != nil {
		return err
	}
	if status != http.StatusNoContent {
		return fmt.Errorf("delete ip return %d %s", status, body)
	}
	return nil
}

// post sends req as JSON. gorequest re-encodes a struct through a map, so the
// keys go out in alphabetical order; this does the same.
func post(socket, url string, req cniRequest) (int, []byte, error) {
	payload, err := encodeSorted(req)
	if err != nil {
		return 0, nil, err
	}
	httpReq, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return 0, nil, err
	}
	httpReq.Header.Set("Content-Type", "application/json")

	client := &http.Client{
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", socket)
			},
		},
		Timeout: standinTimeout(),
	}
	resp, err := client.Do(httpReq)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, body, nil
}

func encodeSorted(v interface{}) ([]byte, error) {
	direct, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var asMap map[string]interface{}
	dec := json.NewDecoder(bytes.NewReader(direct))
	dec.UseNumber()
	if err := dec.Decode(&asMap); err != nil {
		return nil, err
	}
	return json.Marshal(asMap)
}

// standinTimeout reads KUBE_OVN_STANDIN_TIMEOUT_S, the tests' safety net.
func standinTimeout() time.Duration {
	secs, err := strconv.ParseFloat(os.Getenv("KUBE_OVN_STANDIN_TIMEOUT_S"), 64)
	if err != nil || secs <= 0 {
		return defaultTimeout
	}
	return time.Duration(secs * float64(time.Second))
}
