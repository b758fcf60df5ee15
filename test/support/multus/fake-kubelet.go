// fake-kubelet: a tests-only stand-in for the kubelet's PodResources v1 gRPC service, the one
// kubelet API that Multus reads. Never shipped.
//
// What Multus v4.0.2 calls (pkg/kubeletclient/kubeletclient.go): GetResourceClient("") dials the
// hard-coded unix:/var/lib/kubelet/pod-resources/kubelet.sock (defaultPodResourcesPath +
// defaultKubeletSocket; there is no config key), but only when os.Stat finds the socket
// (hasKubeletAPIEndpoint; otherwise it reads the device-plugin checkpoint). Then
// getKubeletClient → getPodResources makes one List call (10 s timeout, 16 MiB receive limit),
// and GetPodResourceMap matches pods by name and namespace. It never calls
// GetAllocatableResources, which this fake answers Unimplemented; Get does not exist in the
// k8s.io/kubelet v0.22.8 API that Multus vendors, so grpc-go answers it Unimplemented too.
// Every call, known or not, is logged.
//
// Built inside the unpacked Multus module (test/support/build-multus.sh copies it to
// cmd/fake-kubelet/) so that it uses Multus's vendored grpc-go 1.40 and podresources API, the
// same server stack as a kubelet of that time. A Node gRPC server does not do: grpc-go sends the
// socket path as :authority, which Node's HTTP/2 rejects (docs/upstream.md#multus-kubeletclient).
//
// Usage:
//
//	fake-kubelet -pods PODS.json [-socket PATH] [-log CALLS.jsonl]   serve until SIGTERM
//	fake-kubelet -list [-socket PATH]                                 one List, as Multus makes it; prints it as PODS.json
//
// PODS.json, re-read on every List so that a test can change the allocations:
//
//	{"pods":[{"namespace":"default","name":"p","containers":[{"name":"c",
//	  "devices":[{"resourceName":"example.com/offload_vf","deviceIds":["0000:42:00.3"]}]}]}]}
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	podresourcesapi "k8s.io/kubelet/pkg/apis/podresources/v1"
)

// Multus's defaultPodResourcesPath + "/kubelet.sock".
const multusSocket = "/var/lib/kubelet/pod-resources/kubelet.sock"

// The PODS.json shape (camelCase, as the tests write it; the API's own JSON tags are snake_case).
type podsFile struct {
	Pods []pod `json:"pods"`
}
type pod struct {
	Namespace  string      `json:"namespace"`
	Name       string      `json:"name"`
	Containers []container `json:"containers"`
}
type container struct {
	Name    string   `json:"name"`
	Devices []device `json:"devices"`
}
type device struct {
	ResourceName string   `json:"resourceName"`
	DeviceIDs    []string `json:"deviceIds"`
}

