package main

import (
	"bufio"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// listenerPID finds the process listening on TCP port: the socket's inode from
// /proc/net/tcp{,6}, then the process holding a descriptor of it.
func listenerPID(port string) (int, error) {
	p, err := strconv.Atoi(port)
	if err != nil {
		return 0, err
	}
	hexPort := fmt.Sprintf("%04X", p)
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		raw, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(raw), "\n")[1:] {
			fields := strings.Fields(line)
			if len(fields) < 10 || fields[3] != "0A" { // 0A: LISTEN
				continue
			}
			if strings.HasSuffix(fields[1], ":"+hexPort) {
				inodes["socket:["+fields[9]+"]"] = true
			}
		}
	}
	if len(inodes) == 0 {
		return 0, fmt.Errorf("nothing listens on port %s", port)
	}
	fds, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range fds {
		if link, err := os.Readlink(fd); err == nil && inodes[link] {
			return strconv.Atoi(strings.Split(fd, "/")[2])
		}
	}
	return 0, fmt.Errorf("no process of ours holds the listener on port %s (pass -pid)", port)
}

// memory is one reading of /proc/<pid>/status, in KiB.
type memory struct{ rss, hwm int }

func readMemory(pid int) (memory, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memory{}, err
	}
	defer f.Close()
	var m memory
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		switch k {
		case "VmRSS":
			m.rss = n
		case "VmHWM":
			m.hwm = n
		}
	}
	if m.rss == 0 {
		return m, errors.New("no VmRSS")
	}
	return m, nil
}

// resetPeak resets the process's VmHWM to its current RSS (clear_refs 5), so a phase's
// peak is its own; it reports whether the kernel allowed it.
func resetPeak(pid int) bool {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0) == nil
}

var metricsClient = &http.Client{Timeout: 2 * time.Second}

// goroutines reads go_goroutines from a Prometheus text endpoint, or -1.
func goroutines(url string) int {
	if url == "" {
		return -1
	}
	res, err := metricsClient.Get(url)
	if err != nil {
		return -1
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err == nil {
				return int(f)
			}
		}
	}
	return -1
}

// sampler follows a server's memory and goroutines until stopped.
type sampler struct {
	mu            sync.Mutex
	peakRSS       int
	peakG         int
	resetWorked   bool
	pid           int
	metrics       string
	stop, stopped chan struct{}
}

func startSampler(pid int, metrics string) *sampler {
	s := &sampler{pid: pid, metrics: metrics, stop: make(chan struct{}), stopped: make(chan struct{}), peakG: -1}
	s.resetWorked = resetPeak(pid)
	go func() {
		defer close(s.stopped)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for n := 0; ; n++ {
			if m, err := readMemory(pid); err == nil {
				s.mu.Lock()
				s.peakRSS = max(s.peakRSS, m.rss)
				s.mu.Unlock()
			}
			if n%4 == 0 {
				if g := goroutines(metrics); g >= 0 {
					s.mu.Lock()
					s.peakG = max(s.peakG, g)
					s.mu.Unlock()
				}
			}
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

// finish stops the sampler and returns the peak RSS (the larger of the sampled VmRSS and,
// when the reset worked, VmHWM) and the peak goroutine count.
func (s *sampler) finish() (peakKiB, peakG int) {
	close(s.stop)
	<-s.stopped
	peak := s.peakRSS
	if m, err := readMemory(s.pid); err == nil && s.resetWorked {
		peak = max(peak, m.hwm)
	}
	return peak, s.peakG
}
