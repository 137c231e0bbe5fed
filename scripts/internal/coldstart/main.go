// Command coldstart measures how long a function binary takes from exec until its
// readiness endpoint answers 200: the cold start a scaled-to-zero Knative function pays
// before its first request. scripts/bench-gateway runs it.
//
//	coldstart [-n 40] NAME=BINARY [NAME=BINARY ...]
//
// The binaries are started in turn (one run of each, then the next round), so that a busy
// machine slows them alike. Each run gets a free loopback port in LISTEN_ADDRESS and the
// rest of this process's environment; readiness (GET /health/readiness) is polled every
// 200 µs. It prints min, median, p90 and max per binary, in milliseconds.
package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"
)

type binary struct {
	name, path string
	runs       []time.Duration
}

func main() {
	n := flag.Int("n", 40, "runs per binary")
	flag.Parse()
	var bins []*binary
	for _, arg := range flag.Args() {
		name, path, ok := strings.Cut(arg, "=")
		if !ok {
			fmt.Fprintln(os.Stderr, "coldstart: arguments are NAME=BINARY")
			os.Exit(2)
		}
		bins = append(bins, &binary{name: name, path: path})
	}
	if len(bins) == 0 {
		fmt.Fprintln(os.Stderr, "usage: coldstart [-n N] NAME=BINARY ...")
		os.Exit(2)
	}
	for range *n {
		for _, b := range bins {
			d, err := coldStart(b.path)
			if err != nil {
				fmt.Fprintf(os.Stderr, "coldstart: %s: %v\n", b.name, err)
				os.Exit(1)
			}
			b.runs = append(b.runs, d)
		}
	}
	fmt.Printf("%-8s %5s %8s %8s %8s %8s\n", "binary", "runs", "min_ms", "p50_ms", "p90_ms", "max_ms")
	for _, b := range bins {
		slices.Sort(b.runs)
		q := func(p float64) float64 {
			return float64(b.runs[int(p*float64(len(b.runs)-1))].Microseconds()) / 1000
		}
		fmt.Printf("%-8s %5d %8.1f %8.1f %8.1f %8.1f\n", b.name, len(b.runs), q(0), q(0.5), q(0.9), q(1))
	}
}

// coldStart runs path once and returns the time from exec to a 200 from readiness.
func coldStart(path string) (time.Duration, error) {
	addr, err := freeAddr()
	if err != nil {
		return 0, err
	}
	cmd := exec.Command(path)
	cmd.Env = append(os.Environ(), "LISTEN_ADDRESS="+addr)
	client := &http.Client{Timeout: time.Second}
	url := "http://" + addr + "/health/readiness"
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	for time.Since(start) < 30*time.Second {
		if res, err := client.Get(url); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return time.Since(start), nil
			}
		}
		time.Sleep(200 * time.Microsecond)
	}
	return 0, errors.New("not ready within 30s")
}

// freeAddr returns a loopback address nothing listens on right now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
