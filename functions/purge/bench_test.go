package purge

import (
	"context"
	"testing"
	"time"
)

// BenchmarkPurge is the purge of one account with 10,000 entries (each with a history
// row) and 100 media objects in S3, from the account.deleted event to the users row gone,
// in batches of PURGE_BATCH_SIZE's default (1000). Building the account is not timed.
func BenchmarkPurge(b *testing.B) {
	w := newWorld(b)
	w.f.cfg.BatchSize = 1000
	ctx := context.Background()
	var entries, objects int64
	var took time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		a := w.newAccount(10000, 100)
		ev := w.deleteAccount(&a)
		b.StartTimer()
		start := time.Now()
		res, err := w.f.purge(ctx, a.user.ID, a.jobID)
		if err != nil {
			b.Fatalf("purge() = %v", err)
		}
		took += time.Since(start)
		entries, objects = res.Entries, res.Objects
		b.StopTimer()
		if _, err := w.f.Handle(ctx, ev); err != nil {
			b.Fatalf("Handle(after the purge) = %v", err)
		}
		b.StartTimer()
	}
	if entries != 10000 || objects != 101 {
		b.Fatalf("purged %d entries and %d objects, want 10000 and 101", entries, objects)
	}
	b.ReportMetric(float64(entries)/took.Seconds()*float64(b.N), "entries/s")
}
