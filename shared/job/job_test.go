package job_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/xmojo/diary/shared/job"
	"github.com/xmojo/diary/shared/testenv"
)

func TestLifecycle(t *testing.T) {
	svc := testenv.Services(t)
	ctx := t.Context()
	u, other := testenv.NewUser(t, svc, "uce"), testenv.NewUser(t, svc, "e2e")

	id, err := job.Queue(ctx, svc.DB, u.ID, "search_reindex")
	if err != nil {
		t.Fatalf("Queue: %v", err)
	}
	if j, err := job.Get(ctx, svc.DB, u.ID, id); err != nil || j.Status != job.Queued || j.Kind != "search_reindex" {
		t.Fatalf("Get queued = %+v, %v", j, err)
	}
	for _, tt := range []struct{ name, user, id string }{
		{"another user's job", other.ID, id},
		{"no such job", u.ID, uuid.NewString()},
		{"not a uuid", u.ID, "nope"},
	} {
		if _, err := job.Get(ctx, svc.DB, tt.user, tt.id); !errors.Is(err, job.ErrNotFound) {
			t.Errorf("Get(%s) = %v, want ErrNotFound", tt.name, err)
		}
	}
	if started, err := job.Start(ctx, svc.DB, other.ID, id); err != nil || started {
		t.Fatalf("Start by another user = %v, %v; want false", started, err)
	}
	if started, err := job.Start(ctx, svc.DB, u.ID, id); err != nil || !started {
		t.Fatalf("Start = %v, %v", started, err)
	}
	if err := job.Progress(ctx, svc.DB, id, 140, map[string]any{"entries_indexed": 3}); err != nil {
		t.Fatalf("Progress: %v", err)
	}
	if err := job.Progress(ctx, svc.DB, id, 50, map[string]any{"batches": 1}); err != nil {
		t.Fatalf("Progress: %v", err)
	}
	j, err := job.Get(ctx, svc.DB, u.ID, id)
	if err != nil || j.Status != job.Running || j.Progress != 50 || j.Result["entries_indexed"] != float64(3) || j.Result["batches"] != float64(1) {
		t.Fatalf("Get running = %+v, %v", j, err)
	}
	if err := job.Succeed(ctx, svc.DB, id, map[string]any{"entries_indexed": 4}); err != nil {
		t.Fatalf("Succeed: %v", err)
	}
	// A finished job stays finished: a late failure or restart changes nothing.
	if err := job.Fail(ctx, svc.DB, id, "too late"); err != nil {
		t.Fatalf("Fail: %v", err)
	}
	if started, err := job.Start(ctx, svc.DB, u.ID, id); err != nil || started {
		t.Fatalf("Start finished = %v, %v; want false", started, err)
	}
	j, err = job.Get(ctx, svc.DB, u.ID, id)
	if err != nil || j.Status != job.Succeeded || j.Progress != 100 || j.Error != nil || j.Result["entries_indexed"] != float64(4) {
		t.Fatalf("Get succeeded = %+v, %v", j, err)
	}

	failing, err := job.Queue(ctx, svc.DB, u.ID, "import")
	if err != nil {
		t.Fatalf("Queue: %v", err)
	}
	long := strings.Repeat("é", 600)
	if err := job.Fail(ctx, svc.DB, failing, long); err != nil {
		t.Fatalf("Fail with a long message: %v", err)
	}
	if j, err := job.Get(ctx, svc.DB, u.ID, failing); err != nil || j.Status != job.Failed || j.Error == nil || len([]rune(*j.Error)) != 500 {
		t.Fatalf("Get failed = %+v, %v", j, err)
	}
}

func TestHandled(t *testing.T) {
	svc := testenv.Services(t)
	ctx := t.Context()
	eventID := uuid.NewString()
	if ok, err := job.Handled(ctx, svc.DB, "test-consumer", eventID); err != nil || ok {
		t.Fatalf("Handled before = %v, %v", ok, err)
	}
	for range 2 {
		if err := job.MarkHandled(ctx, svc.DB, "test-consumer", eventID, "test.type"); err != nil {
			t.Fatalf("MarkHandled: %v", err)
		}
	}
	if ok, err := job.Handled(ctx, svc.DB, "test-consumer", eventID); err != nil || !ok {
		t.Fatalf("Handled after = %v, %v", ok, err)
	}
	if ok, err := job.Handled(ctx, svc.DB, "other-consumer", eventID); err != nil || ok {
		t.Fatalf("Handled by another consumer = %v, %v", ok, err)
	}
}
