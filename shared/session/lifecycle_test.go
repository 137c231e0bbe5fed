package session_test

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/xmojo/diary/shared/session"
	"github.com/xmojo/diary/shared/testenv"
)

// sessionIDs returns the ids of sessions, in order.
func sessionIDs(list []session.Session) []string {
	ids := make([]string, len(list))
	for i, s := range list {
		ids[i] = s.ID
	}
	return ids
}

func TestListAndRevokeUser(t *testing.T) {
	svc := testenv.Services(t)
	ctx := context.Background()
	user, other := uuid.NewString(), uuid.NewString()
	var mine []string
	for _, ua := range []string{"phone", "laptop", "tablet"} {
		sess, _, err := svc.Sessions.CreateFrom(ctx, user, "e2e", nil, ua)
		if err != nil {
			t.Fatal(err)
		}
		mine = append(mine, sess.ID)
	}
	theirs, _, err := svc.Sessions.Create(ctx, other, "e2e", nil)
	if err != nil {
		t.Fatal(err)
	}

	list, err := svc.Sessions.List(ctx, user)
	if err != nil {
		t.Fatalf("List() = %v", err)
	}
	got := sessionIDs(list)
	if want := []string{mine[2], mine[1], mine[0]}; !slices.Equal(got, want) {
		t.Fatalf("List() = %v, want %v (newest first)", got, want)
	}
	if list[0].UserAgent != "tablet" || list[0].LastUsedAt.IsZero() || list[0].ExpiresAt.IsZero() {
		t.Errorf("List()[0] = %+v, want user agent tablet and times", list[0])
	}

	// Another user's session id is not the user's to revoke, and stays alive.
	if err := svc.Sessions.RevokeOwned(ctx, user, theirs.ID); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("RevokeOwned(someone else's) = %v, want ErrNotFound", err)
	}
	if _, err := svc.Sessions.Get(ctx, theirs.ID); err != nil {
		t.Fatalf("Get(someone else's) after the refused revoke = %v", err)
	}
	if err := svc.Sessions.RevokeOwned(ctx, user, mine[0]); err != nil {
		t.Fatalf("RevokeOwned(own) = %v", err)
	}
	if _, err := svc.Sessions.Get(ctx, mine[0]); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("Get(revoked) = %v, want ErrNotFound", err)
	}
	if err := svc.Sessions.RevokeOwned(ctx, user, mine[0]); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("RevokeOwned(revoked again) = %v, want ErrNotFound", err)
	}

	// A Redis writer who adds someone else's session to the user's set gains nothing: the
	// list skips it and revoking everything leaves it alone.
	if err := svc.Redis.SAdd(ctx, "user-sessions:"+user, theirs.ID).Err(); err != nil {
		t.Fatal(err)
	}
	n, err := svc.Sessions.RevokeUser(ctx, user, mine[2])
	if err != nil || n != 1 {
		t.Fatalf("RevokeUser(except the newest) = %d, %v, want 1", n, err)
	}
	list, err = svc.Sessions.List(ctx, user)
	if err != nil || !slices.Equal(sessionIDs(list), []string{mine[2]}) {
		t.Fatalf("List() after RevokeUser = %v, %v, want only %s", sessionIDs(list), err, mine[2])
	}
	if _, err := svc.Sessions.Get(ctx, theirs.ID); err != nil {
		t.Errorf("Get(someone else's) after RevokeUser = %v, want alive", err)
	}
	if n, err := svc.Sessions.RevokeUser(ctx, user, ""); err != nil || n != 1 {
		t.Fatalf("RevokeUser(all) = %d, %v, want 1", n, err)
	}
	if _, err := svc.Sessions.Get(ctx, mine[2]); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("Get() after RevokeUser(all) = %v, want ErrNotFound", err)
	}
	if list, err := svc.Sessions.List(ctx, user); err != nil || len(list) != 0 {
		t.Errorf("List() after RevokeUser(all) = %v, %v, want none", sessionIDs(list), err)
	}
	// Plain Revoke drops the id from the set too.
	sess, _, err := svc.Sessions.Create(ctx, user, "e2e", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Sessions.Revoke(ctx, sess.ID); err != nil {
		t.Fatal(err)
	}
	if ok, err := svc.Redis.SIsMember(ctx, "user-sessions:"+user, sess.ID).Result(); err != nil || ok {
		t.Errorf("SISMEMBER after Revoke = %v, %v, want false", ok, err)
	}
}

