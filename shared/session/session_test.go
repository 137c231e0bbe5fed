package session_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

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
