package session_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/xmojo/diary/shared/crypto"
	"github.com/xmojo/diary/shared/session"
	"github.com/xmojo/diary/shared/testenv"
)

func TestRotateSpendsAndDetectsReuse(t *testing.T) {
	svc := testenv.Services(t)
	ctx := context.Background()
	sess, first, err := svc.Sessions.Create(ctx, "0b5d3f4e-7d0a-4f2a-9f4e-1f0c1a2b3c4d", "e2e", nil)
	if err != nil {
		t.Fatalf("Create() = %v", err)
	}
	_, second, err := svc.Sessions.Rotate(ctx, first)
	if err != nil || second == first {
		t.Fatalf("Rotate(first) = %q, %v, want a new token", second, err)
	}
	third := ""
	if _, third, err = svc.Sessions.Rotate(ctx, second); err != nil {
		t.Fatalf("Rotate(second) = %v, want nil", err)
	}
	if _, _, err := svc.Sessions.Rotate(ctx, first); !errors.Is(err, session.ErrRefreshReused) {
		t.Fatalf("Rotate(spent) = %v, want ErrRefreshReused", err)
	}
	if _, err := svc.Sessions.Get(ctx, sess.ID); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Get() after reuse = %v, want ErrNotFound", err)
	}
	if _, _, err := svc.Sessions.Rotate(ctx, third); !errors.Is(err, session.ErrInvalidRefresh) {
		t.Fatalf("Rotate(latest after revoke) = %v, want ErrInvalidRefresh", err)
	}
}

