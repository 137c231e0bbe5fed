package job_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/xmojo/diary/shared/job"
	"github.com/xmojo/diary/shared/metrics"
	"github.com/xmojo/diary/shared/testenv"
)

// TestOutcomesAreCounted: a failed job counts in diary_job_failures_total under its kind
// and a succeeded one sets diary_job_last_success_timestamp_seconds; finishing a job
// already finished changes neither.
func TestOutcomesAreCounted(t *testing.T) {
	svc := testenv.Services(t)
	ctx := t.Context()
	u := testenv.NewUser(t, svc, "uce")
	const kind = "metrics_test_import"
	failures := func() float64 { return testutil.ToFloat64(metrics.JobFailures.WithLabelValues(kind)) }
	before := failures()

	failed, err := job.Queue(ctx, svc.DB, u.ID, kind)
	if err != nil {
		t.Fatal(err)
	}
	if err := job.Fail(ctx, svc.DB, failed, "the file is not an export"); err != nil {
		t.Fatal(err)
	}
	if err := job.Fail(ctx, svc.DB, failed, "again"); err != nil {
		t.Fatal(err)
	}
	if got := failures() - before; got != 1 {
		t.Errorf("failures counted = %v, want 1 (the second Fail finds the job finished)", got)
	}
	if err := job.Succeed(ctx, svc.DB, failed, nil); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(metrics.JobLastSuccess.WithLabelValues(kind)); got != 0 {
		t.Errorf("last success = %v after succeeding a failed job, want none", got)
	}

	ok, err := job.Queue(ctx, svc.DB, u.ID, kind)
	if err != nil {
		t.Fatal(err)
	}
	if err := job.Succeed(ctx, svc.DB, ok, map[string]any{"entries": 2}); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(metrics.JobLastSuccess.WithLabelValues(kind)); got < 1.7e9 {
		t.Errorf("last success = %v, want a Unix time", got)
	}
	if j, err := job.Get(ctx, svc.DB, u.ID, ok); err != nil || j.Status != job.Succeeded {
		t.Errorf("Get = %+v, %v; want succeeded", j, err)
	}
}
