package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// With -split, the control plane (kube-apiserver and etcd) runs on the first
// half of the CPUs and the bench with the controller on the other half, as in
// a cluster where the controller runs on a worker node and not next to the
// apiserver. Both the ceiling and the convergence are measured so: shared
// CPUs measure how much the controller's own work slows the apiserver it
// waits for, split CPUs measure the requests it sends.

// cpuHalves returns the control plane's CPUs and the bench's.
func cpuHalves() (plane, bench []int, err error) {
	n := runtime.NumCPU()
	if n < 2 {
		return nil, nil, fmt.Errorf("-split needs at least 2 CPUs, this machine has %d", n)
	}
	for i := range n {
		if i < n/2 {
			plane = append(plane, i)
		} else {
			bench = append(bench, i)
		}
	}
	return plane, bench, nil
}

// pin sets the CPU affinity of every thread of a process. Threads it starts
// later inherit it.
func pin(pid int, cpus []int) error {
	var set unix.CPUSet
	for _, c := range cpus {
		set.Set(c)
	}
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return err
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, &set); err != nil && err != unix.ESRCH {
			return fmt.Errorf("pinning thread %d of %d: %w", tid, pid, err)
		}
	}
	return nil
}

// pinControlPlane pins this process's kube-apiserver and etcd children.
func pinControlPlane(cpus []int) error {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	found := 0
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		s := string(b)
		open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || closing < open {
			continue
		}
		comm, rest := s[open+1:closing], strings.Fields(s[closing+1:])
		if len(rest) < 2 || rest[1] != strconv.Itoa(os.Getpid()) || (comm != "kube-apiserver" && comm != "etcd") {
			continue
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(s[:open]))
		if err := pin(pid, cpus); err != nil {
			return err
		}
		found++
	}
	if found != 2 {
		return fmt.Errorf("-split: found %d of kube-apiserver and etcd among this process's children", found)
	}
	return nil
}
