package janitor_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/google/uuid"
)

// stagedImport inserts an import in status whose staging zip is in S3; its upload URL
// expired expiredAgo ago and its row was last touched touchedAgo ago.
func (w *world) stagedImport(userID, status string, expiredAgo, touchedAgo time.Duration) (id, key, jobID string) {
	w.t.Helper()
	ctx := context.Background()
	id = uuid.NewString()
	key = "u/" + userID + "/imports/" + id + ".zip"
	body := randomBytes(w.t, 100)
	sum := sha256.Sum256(body)
	if err := w.objects.Put(ctx, key, bytes.NewReader(body), int64(len(body)), sum[:], "application/zip"); err != nil {
		w.t.Fatalf("put staging zip: %v", err)
	}
	var job *string
	if status != "awaiting_upload" {
		jobID = uuid.NewString()
		job = &jobID
		if _, err := w.svc.DB.Exec(ctx, `INSERT INTO jobs (id, user_id, kind, status) VALUES ($1, $2, 'import', 'running')`, jobID, userID); err != nil {
			w.t.Fatal(err)
		}
	}
	now := time.Now()
	if _, err := w.svc.DB.Exec(ctx, `
		INSERT INTO imports (id, user_id, format, status, size_bytes, sha256, staging_key, upload_expires_at, job_id, created_at, updated_at)
		VALUES ($1, $2, 'diary', $3, $4, $5, $6, $7, $8, $9, $10)`,
		id, userID, status, len(body), sum[:], key, now.Add(-expiredAgo), job, now.Add(-expiredAgo-15*time.Minute), now.Add(-touchedAgo)); err != nil {
		w.t.Fatalf("insert import: %v", err)
	}
	return id, key, jobID
}

func (w *world) importStatus(id string) (status string, failure *string, key *string) {
	w.t.Helper()
	if err := w.svc.DB.QueryRow(context.Background(), `SELECT status, failure, staging_key FROM imports WHERE id = $1`, id).
		Scan(&status, &failure, &key); err != nil {
		w.t.Fatal(err)
	}
	return status, failure, key
}

// The janitor ends imports nobody will take further and removes their staging zips: an
// upload never started (past PENDING_UPLOAD_TTL after its URL expired) and an import the
// Broker gave up on (untouched as long). Live ones keep their zips; the media steps, which
// work from media rows, never touch a staging object.
func TestAbandonedImportsLoseTheirStagingZips(t *testing.T) {
	w := newWorld(t) // PENDING_UPLOAD_TTL 36h
	alice := w.user()
	never, neverKey, _ := w.stagedImport(alice, "awaiting_upload", 37*time.Hour, 37*time.Hour)
	stalled, stalledKey, stalledJob := w.stagedImport(alice, "running", 40*time.Hour, 37*time.Hour)
	fresh, freshKey, _ := w.stagedImport(alice, "awaiting_upload", 2*time.Hour, 2*time.Hour)
	busy, busyKey, _ := w.stagedImport(alice, "running", 40*time.Hour, time.Minute)

	w.cleanupNow()

	for _, c := range []struct {
		name, id, key string
		gone          bool
	}{
		{"upload never started", never, neverKey, true},
		{"import the Broker gave up on", stalled, stalledKey, true},
		{"upload URL expired 2 hours ago", fresh, freshKey, false},
		{"import running now", busy, busyKey, false},
	} {
		status, failure, key := w.importStatus(c.id)
		if c.gone {
			if status != "failed" || failure == nil || key != nil || w.objectExists(c.key) {
				t.Errorf("%s: status %s, failure %v, staging key %v, object there %v; want failed, a message, the zip gone",
					c.name, status, failure, key, w.objectExists(c.key))
			}
		} else if status == "failed" || key == nil || !w.objectExists(c.key) {
			t.Errorf("%s: status %s, staging key %v, object there %v; want it left alone", c.name, status, key, w.objectExists(c.key))
		}
	}
	var jobStatus string
	if err := w.svc.DB.QueryRow(context.Background(), `SELECT status FROM jobs WHERE id = $1`, stalledJob).Scan(&jobStatus); err != nil || jobStatus != "failed" {
		t.Errorf("the stalled import's job is %q (%v), want failed", jobStatus, err)
	}
}
