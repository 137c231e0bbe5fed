package janitor_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/xmojo/diary/eventing/local"
	"github.com/xmojo/diary/shared/objstore"
)

// With a wrong S3_BUCKET every object looks missing. The janitor must not take that for
// "already gone" and drop the rows of objects that still exist in the real bucket: the run
// fails, the Broker retries and dead-letters, and the rows stay for a run that can reach
// the bucket.
func TestWrongBucketFailsTheRunAndKeepsTheMedia(t *testing.T) {
	w := newWorld(t)
	alice := w.user()
	deleted, deletedKey := w.media(alice, mediaSpec{status: "ready", createdAgo: day, deletedAgo: 2 * time.Hour, object: true})
	stale, staleKey := w.media(alice, mediaSpec{status: "pending", createdAgo: 40 * time.Hour, object: true})

	wrongCfg := w.cfg.Config
	wrongCfg.Bucket = "diary-wrong-" + strings.ReplaceAll(uuid.NewString(), "-", "")[:16]
	wrong, err := objstore.New(wrongCfg)
	if err != nil {
		t.Fatal(err)
	}
	ev := w.tick()
	if err := w.router(wrong).Publish(context.Background(), ev); !errors.Is(err, local.ErrDeadLettered) {
		t.Fatalf("Publish() with a missing bucket = %v, want the event retried, then dead-lettered", err)
	}

	for _, m := range []struct{ name, id, key string }{
		{"media deleted 2 hours ago", deleted, deletedKey},
		{"upload pending for 40 hours", stale, staleKey},
	} {
		if !w.exists("media", m.id) {
			t.Errorf("%s: row removed although its object could not be reached", m.name)
		}
		if !w.objectExists(m.key) {
			t.Errorf("%s: object gone from the real bucket", m.name)
		}
	}
	if got := w.count(`SELECT count(*) FROM processed_events WHERE consumer = 'janitor' AND event_id = $1`, ev.ID()); got != 0 {
		t.Errorf("processed_events rows for the failed run = %d, want 0 (a retry must do the work)", got)
	}
	if jobs := userJobs(t, w.svc.DB, alice); len(jobs) != 1 || jobs[0].Status != "failed" {
		t.Errorf("alice's cleanup jobs = %+v, want one failed job", jobs)
	}
}