func TestRotateRejectsForgedTokens(t *testing.T) {
	svc := testenv.Services(t)
	ctx := context.Background()
	sess, _, err := svc.Sessions.Create(ctx, "0b5d3f4e-7d0a-4f2a-9f4e-1f0c1a2b3c4d", "e2e", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range []string{"", "nodot", sess.ID + ".", "not-a-uuid.abc", sess.ID + ".guessed"} {
		if _, _, err := svc.Sessions.Rotate(ctx, raw); !errors.Is(err, session.ErrInvalidRefresh) {
			t.Errorf("Rotate(%q) = %v, want ErrInvalidRefresh", raw, err)
		}
	}
	// A forged token must not revoke the victim's session.
	if _, err := svc.Sessions.Get(ctx, sess.ID); err != nil {
		t.Fatalf("Get() after forged refreshes = %v, want the session alive", err)
	}
}

func TestMasterKeyIsSealedInRedis(t *testing.T) {
	svc := testenv.Services(t)
	ctx := context.Background()
	master, err := crypto.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	userID := "5e0c1d2b-8a4f-4b6e-9c3d-2a1b0c9d8e7f"
	sess, refresh, err := svc.Sessions.Create(ctx, userID, "uce", master)
	if err != nil {
		t.Fatal(err)
	}
	got, err := svc.Sessions.Get(ctx, sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	key, err := svc.Sessions.MasterKey(got)
	if err != nil || !bytes.Equal(key, master) {
		t.Fatalf("MasterKey() = %x, %v, want the key given to Create", key, err)
	}
	vals, err := svc.Redis.HGetAll(ctx, "sess:"+sess.ID).Result()
	if err != nil {
		t.Fatal(err)
	}
	secret := refresh[strings.Index(refresh, ".")+1:]
	for field, v := range vals {
		for _, form := range []string{string(master), hex.EncodeToString(master), base64.StdEncoding.EncodeToString(master), secret} {
			if strings.Contains(v, form) {
				t.Errorf("redis field %q holds a secret in the clear", field)
			}
		}
	}
	// The sealed key is bound to its user and session: the same bytes under another
	// session id do not open.
	if err := svc.Sessions.Revoke(ctx, sess.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Sessions.Get(ctx, sess.ID); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Get() after Revoke = %v, want ErrNotFound", err)
	}
}

func TestE2ESessionHasNoMasterKey(t *testing.T) {
	svc := testenv.Services(t)
	sess, _, err := svc.Sessions.Create(context.Background(), "0b5d3f4e-7d0a-4f2a-9f4e-1f0c1a2b3c4d", "e2e", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Sessions.MasterKey(sess); !errors.Is(err, session.ErrNoMasterKey) {
		t.Fatalf("MasterKey(e2e) = %v, want ErrNoMasterKey", err)
	}
}

const (
	victimID   = "9d1c2b3a-4e5f-4a6b-8c7d-0e1f2a3b4c5d"
	attackerID = "3f2e1d0c-9b8a-4c7d-8e6f-5a4b3c2d1e0f"
)

// records reads the Redis hash of the session as a Redis writer would see it.
func records(t *testing.T, rdb *redis.Client, id string) map[string]string {
	t.Helper()
	vals, err := rdb.HGetAll(context.Background(), "sess:"+id).Result()
	if err != nil || len(vals) == 0 {
		t.Fatalf("HGetAll(sess:%s) = %v, %v, want the record", id, vals, err)
	}
	return vals
}

// write stores vals as the record sess:<id>, replacing what was there, as a Redis writer could.
func write(t *testing.T, rdb *redis.Client, id string, vals map[string]string) {
	t.Helper()
	ctx := context.Background()
	pipe := rdb.TxPipeline()
	pipe.Del(ctx, "sess:"+id)
	pipe.HSet(ctx, "sess:"+id, vals)
	pipe.Expire(ctx, "sess:"+id, time.Hour)
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Del(context.Background(), "sess:"+id, "sess:"+id+":spent") })
}

// assertRefused checks that neither the lookup of an access token's session nor a refresh
// with the token accepts the record, and that both say it failed its MAC.
func assertRefused(t *testing.T, store *session.Store, id, refresh string) {
	t.Helper()
	ctx := context.Background()
	if got, err := store.Get(ctx, id); !errors.Is(err, session.ErrNotFound) || !errors.Is(err, session.ErrTampered) {
		t.Errorf("Get(%s) = %+v, %v, want ErrNotFound and ErrTampered", id, got, err)
	}
	if got, _, err := store.Rotate(ctx, refresh); !errors.Is(err, session.ErrInvalidRefresh) || !errors.Is(err, session.ErrTampered) {
		t.Errorf("Rotate() = %+v, %v, want ErrInvalidRefresh and ErrTampered", got, err)
	}
}

func secretOf(refresh string) string { return refresh[strings.Index(refresh, ".")+1:] }

func TestForgedRecordIsRefused(t *testing.T) {
	svc := testenv.Services(t)
	ctx := context.Background()
	// The attacker has a session of their own, and so a record with a valid MAC to copy from.
	own, ownRefresh, err := svc.Sessions.Create(ctx, attackerID, "uce", nil)
	if err != nil {
		t.Fatal(err)
	}
	ownRecord := records(t, svc.Redis, own.ID)
	t.Run("new record for the victim", func(t *testing.T) {
		id := uuid.NewString()
		forged := maps.Clone(ownRecord)
		forged["user_id"] = victimID
		forged["refresh_hash"] = session.HashRefresh(victimID, id, "attacker-secret")
		write(t, svc.Redis, id, forged)
		assertRefused(t, svc.Sessions, id, id+".attacker-secret")
	})
	t.Run("own record turned into the victim's", func(t *testing.T) {
		forged := maps.Clone(ownRecord)
		forged["user_id"] = victimID
		forged["refresh_hash"] = session.HashRefresh(victimID, own.ID, secretOf(ownRefresh))
		write(t, svc.Redis, own.ID, forged)
		assertRefused(t, svc.Sessions, own.ID, ownRefresh)
	})
}

func TestTamperedRecordIsRefused(t *testing.T) {
	svc := testenv.Services(t)
	ctx := context.Background()
	master, err := crypto.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	// Another real sealed key, so a swapped master_key is well formed.
	_, _, err = svc.Sessions.Create(ctx, victimID, "uce", master)
	if err != nil {
		t.Fatal(err)
	}
	far := time.Now().Add(10 * 365 * 24 * time.Hour).UTC().Format(time.RFC3339Nano)
	tests := []struct {
		name   string
		change func(rec map[string]string)
	}{
		{"user_id", func(rec map[string]string) { rec["user_id"] = victimID }},
		{"tier", func(rec map[string]string) { rec["tier"] = "e2e" }},
		{"refresh_hash", func(rec map[string]string) { rec["refresh_hash"] = strings.Repeat("0", 64) }},
		{"created_at", func(rec map[string]string) { rec["created_at"] = time.Now().UTC().Format(time.RFC3339Nano) }},
		{"expires_at", func(rec map[string]string) { rec["expires_at"] = far }},
		{"master_key removed", func(rec map[string]string) { delete(rec, "master_key") }},
		{"master_key", func(rec map[string]string) {
			b, _ := base64.StdEncoding.DecodeString(rec["master_key"])
			b[len(b)/2] ^= 0x01
			rec["master_key"] = base64.StdEncoding.EncodeToString(b)
		}},
		{"mac", func(rec map[string]string) {
			b, _ := base64.StdEncoding.DecodeString(rec["mac"])
			b[0] ^= 0x01
			rec["mac"] = base64.StdEncoding.EncodeToString(b)
		}},
		{"mac removed (a record from before records had one)", func(rec map[string]string) { delete(rec, "mac") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sess, refresh, err := svc.Sessions.Create(ctx, attackerID, "uce", master)
			if err != nil {
				t.Fatal(err)
			}
			rec := records(t, svc.Redis, sess.ID)
			tt.change(rec)
			write(t, svc.Redis, sess.ID, rec)
			assertRefused(t, svc.Sessions, sess.ID, refresh)
		})
	}
	t.Run("record moved to another id", func(t *testing.T) {
		sess, refresh, err := svc.Sessions.Create(ctx, victimID, "uce", master)
		if err != nil {
			t.Fatal(err)
		}
		id := uuid.NewString()
		write(t, svc.Redis, id, records(t, svc.Redis, sess.ID))
		assertRefused(t, svc.Sessions, id, id+"."+secretOf(refresh))
	})
}

func TestCopiedRefreshHashIsRefused(t *testing.T) {
	svc := testenv.Services(t)
	ctx := context.Background()
	a, aRefresh, err := svc.Sessions.Create(ctx, attackerID, "e2e", nil)
	if err != nil {
		t.Fatal(err)
	}
	aHash := records(t, svc.Redis, a.ID)["refresh_hash"]
	for _, owner := range []struct{ name, userID string }{{"same user", attackerID}, {"other user", victimID}} {
		t.Run(owner.name, func(t *testing.T) {
			b, _, err := svc.Sessions.Create(ctx, owner.userID, "e2e", nil)
			if err != nil {
				t.Fatal(err)
			}
			copied := records(t, svc.Redis, b.ID)
			copied["refresh_hash"] = aHash
			write(t, svc.Redis, b.ID, copied)
			assertRefused(t, svc.Sessions, b.ID, b.ID+"."+secretOf(aRefresh))
			// Even a record whose MAC verifies (as if the attacker held the record key)
			// matches no token with a hash copied from another session: the hash binds the
			// user and the session.
			copied["mac"] = svc.Sessions.SignRecord(b.ID, copied)
			write(t, svc.Redis, b.ID, copied)
			if _, err := svc.Sessions.Get(ctx, b.ID); err != nil {
				t.Fatalf("Get(re-signed copy) = %v, want the record to pass its MAC", err)
			}
			if _, _, err := svc.Sessions.Rotate(ctx, b.ID+"."+secretOf(aRefresh)); !errors.Is(err, session.ErrInvalidRefresh) {
				t.Errorf("Rotate(copied hash, valid MAC) = %v, want ErrInvalidRefresh", err)
			}
		})
	}
	if _, _, err := svc.Sessions.Rotate(ctx, aRefresh); err != nil {
		t.Errorf("Rotate(the hash's own session) = %v, want it still to work", err)
	}
}

func TestRecordPastItsExpiryIsRefused(t *testing.T) {
	svc := testenv.Services(t)
	ctx := context.Background()
	// A session created 31 days ago whose Redis key a Redis writer kept alive (PERSIST, or
	// a TTL reset): the MACed expiry decides, not the key's TTL.
	past := svc.Sessions.WithClock(func() time.Time { return time.Now().Add(-session.RefreshTTL - 24*time.Hour) })
	sess, refresh, err := past.Create(ctx, victimID, "e2e", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Redis.Persist(ctx, "sess:"+sess.ID).Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Redis.Del(context.Background(), "sess:"+sess.ID) })
	if _, err := svc.Sessions.Get(ctx, sess.ID); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("Get(expired) = %v, want ErrNotFound", err)
	}
	if _, _, err := svc.Sessions.Rotate(ctx, refresh); !errors.Is(err, session.ErrInvalidRefresh) {
		t.Errorf("Rotate(expired) = %v, want ErrInvalidRefresh", err)
	}
}

