package main

import "testing"

// TestPprofOnlyOnLoopback: PPROF_ADDRESS is honoured only for a loopback address.
func TestPprofOnlyOnLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:6061": true,
		"[::1]:6061":     true,
		"localhost:6061": true,
		"0.0.0.0:6061":   false,
		":6061":          false,
		"10.0.0.5:6061":  false,
		"example.com:80": false,
		"127.0.0.1":      false,
	} {
		if got := loopbackAddress(addr); got != want {
			t.Errorf("loopbackAddress(%q) = %v, want %v", addr, got, want)
		}
	}
}
