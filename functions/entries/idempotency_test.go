package entries

import (
	"bytes"
	"net/http"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/xmojo/diary/shared/testenv"
)

func countEntries(t *testing.T, h *harness, userID string) int {
	t.Helper()
	var n int
	if err := h.svc.DB.QueryRow(t.Context(), `SELECT count(*) FROM entries WHERE user_id = $1`, userID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestIdempotentCreate checks that a retried create with the same Idempotency-Key answers
// the first entry (same status, body and headers), for both tiers, and that reusing a key
// for another body is refused.
func TestIdempotentCreate(t *testing.T) {
	h := newHarness(t, "")
	for _, tier := range []string{"uce", "e2e"} {
		t.Run(tier, func(t *testing.T) {
			u := testenv.NewUser(t, h.svc, tier)
			key := uuid.NewString()
			b := body(t, u, "only once", map[string]any{"tags": []string{"Retry"}})
			first := h.mustStatus(t, u, http.StatusCreated, "POST", "/api/v1/entries", b, "Idempotency-Key", key)
			retry := h.mustStatus(t, u, http.StatusCreated, "POST", "/api/v1/entries", b, "Idempotency-Key", key)
			if !bytes.Equal(first.Body.Bytes(), retry.Body.Bytes()) {
				t.Errorf("retried Create body = %s, want the first answer %s", retry.Body, first.Body)
			}
			for _, hdr := range []string{"Location", "ETag"} {
				if first.Header().Get(hdr) != retry.Header().Get(hdr) {
					t.Errorf("retried Create %s = %q, want %q", hdr, retry.Header().Get(hdr), first.Header().Get(hdr))
				}
			}
			// The key may be sent as a structured-field string too.
			quotedRetry := h.mustStatus(t, u, http.StatusCreated, "POST", "/api/v1/entries", b, "Idempotency-Key", `"`+key+`"`)
			if !bytes.Equal(first.Body.Bytes(), quotedRetry.Body.Bytes()) {
				t.Errorf("Create with the quoted key = %s, want the first answer", quotedRetry.Body)
			}
			if n := countEntries(t, h, u.ID); n != 1 {
				t.Errorf("entries after three creates with one key = %d, want 1", n)
			}

			other := body(t, u, "something else", nil)
			res := h.mustStatus(t, u, http.StatusUnprocessableEntity, "POST", "/api/v1/entries", other, "Idempotency-Key", key)
			if e := decodeJSON[errorJSON](t, res); e.Code != "idempotency_key_reused" {
				t.Errorf("Create with a reused key and another body code = %q, want idempotency_key_reused", e.Code)
			}

			// Without a key, or with another key, the same body makes a new entry.
			h.mustStatus(t, u, http.StatusCreated, "POST", "/api/v1/entries", b)
			h.mustStatus(t, u, http.StatusCreated, "POST", "/api/v1/entries", b, "Idempotency-Key", uuid.NewString())
			if n := countEntries(t, h, u.ID); n != 3 {
				t.Errorf("entries = %d, want 3", n)
			}

			// Keys are per user.
			v := testenv.NewUser(t, h.svc, tier)
			h.mustStatus(t, v, http.StatusCreated, "POST", "/api/v1/entries", body(t, v, "mine", nil), "Idempotency-Key", key)
			if n := countEntries(t, h, v.ID); n != 1 {
				t.Errorf("entries of another user using the same key = %d, want 1", n)
			}

			// After 24 hours the key starts afresh.
			if _, err := h.svc.DB.Exec(t.Context(), `UPDATE entry_idempotency SET created_at = created_at - interval '25 hours' WHERE user_id = $1`, u.ID); err != nil {
				t.Fatal(err)
			}
			late := h.mustStatus(t, u, http.StatusCreated, "POST", "/api/v1/entries", b, "Idempotency-Key", key)
			if decodeJSON[entryJSON](t, late).ID == decodeJSON[entryJSON](t, first).ID {
				t.Errorf("Create with a 25-hour-old key returned the old entry, want a new one")
			}
		})
	}
}

// TestIdempotentCreateConcurrent sends the same keyed create many times at once: one entry
// is made and every answer is that entry.
func TestIdempotentCreateConcurrent(t *testing.T) {
	h := newHarness(t, "")
	u := testenv.NewUser(t, h.svc, "uce")
	key := uuid.NewString()
	b := body(t, u, "at once", nil)
	var wg sync.WaitGroup
	ids := make([]string, 8)
	codes := make([]int, 8)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := h.do(t, u, "POST", "/api/v1/entries", b, "Idempotency-Key", key)
			codes[i] = res.Code
			ids[i] = res.Header().Get("Location")
		}()
	}
	wg.Wait()
	for i := range ids {
		if codes[i] != http.StatusCreated || ids[i] != ids[0] {
			t.Errorf("concurrent keyed Create %d = %d %q, want 201 %q", i, codes[i], ids[i], ids[0])
		}
	}
	if n := countEntries(t, h, u.ID); n != 1 {
		t.Errorf("entries after 8 concurrent creates with one key = %d, want 1", n)
	}
}

// TestIdempotencyKeyHeader: a create without the header says so (sent false, no error,
// rather than a nil hash standing for "absent"); a key bare or quoted is the same key; a
// malformed one is a 422 whatever else the request holds.
func TestIdempotencyKeyHeader(t *testing.T) {
	bare := []byte(nil)
	tests := []struct {
		name     string
		values   []string
		wantSent bool
		wantErr  bool
	}{
		{"absent", nil, false, false},
		{"bare", []string{"retry-1"}, true, false},
		{"quoted", []string{`"retry-1"`}, true, false},
		{"empty", []string{""}, true, true},
		{"two values", []string{"a", "b"}, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := http.NewRequest(http.MethodPost, "/api/v1/entries", nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range tt.values {
				r.Header.Add("Idempotency-Key", v)
			}
			hash, sent, err := idempotencyKeyHash(r)
			if sent != tt.wantSent || (err != nil) != tt.wantErr {
				t.Fatalf("idempotencyKeyHash(%q) = %x, %v, %v; want sent %v, error %v", tt.values, hash, sent, err, tt.wantSent, tt.wantErr)
			}
			switch {
			case err != nil || !sent:
				if hash != nil {
					t.Errorf("idempotencyKeyHash(%q) hash = %x, want none", tt.values, hash)
				}
			case len(hash) != 32:
				t.Errorf("idempotencyKeyHash(%q) hash = %x, want 32 bytes", tt.values, hash)
			case bare == nil:
				bare = hash
			case !bytes.Equal(hash, bare):
				t.Errorf("idempotencyKeyHash(%q) = %x, want the bare key's %x", tt.values, hash, bare)
			}
		})
	}
}
