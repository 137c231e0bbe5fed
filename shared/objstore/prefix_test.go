package objstore_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/xmojo/diary/shared/objstore"
	"github.com/xmojo/diary/shared/outage"
)

// putObject stores body at key through a presigned PUT, as a client would.
func putObject(t *testing.T, s *objstore.Store, key string, body []byte) {
	t.Helper()
	sum := sha256.Sum256(body)
	put, err := s.PresignPut(context.Background(), key, int64(len(body)), sum[:], "", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if status, answer := send(t, put.Method, put.URL, put.Header, body); status != http.StatusOK {
		t.Fatalf("PUT %s = %d %s, want 200", key, status, answer)
	}
}

func exists(t *testing.T, s *objstore.Store, key string) bool {
	t.Helper()
	_, ok, err := s.Head(context.Background(), key)
	if err != nil {
		t.Fatalf("Head(%s) = %v", key, err)
	}
	return ok
}

func TestDeletePrefix(t *testing.T) {
	t.Parallel()
	s := testStore(t)
	ctx := context.Background()
	// Two users whose ids share a beginning: deleting one's prefix spares the other.
	base := "test/prefix/" + uuid.NewString()
	victim, neighbour := base+"/", base+"0/"
	var keys []string
	for i := range 7 {
		key := fmt.Sprintf("%s%02d", victim, i)
		if i >= 5 {
			key = fmt.Sprintf("%sdeeper/%d", victim, i)
		}
		putObject(t, s, key, []byte(key))
		keys = append(keys, key)
	}
	putObject(t, s, neighbour+"kept", []byte("kept"))

	// Pages of three keys: three pages, the last one short.
	n, err := s.DeletePrefixInPages(ctx, victim, 3)
	if err != nil || n != 7 {
		t.Fatalf("DeletePrefix() = %d, %v, want 7, nil", n, err)
	}
	for _, key := range keys {
		if exists(t, s, key) {
			t.Errorf("%s still exists after DeletePrefix", key)
		}
	}
	if !exists(t, s, neighbour+"kept") {
		t.Errorf("DeletePrefix(%s) removed %s", victim, neighbour+"kept")
	}
	// Again: nothing left, nothing wrong.
	if n, err := s.DeletePrefix(ctx, victim); err != nil || n != 0 {
		t.Errorf("DeletePrefix() again = %d, %v, want 0, nil", n, err)
	}
	if err := s.Delete(ctx, neighbour+"kept"); err != nil {
		t.Fatal(err)
	}
}

func TestDeletePrefixRefusesWideOrOpenPrefixes(t *testing.T) {
	t.Parallel()
	s := testStore(t)
	for _, prefix := range []string{"", "u", "u/1234"} {
		if _, err := s.DeletePrefix(context.Background(), prefix); err == nil {
			t.Errorf("DeletePrefix(%q) = nil error, want a refusal", prefix)
		}
	}
}

func TestDeletePrefixInMissingBucketIsAnOutage(t *testing.T) {
	t.Parallel()
	s := storeWithoutBucket(t)
	_, err := s.DeletePrefix(context.Background(), "u/"+uuid.NewString()+"/")
	if !errors.Is(err, objstore.ErrBucketMissing) || !errors.Is(err, outage.ErrUnavailable) {
		t.Errorf("DeletePrefix() in a missing bucket = %v, want ErrBucketMissing and outage.ErrUnavailable", err)
	}
}