func TestRotateKeepsTheRecordValid(t *testing.T) {
	svc := testenv.Services(t)
	ctx := context.Background()
	master, err := crypto.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	earlier := svc.Sessions.WithClock(func() time.Time { return start.Add(-time.Hour) })
	sess, refresh, err := earlier.Create(ctx, victimID, "uce", master)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, refresh, err = svc.Sessions.Rotate(ctx, refresh); err != nil {
			t.Fatalf("Rotate() = %v", err)
		}
	}
	got, err := svc.Sessions.Get(ctx, sess.ID)
	if err != nil {
		t.Fatalf("Get() after rotations = %v", err)
	}
	if got.UserID != victimID || got.Tier != "uce" || !got.CreatedAt.Equal(sess.CreatedAt) {
		t.Errorf("Get() = %+v, want user %s, tier uce, created %v", got, victimID, sess.CreatedAt)
	}
	// The expiry slides with each rotation: from now, not from the hour-old creation.
	if !got.ExpiresAt.After(start.Add(session.RefreshTTL - time.Minute)) {
		t.Errorf("ExpiresAt = %v, want about %v", got.ExpiresAt, start.Add(session.RefreshTTL))
	}
	key, err := svc.Sessions.MasterKey(got)
	if err != nil || !bytes.Equal(key, master) {
		t.Errorf("MasterKey() after rotations = %x, %v, want the key given to Create", key, err)
	}
}

