package purge

import (
	"context"
	"errors"
	"testing"

	"github.com/xmojo/diary/eventing"
	"github.com/xmojo/diary/eventing/local"
	"github.com/xmojo/diary/shared/job"
)

func TestPurgeRemovesEveryRowAndObject(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	a := w.newAccount(30, 12)
	bystander := w.newAccount(3, 2)
	ev := w.deleteAccount(&a)
	if found := rowsMentioning(t, w, a.user.ID); len(found) < 4 {
		t.Fatalf("before the purge the user is in %v: the fixture is too thin to prove anything", found)
	}

	if _, err := w.f.Handle(ctx, ev); err != nil {
		t.Fatalf("Handle(account.deleted) = %v", err)
	}
	if found := rowsMentioning(t, w, a.user.ID); len(found) != 0 {
		t.Errorf("after the purge the user id is still in %v", found)
	}
	if found := rowsMentioning(t, w, a.jobID); len(found) != 0 {
		t.Errorf("after the purge the job id is still in %v", found)
	}
	if left := objectsLeft(t, w.objects, a.keys); len(left) != 0 {
		t.Errorf("objects left under the user's prefix: %v", left)
	}
	if n, err := w.objects.DeletePrefix(ctx, userPrefix(a.user.ID)); err != nil || n != 0 {
		t.Errorf("DeletePrefix(user) after the purge = %d, %v: want nothing left", n, err)
	}
	// The job went with its user: nobody can read it any more.
	if _, err := job.Get(ctx, w.svc.DB, a.user.ID, a.jobID); !errors.Is(err, job.ErrNotFound) {
		t.Errorf("job.Get() after the purge = %v, want ErrNotFound", err)
	}

	// A second delivery of the same event does nothing, and fails nothing.
	if _, err := w.f.Handle(ctx, ev); err != nil {
		t.Errorf("Handle(redelivered) = %v, want nil", err)
	}
	// Nothing of anyone else was touched.
	if left := objectsLeft(t, w.objects, bystander.keys); len(left) != len(bystander.keys) {
		t.Errorf("the bystander's objects left = %d, want all %d", len(left), len(bystander.keys))
	}
	var entries int
	if err := w.svc.DB.QueryRow(ctx, `SELECT count(*) FROM entries WHERE user_id = $1`, bystander.user.ID).Scan(&entries); err != nil || entries != 3 {
		t.Errorf("the bystander's entries = %d, %v, want 3", entries, err)
	}
}

// An event for an account that is not marked deleted never purges it, whoever sent it.
func TestPurgeRefusesALiveAccount(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	a := w.newAccount(2, 1)
	if _, err := w.f.Handle(ctx, accountDeleted(t, a.user.ID, "")); err != nil {
		t.Fatalf("Handle() = %v, want nil (acknowledged, refused)", err)
	}
	if found := rowsMentioning(t, w, a.user.ID); found["public.users"] != 1 || found["public.entries"] != 2 {
		t.Errorf("after a refused purge the user is in %v, want the user and 2 entries", found)
	}
	if left := objectsLeft(t, w.objects, a.keys); len(left) != len(a.keys) {
		t.Errorf("objects left = %d, want all %d", len(left), len(a.keys))
	}
	// Data that is not an account.deleted payload is acknowledged and ignored.
	ev := accountDeleted(t, a.user.ID, "")
	if err := ev.SetData("application/json", []byte(`"not an object"`)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.f.Handle(ctx, ev); err != nil {
		t.Errorf("Handle(bad data) = %v, want nil", err)
	}
}

// failingObjects fails every prefix delete, as an S3 outage would.
type failingObjects struct{}

var errS3Down = errors.New("s3 is down")

func (failingObjects) DeletePrefix(context.Context, string) (int, error) { return 0, errS3Down }

// A purge cut short (S3 down after the rows went) leaves the account marked deleted with
// its progress in the job; the Broker's redelivery finishes it.
func TestPurgeResumesAfterAFailure(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	a := w.newAccount(20, 3)
	ev := w.deleteAccount(&a)
	broken := *w.f
	broken.objects = failingObjects{}
	if _, err := broken.Handle(ctx, ev); !errors.Is(err, errS3Down) {
		t.Fatalf("Handle() with S3 down = %v, want the failure (so the Broker retries)", err)
	}
	j, err := job.Get(ctx, w.svc.DB, a.user.ID, a.jobID)
	if err != nil {
		t.Fatalf("job.Get() after the failure = %v", err)
	}
	if j.Status != job.Running || j.Progress != 95 || j.Result["entries_deleted"] != float64(20) || j.Result["media_deleted"] != float64(3) {
		t.Errorf("job after the failure = %+v, want running at 95%% with 20 entries and 3 media deleted", j)
	}
	if left := objectsLeft(t, w.objects, a.keys); len(left) != len(a.keys) {
		t.Fatalf("objects left = %d, want all %d (S3 was down)", len(left), len(a.keys))
	}
	if _, err := w.f.Handle(ctx, ev); err != nil {
		t.Fatalf("Handle(redelivered) = %v", err)
	}
	if found := rowsMentioning(t, w, a.user.ID); len(found) != 0 {
		t.Errorf("after the resumed purge the user id is in %v", found)
	}
	if left := objectsLeft(t, w.objects, a.keys); len(left) != 0 {
		t.Errorf("objects left after the resumed purge: %v", left)
	}
}

// The daily sweep finishes a purge whose event never came, and leaves alone a deletion
// too recent for it (its event is on its way).
func TestSweepFinishesPendingPurges(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	lost, recent := w.newAccount(5, 2), w.newAccount(1, 1)
	w.deleteAccount(&lost)
	w.deleteAccount(&recent)
	if _, err := w.svc.DB.Exec(ctx, `UPDATE users SET deleted_at = now() - interval '2 hours' WHERE id = $1`, lost.user.ID); err != nil {
		t.Fatal(err)
	}
	m, err := local.Load(eventing.Manifests)
	if err != nil {
		t.Fatal(err)
	}
	ps, ok := m.PingSource("daily-cleanup")
	if !ok {
		t.Fatal("no PingSource daily-cleanup")
	}
	tick, err := local.PingEvent(ps, w.now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.f.Handle(ctx, tick); err != nil {
		t.Fatalf("Handle(tick) = %v", err)
	}
	if found := rowsMentioning(t, w, lost.user.ID); len(found) != 0 {
		t.Errorf("after the sweep the lost purge's user is in %v", found)
	}
	if left := objectsLeft(t, w.objects, lost.keys); len(left) != 0 {
		t.Errorf("objects of the swept account left: %v", left)
	}
	if found := rowsMentioning(t, w, recent.user.ID); found["public.users"] != 1 {
		t.Errorf("the recent deletion was swept too early: %v", found)
	}
}
