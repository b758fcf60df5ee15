package main

// enableIPv6 is kube-ovn's sysctlEnableIPv6 (cmd/cni/sysctl.go). kube-ovn
// enters the netns with containernetworking/plugins' ns package, which Debian's
// libcni package does not have; this does the same with the standard library:
// check the path is a namespace file, switch one locked OS thread into it with
// setns(2), and switch it back.

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
)

const (
	nsfsMagic   = 0x6e736673 // NSFS_MAGIC
	procfsMagic = 0x9fa0     // PROC_SUPER_MAGIC
)

type ipv6Setting struct{ key, value string }

// For docker's "none" network, which disables IPv6, as kube-ovn notes
// (containernetworking/cni#531).
var ipv6Settings = []ipv6Setting{{"disable_ipv6", "0"}, {"accept_ra", "0"}}

func enableIPv6(netnsPath string) error {
	return inNetns(netnsPath, func() error {
		for _, conf := range []string{"all", "default"} {
			for _, s := range ipv6Settings {
				name := fmt.Sprintf("net.ipv6.conf.%s.%s", conf, s.key)
				value, err := readSysctl(name)
				if err != nil {
					if os.IsNotExist(err) {
						continue
					}
					return fmt.Errorf("failed to get sysctl variable %s: %w", name, err)
				}
				if value == s.value {
					continue
				}
				if _, err := writeSysctl(name, s.value); err != nil {
					if os.IsPermission(err) {
						continue
					}
					return fmt.Errorf("failed to set sysctl variable %s to %s: %w", name, s.value, err)
				}
			}
		}
		return nil
	})
}

func sysctlPath(name string) string {
	return filepath.Join("/proc/sys", strings.ReplaceAll(name, ".", "/"))
}

// readSysctl returns the value without its trailing newline.
func readSysctl(name string) (string, error) {
	data, err := os.ReadFile(sysctlPath(name))
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(string(data), "\n"), nil
}

// writeSysctl writes the value and reads it back.
func writeSysctl(name, value string) (string, error) {
	if err := os.WriteFile(sysctlPath(name), []byte(value), 0o644); err != nil {
		return "", err
	}
	return readSysctl(name)
}

// inNetns runs fn on a fresh locked OS thread switched into the network
// namespace at path. The thread is unlocked only after switching back, so a
// thread that could not switch back dies with its goroutine instead of being
// reused. Error texts follow the plugins' ns package.
func inNetns(path string, fn func() error) error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return fmt.Errorf("failed to Statfs %q: %v", path, err)
	}
	if st.Type != nsfsMagic && st.Type != procfsMagic {
		return fmt.Errorf("unknown FS magic on %q: %x", path, st.Type)
	}
	target, err := os.Open(path)
	if err != nil {
		return err
	}
	defer target.Close()

	var wg sync.WaitGroup
	var result error
	wg.Add(1)
	go func() {
		defer wg.Done()
		runtime.LockOSThread()
		home, err := os.Open(threadNetnsPath())
		if err != nil {
			result = fmt.Errorf("failed to open current netns: %v", err)
			return
		}
		defer home.Close()
		if err := setns(target); err != nil {
			result = fmt.Errorf("error switching to ns %v: %v", path, err)
			return
		}
		defer func() {
			if setns(home) == nil {
				runtime.UnlockOSThread()
			}
		}()
		result = fn()
	}()
	wg.Wait()
	return result
}

func setns(f *os.File) error {
	_, _, errno := syscall.RawSyscall(sysSetns, f.Fd(), syscall.CLONE_NEWNET, 0)
	if errno != 0 {
		return fmt.Errorf("Error switching to ns %v: %v", f.Name(), errno)
	}
	return nil
}