func TestRotateComparesWithTheVerifiedRecord(t *testing.T) {
	svc := testenv.Services(t)
	ctx := context.Background()
	t.Run("refresh hash swapped after the read", func(t *testing.T) {
		sess, _, err := svc.Sessions.Create(ctx, victimID, "e2e", nil)
		if err != nil {
			t.Fatal(err)
		}
		// The attacker presents their own secret and, between the read and the script,
		// puts its hash into the victim's record: the script must not take it.
		forgedHash := session.HashRefresh(victimID, sess.ID, "attacker-secret")
		_, _, err = svc.Sessions.RotateAfterRead(ctx, sess.ID+".attacker-secret", func() {
			svc.Redis.HSet(ctx, "sess:"+sess.ID, "refresh_hash", forgedHash)
		})
		if !errors.Is(err, session.ErrInvalidRefresh) {
			t.Fatalf("Rotate(swapped after read) = %v, want ErrInvalidRefresh", err)
		}
	})
	t.Run("user changed after the read", func(t *testing.T) {
		sess, refresh, err := svc.Sessions.Create(ctx, attackerID, "e2e", nil)
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := svc.Sessions.RotateAfterRead(ctx, refresh, func() {
			svc.Redis.HSet(ctx, "sess:"+sess.ID, "user_id", victimID)
		})
		if err != nil || got.UserID != attackerID {
			t.Fatalf("Rotate(user changed after read) = %+v, %v, want the verified user %s", got, err, attackerID)
		}
		// The new MAC covers the user that was verified, so the changed record fails.
		if _, err := svc.Sessions.Get(ctx, sess.ID); !errors.Is(err, session.ErrTampered) {
			t.Errorf("Get() after the change = %v, want ErrTampered", err)
		}
	})
}