func TestAbsoluteLifetime(t *testing.T) {
	svc := testenv.Services(t)
	ctx := context.Background()
	var offset atomic.Int64 // how far the store's clock is ahead of the real one
	clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	store, err := svc.Sessions.WithClock(clock).WithMaxAge(40 * 24 * time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Sessions.WithMaxAge(0); err == nil {
		t.Errorf("WithMaxAge(0) = nil error, want one")
	}
	created, refresh, err := store.Create(ctx, uuid.NewString(), "e2e", nil)
	if err != nil {
		t.Fatal(err)
	}
	// Refreshed on day 29 the session would live to day 59 by RefreshTTL alone; the
	// absolute lifetime ends it on day 40.
	offset.Store(int64(29 * 24 * time.Hour))
	sess, refresh, err := store.Rotate(ctx, refresh)
	if err != nil {
		t.Fatalf("Rotate(day 29) = %v", err)
	}
	if want := created.CreatedAt.Add(40 * 24 * time.Hour); !sess.ExpiresAt.Equal(want) {
		t.Errorf("ExpiresAt after the day-29 refresh = %v, want %v (creation + max age)", sess.ExpiresAt, want)
	}
	offset.Store(int64(40*24*time.Hour + time.Minute))
	if _, _, err := store.Rotate(ctx, refresh); !errors.Is(err, session.ErrInvalidRefresh) {
		t.Errorf("Rotate(day 40) = %v, want ErrInvalidRefresh", err)
	}
	if _, err := store.Get(ctx, sess.ID); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("Get(day 40) = %v, want ErrNotFound", err)
	}
	// A session made with the default lifetime ends after 90 days.
	if session.DefaultMaxAge != 90*24*time.Hour {
		t.Errorf("DefaultMaxAge = %v, want 90 days", session.DefaultMaxAge)
	}
}

func TestLastUsedAtWrittenAtMostOnceAMinute(t *testing.T) {
	svc := testenv.Services(t)
	ctx := context.Background()
	var offset atomic.Int64
	store := svc.Sessions.WithClock(func() time.Time { return time.Now().Add(time.Duration(offset.Load())) })
	sess, _, err := store.Create(ctx, uuid.NewString(), "e2e", nil)
	if err != nil {
		t.Fatal(err)
	}
	stored := func() string {
		t.Helper()
		v, err := svc.Redis.Get(ctx, "sess:"+sess.ID+":used").Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			t.Fatal(err)
		}
		return v
	}
	first := stored()
	offset.Store(int64(59 * time.Second))
	for range 5 {
		if _, err := store.Get(ctx, sess.ID); err != nil {
			t.Fatal(err)
		}
	}
	if got := stored(); got != first {
		t.Errorf("last_used_at after requests within a minute = %s, want unchanged %s", got, first)
	}
	offset.Store(int64(61 * time.Second))
	got, err := store.Get(ctx, sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored() == first || got.LastUsedAt.Sub(sess.CreatedAt) < time.Minute {
		t.Errorf("last_used_at after a minute = %s (Get says %v), want it moved on", stored(), got.LastUsedAt)
	}
	// The session list shows it too, and the record itself was never written.
	list, err := store.List(ctx, sess.UserID)
	if err != nil || len(list) != 1 || !list[0].LastUsedAt.Equal(got.LastUsedAt) {
		t.Errorf("List() = %+v, %v, want the session used at %v", list, err, got.LastUsedAt)
	}
	// A revoke takes the time of use with it.
	if err := store.Revoke(ctx, sess.ID); err != nil {
		t.Fatal(err)
	}
	if n, err := svc.Redis.Exists(ctx, "sess:"+sess.ID, "sess:"+sess.ID+":used").Result(); err != nil || n != 0 {
		t.Errorf("EXISTS after the revoke = %d, %v, want 0", n, err)
	}
}