func readPods(path string) (podsFile, error) {
	var f podsFile
	raw, err := os.ReadFile(path)
	if err != nil {
		return f, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields() // a misspelt key in a test is an error, not a pod without devices
	if err := dec.Decode(&f); err != nil {
		return f, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

func toAPI(f podsFile) []*podresourcesapi.PodResources {
	out := []*podresourcesapi.PodResources{}
	for _, p := range f.Pods {
		pr := &podresourcesapi.PodResources{Namespace: p.Namespace, Name: p.Name}
		for _, c := range p.Containers {
			cr := &podresourcesapi.ContainerResources{Name: c.Name}
			for _, d := range c.Devices {
				cr.Devices = append(cr.Devices, &podresourcesapi.ContainerDevices{ResourceName: d.ResourceName, DeviceIds: d.DeviceIDs})
			}
			pr.Containers = append(pr.Containers, cr)
		}
		out = append(out, pr)
	}
	return out
}

func fromAPI(prs []*podresourcesapi.PodResources) podsFile {
	f := podsFile{Pods: []pod{}}
	for _, pr := range prs {
		p := pod{Namespace: pr.Namespace, Name: pr.Name, Containers: []container{}}
		for _, cr := range pr.Containers {
			c := container{Name: cr.Name, Devices: []device{}}
			for _, d := range cr.Devices {
				c.Devices = append(c.Devices, device{ResourceName: d.ResourceName, DeviceIDs: d.DeviceIds})
			}
			p.Containers = append(p.Containers, c)
		}
		f.Pods = append(f.Pods, p)
	}
	return f
}

// callLog appends one JSON line per call.
type callLog struct {
	mu   sync.Mutex
	file *os.File
}

func (l *callLog) write(ctx context.Context, method string, rec map[string]interface{}) {
	rec["time"] = time.Now().UTC().Format(time.RFC3339Nano)
	rec["method"] = method
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		rec["authority"] = first(md.Get(":authority"))
		rec["userAgent"] = first(md.Get("user-agent"))
	}
	if p, ok := peer.FromContext(ctx); ok {
		if c, ok := p.Addr.(caller); ok {
			rec["callerPid"], rec["callerExe"] = c.pid, c.exe
		}
	}
	b, _ := json.Marshal(rec)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.file != nil {
		_, _ = l.file.Write(append(b, '\n'))
	}
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

type server struct {
	podsPath string
	log      *callLog
}

func (s *server) List(ctx context.Context, _ *podresourcesapi.ListPodResourcesRequest) (*podresourcesapi.ListPodResourcesResponse, error) {
	f, err := readPods(s.podsPath)
	if err != nil {
		s.log.write(ctx, "List", map[string]interface{}{"error": err.Error()})
		return nil, status.Errorf(codes.Internal, "fake-kubelet: reading the pods file: %v", err)
	}
	s.log.write(ctx, "List", map[string]interface{}{"answer": f})
	return &podresourcesapi.ListPodResourcesResponse{PodResources: toAPI(f)}, nil
}

func (s *server) GetAllocatableResources(ctx context.Context, _ *podresourcesapi.AllocatableResourcesRequest) (*podresourcesapi.AllocatableResourcesResponse, error) {
	s.log.write(ctx, "GetAllocatableResources", map[string]interface{}{"error": "unimplemented"})
	return nil, status.Error(codes.Unimplemented, "fake-kubelet: GetAllocatableResources is not implemented (Multus v4.0.2 never calls it)")
}

// caller is a connection's remote address: the peer's pid and executable (SO_PEERCRED), so the
// log tells thin Multus from multus-daemon.
type caller struct {
	pid int32
	exe string
}

func (c caller) Network() string { return "unix" }
func (c caller) String() string  { return fmt.Sprintf("pid %d (%s)", c.pid, c.exe) }

type callerConn struct {
	net.Conn
	who caller
}

func (c callerConn) RemoteAddr() net.Addr { return c.who }

type callerListener struct{ net.Listener }

func (l callerListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	who := caller{}
	if uc, ok := conn.(*net.UnixConn); ok {
		if raw, err := uc.SyscallConn(); err == nil {
			_ = raw.Control(func(fd uintptr) {
				if cred, err := syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED); err == nil {
					who.pid = cred.Pid
					who.exe, _ = os.Readlink(fmt.Sprintf("/proc/%d/exe", cred.Pid))
				}
			})
		}
	}
	return callerConn{Conn: conn, who: who}, nil
}

func serve(socket, podsPath, logPath string) error {
	if _, err := readPods(podsPath); err != nil {
		return err
	}
	// Never take over a socket that is there: it may be a real kubelet's.
	if _, err := os.Lstat(socket); err == nil {
		return fmt.Errorf("%s already exists; not replacing it", socket)
	}
	log := &callLog{}
	if logPath != "" {
		f, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		log.file = f
	}
	l, err := net.Listen("unix", socket)
	if err != nil {
		return err
	}
	g := grpc.NewServer(grpc.UnknownServiceHandler(func(_ interface{}, stream grpc.ServerStream) error {
		method, _ := grpc.MethodFromServerStream(stream)
		log.write(stream.Context(), method, map[string]interface{}{"error": "unimplemented"})
		return status.Errorf(codes.Unimplemented, "fake-kubelet: unknown method %s", method)
	}))
	podresourcesapi.RegisterPodResourcesListerServer(g, &server{podsPath: podsPath, log: log})

	done := make(chan string, 1)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() { done <- (<-sig).String() }()
	// A test process killed before its stop() must not leave a socket that Multus would dial.
	parent := os.Getppid()
	go func() {
		for range time.Tick(500 * time.Millisecond) {
			if os.Getppid() != parent {
				done <- "parent exited"
				return
			}
		}
	}()
	go func() {
		why := <-done
		g.Stop()
		_ = os.Remove(socket)
		fmt.Fprintf(os.Stderr, "fake-kubelet: stopped (%s)\n", why)
		os.Exit(0)
	}()
	fmt.Fprintf(os.Stderr, "fake-kubelet: serving PodResources v1 on %s from %s\n", socket, podsPath)
	return g.Serve(callerListener{l})
}

// list makes the call as Multus's getKubeletResourceClient does: the socket path as the target,
// a unix dialer, no TLS.
func list(socket string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	dial := func(ctx context.Context, addr string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", addr)
	}
	conn, err := grpc.DialContext(ctx, socket, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithContextDialer(dial), grpc.WithBlock())
	if err != nil {
		return fmt.Errorf("dialing %s: %w", socket, err)
	}
	defer conn.Close()
	resp, err := podresourcesapi.NewPodResourcesListerClient(conn).List(ctx, &podresourcesapi.ListPodResourcesRequest{})
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(fromAPI(resp.PodResources))
}

func main() {
	socket := flag.String("socket", multusSocket, "the unix socket to serve (or, with -list, to call)")
	podsPath := flag.String("pods", "", "the pods file that List answers from, re-read on every call")
	logPath := flag.String("log", "", "where to append one JSON line per call")
	listMode := flag.Bool("list", false, "call List on -socket once and print the answer as a pods file")
	timeout := flag.Duration("timeout", 10*time.Second, "with -list: the deadline of the call (Multus's is 10 s)")
	flag.Parse()

	var err error
	switch {
	case *listMode:
		err = list(*socket, *timeout)
	case *podsPath == "":
		err = errors.New("-pods is required (or -list)")
	default:
		err = serve(*socket, *podsPath, *logPath)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "fake-kubelet: %v\n", err)
		os.Exit(1)
	}
}
