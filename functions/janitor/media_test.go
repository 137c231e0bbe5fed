package janitor_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
)

// share inserts a ready media row of userID for entryID that refers to the object of the
// media sourceID, as the media function's deduplication for another entry does, deleted
// deletedAgo ago unless deletedAgo is 0.
func (w *world) share(userID, sourceID, entryID string, deletedAgo time.Duration) string {
	w.t.Helper()
	id := uuid.NewString()
	var deleted *time.Time
	if deletedAgo > 0 {
		d := time.Now().Add(-deletedAgo)
		deleted = &d
	}
	_, err := w.svc.DB.Exec(context.Background(), `
		INSERT INTO media (id, user_id, entry_id, object_key, filename_ct, content_type, size_bytes, sha256,
		                   status, upload_expires_at, completed_at, deleted_at)
		SELECT $1, user_id, $3, object_key, filename_ct, content_type, size_bytes, sha256,
		       'ready', NULL, now(), $4
		  FROM media WHERE id = $2 AND user_id = $5`, id, sourceID, entryID, deleted, userID)
	if err != nil {
		w.t.Fatalf("insert shared media: %v", err)
	}
	return id
}

func (w *world) cleanupNow() {
	w.t.Helper()
	if err := w.router(w.objects).Publish(context.Background(), w.tick()); err != nil {
		w.t.Fatalf("Publish(daily-cleanup tick) = %v", err)
	}
}

func TestExpiredPendingUploadsAreRemovedAfterTheGrace(t *testing.T) {
	w := newWorld(t) // PENDING_UPLOAD_TTL 36h: the grace after the upload URL's expiry
	alice := w.user()
	// w.media gives every upload a 15-minute URL from its creation.
	past, pastKey := w.media(alice, mediaSpec{status: "pending", createdAgo: 36*time.Hour + 20*time.Minute, object: true})
	// Created more than 36 hours ago, but its URL expired only 35h55m ago: an upload in
	// flight at the expiry may still finish and be completed.
	inGrace, inGraceKey := w.media(alice, mediaSpec{status: "pending", createdAgo: 36*time.Hour + 5*time.Minute, object: true})

	w.cleanupNow()

	if w.exists("media", past) || w.objectExists(pastKey) {
		t.Errorf("upload whose URL expired 36h05m ago (grace 36h): row %v, object %v; want both removed",
			w.exists("media", past), w.objectExists(pastKey))
	}
	if !w.exists("media", inGrace) || !w.objectExists(inGraceKey) {
		t.Errorf("upload whose URL expired 35h55m ago (grace 36h): row %v, object %v; want both kept",
			w.exists("media", inGrace), w.objectExists(inGraceKey))
	}
	jobs := userJobs(t, w.svc.DB, alice)
	if len(jobs) != 1 || asInt(jobs[0].Result["uploads_expired"]) != 1 || asInt(jobs[0].Result["media_removed"]) != 1 {
		t.Errorf("cleanup jobs = %+v, want one with uploads_expired 1, media_removed 1", jobs)
	}
}

func TestSharedObjectStaysWhileAnyRowNeedsIt(t *testing.T) {
	w := newWorld(t)
	alice := w.user()
	entryA, entryB := w.entry(alice, 0), w.entry(alice, 0)

	// A's media deleted long enough ago, B's (sharing A's object) live: the object stays.
	a, key := w.media(alice, mediaSpec{entryID: entryA, status: "ready", createdAgo: day, deletedAgo: 2 * time.Hour, object: true})
	b := w.share(alice, a, entryB, 0)
	w.cleanupNow()
	if w.exists("media", a) {
		t.Errorf("A's media, deleted 2 hours ago: row kept, want removed")
	}
	if !w.exists("media", b) || !w.objectExists(key) {
		t.Fatalf("B's live media sharing A's object: row %v, object %v; want both kept", w.exists("media", b), w.objectExists(key))
	}

	// B's deleted a minute ago: its download URLs may still work, so the object stays.
	if _, err := w.svc.DB.Exec(context.Background(), `UPDATE media SET deleted_at = now() - interval '1 minute' WHERE id = $1`, b); err != nil {
		t.Fatal(err)
	}
	w.cleanupNow()
	if !w.exists("media", b) || !w.objectExists(key) {
		t.Fatalf("B's media deleted a minute ago: row %v, object %v; want both kept", w.exists("media", b), w.objectExists(key))
	}

	// Past that, the last row goes and the object with it.
	if _, err := w.svc.DB.Exec(context.Background(), `UPDATE media SET deleted_at = now() - interval '2 hours' WHERE id = $1`, b); err != nil {
		t.Fatal(err)
	}
	w.cleanupNow()
	if w.exists("media", b) || w.objectExists(key) {
		t.Errorf("B's media deleted 2 hours ago, no other row: row %v, object %v; want both removed", w.exists("media", b), w.objectExists(key))
	}
}

func TestSharedObjectOfRowsDeletedTogetherIsRemovedOnce(t *testing.T) {
	w := newWorld(t)
	alice := w.user()
	entryA, entryB := w.entry(alice, 0), w.entry(alice, 0)
	a, key := w.media(alice, mediaSpec{entryID: entryA, status: "ready", createdAgo: day, deletedAgo: 3 * time.Hour, object: true})
	b := w.share(alice, a, entryB, 2*time.Hour)
	// Another live row of alice with its own object is not touched.
	live, liveKey := w.media(alice, mediaSpec{status: "ready", createdAgo: day, object: true})

	w.cleanupNow()

	if w.exists("media", a) || w.exists("media", b) || w.objectExists(key) {
		t.Errorf("two rows sharing an object, both deleted hours ago: rows %v %v, object %v; want all removed",
			w.exists("media", a), w.exists("media", b), w.objectExists(key))
	}
	if !w.exists("media", live) || !w.objectExists(liveKey) {
		t.Errorf("live media: row %v, object %v; want both kept", w.exists("media", live), w.objectExists(liveKey))
	}
	jobs := userJobs(t, w.svc.DB, alice)
	if len(jobs) != 1 || asInt(jobs[0].Result["media_removed"]) != 2 {
		t.Errorf("cleanup jobs = %+v, want one with media_removed 2", jobs)
	}
}
