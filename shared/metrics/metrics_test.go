package metrics_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/xmojo/diary/shared/metrics"
)

// TestServeServesTheSharedSeries: the listener answers GET /metrics with the shared
// series (and Go's), and nothing else.
func TestServeServesTheSharedSeries(t *testing.T) {
	l, err := metrics.Serve("127.0.0.1:0")
	if err != nil {
		t.Fatalf("Serve() = %v", err)
	}
	t.Cleanup(func() { _ = l.Close(t.Context()) })
	metrics.JobFailed("metrics_test")
	metrics.Started("metrics-test")

	res, err := http.Get("http://" + l.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics = %d", res.StatusCode)
	}
	for _, want := range []string{
		`diary_job_failures_total{kind="metrics_test"} 1`,
		`diary_function_started_timestamp_seconds{function="metrics-test"}`,
		"go_goroutines",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("GET /metrics lacks %q", want)
		}
	}
	for _, path := range []string{"/", "/health", "/metrics/x"} {
		res, err := http.Get("http://" + l.Addr() + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, res.StatusCode)
		}
	}
	if _, err := metrics.Serve(l.Addr()); err == nil || !strings.Contains(err.Error(), "METRICS_ADDRESS") {
		t.Errorf("Serve on a taken address = %v, want an error naming METRICS_ADDRESS", err)
	}
}

// TestRecorders: each helper moves its own series.
func TestRecorders(t *testing.T) {
	before := testutil.ToFloat64(metrics.DeadLetters.WithLabelValues("com.example.t"))
	metrics.DeadLettered("com.example.t")
	if got := testutil.ToFloat64(metrics.DeadLetters.WithLabelValues("com.example.t")); got != before+1 {
		t.Errorf("DeadLetters = %v, want %v", got, before+1)
	}
	metrics.IntegrationNeedsReauth("facebook")
	if got := testutil.ToFloat64(metrics.IntegrationsReauth.WithLabelValues("facebook")); got < 1 {
		t.Errorf("IntegrationsReauth = %v, want at least 1", got)
	}
	metrics.JobSucceeded("metrics_test")
	if got := testutil.ToFloat64(metrics.JobLastSuccess.WithLabelValues("metrics_test")); got < 1.7e9 {
		t.Errorf("JobLastSuccess = %v, want a Unix time", got)
	}
}
