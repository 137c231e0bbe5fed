package platform_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/xmojo/diary/shared/config"
	"github.com/xmojo/diary/shared/metrics"
	"github.com/xmojo/diary/shared/platform"
	"github.com/xmojo/diary/shared/testenv"
)

// freeAddress returns a loopback address nothing listens on now.
func freeAddress(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestMetricsListener: with METRICS_ADDRESS set, Connect serves the shared metrics there
// and Stop closes it; Serve records the function's start.
func TestMetricsListener(t *testing.T) {
	env := testenv.Env(t)
	addr := freeAddress(t)
	env["METRICS_ADDRESS"] = addr
	var cfg platform.Config
	if err := config.Load(env, &cfg); err != nil {
		t.Fatal(err)
	}
	svc, err := platform.Connect(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Connect() = %v", err)
	}
	l := platform.Lifecycle{Name: "metrics-test"}
	l.Serve(http.NotFoundHandler(), svc, true)
	if got := testutil.ToFloat64(metrics.FunctionStarted.WithLabelValues("metrics-test")); got < 1.7e9 {
		t.Errorf("diary_function_started_timestamp_seconds = %v, want a Unix time", got)
	}
	res, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), `diary_function_started_timestamp_seconds{function="metrics-test"}`) {
		t.Errorf("GET /metrics = %d, without the function's start", res.StatusCode)
	}
	if err := l.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get("http://" + addr + "/metrics"); err == nil {
		t.Error("the metrics listener still answers after Stop")
	}
}
