package entries

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/xmojo/diary/shared/testenv"
)

// TestEntryLifecycle walks every call of the Entries table for both tiers and checks the
// status, headers and body a client sees.
func TestEntryLifecycle(t *testing.T) {
	h := newHarness(t, "")
	for _, tier := range []string{"uce", "e2e"} {
		t.Run(tier, func(t *testing.T) {
			u := testenv.NewUser(t, h.svc, tier)

			// Create.
			b := body(t, u, "Dear diary, today was long.", map[string]any{
				"mood": " Tired ", "tags": []string{" Work", "work", "Life "}, "occurred_at": "2024-05-01T08:30:00+02:00",
			})
			if tier == "uce" {
				b["title"] = "Tuesday"
			}
			res := h.mustStatus(t, u, http.StatusCreated, "POST", "/api/v1/entries", b)
			created := decodeJSON[entryJSON](t, res)
			if got, want := res.Header().Get("Location"), entryPath(created.ID); got != want {
				t.Errorf("Create Location = %q, want %q", got, want)
			}
			if got := res.Header().Get("ETag"); got != `"1"` {
				t.Errorf("Create ETag = %q, want %q", got, `"1"`)
			}
			if created.Version != 1 || created.Source != "app" || created.DeletedAt != nil {
				t.Errorf("Create = version %d source %q deleted_at %v, want 1, app, null", created.Version, created.Source, created.DeletedAt)
			}
			if created.Mood == nil || *created.Mood != "Tired" {
				t.Errorf("Create mood = %v, want Tired (trimmed)", created.Mood)
			}
			if !slices.Equal(created.Tags, []string{"life", "work"}) {
				t.Errorf("Create tags = %q, want [life work] (trimmed, lower-cased, deduplicated)", created.Tags)
			}
			if created.OccurredAt != "2024-05-01T06:30:00Z" {
				t.Errorf("Create occurred_at = %q, want 2024-05-01T06:30:00Z (UTC)", created.OccurredAt)
			}
			assertBody(t, "Create", u, created, b)

			// Get.
			res = h.mustStatus(t, u, http.StatusOK, "GET", entryPath(created.ID), nil)
			got := decodeJSON[entryJSON](t, res)
			if res.Header().Get("ETag") != `"1"` || got.ID != created.ID || got.Version != 1 {
				t.Errorf("Get = %+v ETag %q, want the created entry with ETag \"1\"", got, res.Header().Get("ETag"))
			}
			assertBody(t, "Get", u, got, b)

			// Update, unconditionally, then with a stale and a current If-Match.
			b2 := body(t, u, "Second thoughts.", map[string]any{"tags": []string{"life"}})
			res = h.mustStatus(t, u, http.StatusOK, "PUT", entryPath(created.ID), b2)
			updated := decodeJSON[entryJSON](t, res)
			if updated.Version != 2 || res.Header().Get("ETag") != `"2"` {
				t.Errorf("Update = version %d ETag %q, want 2 and \"2\"", updated.Version, res.Header().Get("ETag"))
			}
			if updated.Mood != nil || !slices.Equal(updated.Tags, []string{"life"}) {
				t.Errorf("Update mood, tags = %v, %q, want null, [life] (PUT replaces them)", updated.Mood, updated.Tags)
			}
			if updated.OccurredAt != created.OccurredAt || updated.Source != "app" {
				t.Errorf("Update occurred_at, source = %q, %q, want %q, app (kept when omitted)", updated.OccurredAt, updated.Source, created.OccurredAt)
			}
			assertBody(t, "Update", u, updated, b2)
			res = h.mustStatus(t, u, http.StatusPreconditionFailed, "PUT", entryPath(created.ID), b2, "If-Match", `"1"`)
			if e := decodeJSON[errorJSON](t, res); e.Code != "version_mismatch" {
				t.Errorf("Update with stale If-Match code = %q, want version_mismatch", e.Code)
			}
			res = h.mustStatus(t, u, http.StatusOK, "PUT", entryPath(created.ID), b2, "If-Match", `"2"`)
			if v := decodeJSON[entryJSON](t, res).Version; v != 3 {
				t.Errorf("Update with current If-Match version = %d, want 3", v)
			}

			// Delete: a stale If-Match is refused, then the entry goes away.
			h.mustStatus(t, u, http.StatusPreconditionFailed, "DELETE", entryPath(created.ID), nil, "If-Match", `"2"`)
			res = h.mustStatus(t, u, http.StatusNoContent, "DELETE", entryPath(created.ID), nil, "If-Match", `"3"`)
			if res.Body.Len() != 0 {
				t.Errorf("Delete body = %q, want empty", res.Body)
			}
			h.mustStatus(t, u, http.StatusNotFound, "GET", entryPath(created.ID), nil)
			h.mustStatus(t, u, http.StatusNotFound, "PUT", entryPath(created.ID), b2)
			h.mustStatus(t, u, http.StatusNotFound, "DELETE", entryPath(created.ID), nil)
			list := decodeJSON[pageJSON](t, h.mustStatus(t, u, http.StatusOK, "GET", "/api/v1/entries", nil))
			if len(list.Items) != 0 {
				t.Errorf("List after delete = %d items, want 0", len(list.Items))
			}
			list = decodeJSON[pageJSON](t, h.mustStatus(t, u, http.StatusOK, "GET", "/api/v1/entries?include_deleted=true", nil))
			if len(list.Items) != 1 || list.Items[0].DeletedAt == nil || list.Items[0].Version != 4 {
				t.Errorf("List include_deleted = %+v, want the entry with deleted_at at version 4", list.Items)
			}

			// Restore.
			res = h.mustStatus(t, u, http.StatusOK, "POST", entryPath(created.ID)+"/restore", nil)
			restored := decodeJSON[entryJSON](t, res)
			if restored.DeletedAt != nil || restored.Version != 5 || res.Header().Get("ETag") != `"5"` {
				t.Errorf("Restore = deleted_at %v version %d ETag %q, want null, 5, \"5\"", restored.DeletedAt, restored.Version, res.Header().Get("ETag"))
			}
			assertBody(t, "Restore", u, restored, b2)
			h.mustStatus(t, u, http.StatusNotFound, "POST", entryPath(created.ID)+"/restore", nil)
			h.mustStatus(t, u, http.StatusOK, "GET", entryPath(created.ID), nil)

			// History, oldest first.
			hist := decodeJSON[struct {
				Items []struct {
					EventType string `json:"event_type"`
					Version   int    `json:"version"`
					At        string `json:"at"`
				} `json:"items"`
			}](t, h.mustStatus(t, u, http.StatusOK, "GET", entryPath(created.ID)+"/history", nil))
			var events []string
			for i, it := range hist.Items {
				events = append(events, it.EventType)
				if it.Version != i+1 || !strings.HasSuffix(it.At, "Z") {
					t.Errorf("History[%d] = %+v, want version %d and a UTC time", i, it, i+1)
				}
			}
			want := []string{"created", "updated", "updated", "deleted", "restored"}
			if !slices.Equal(events, want) {
				t.Errorf("History = %q, want %q", events, want)
			}
		})
	}
}

// assertBody checks the entry's text (uce) or envelope (e2e) is what the request sent.
func assertBody(t *testing.T, op string, u testenv.User, e entryJSON, sent map[string]any) {
	t.Helper()
	if u.Tier == "uce" {
		if e.Content == nil || *e.Content != sent["content"] {
			t.Errorf("%s content = %v, want %q", op, e.Content, sent["content"])
		}
		wantTitle, hasTitle := sent["title"]
		if hasTitle != (e.Title != nil) || (hasTitle && *e.Title != wantTitle) {
			t.Errorf("%s title = %v, want %v", op, e.Title, wantTitle)
		}
		if e.Ciphertext != nil {
			t.Errorf("%s ciphertext = %q, want absent for uce", op, *e.Ciphertext)
		}
		return
	}
	if e.Ciphertext == nil || *e.Ciphertext != sent["ciphertext"] {
		t.Errorf("%s ciphertext = %v, want %q as sent", op, e.Ciphertext, sent["ciphertext"])
	}
	if e.Content != nil || e.Title != nil {
		t.Errorf("%s content, title = %v, %v, want absent for e2e", op, e.Content, e.Title)
	}
}

// TestCreateRejects checks the statuses and codes of bad create requests for both tiers.
func TestCreateRejects(t *testing.T) {
	h := newHarness(t, "")
	uce := testenv.NewUser(t, h.svc, "uce")
	e2e := testenv.NewUser(t, h.svc, "e2e")
	long := func(n int) string { return strings.Repeat("a", n) }
	tooManyTags := make([]string, 33)
	for i := range tooManyTags {
		tooManyTags[i] = "t" + long(i%5) + string(rune('a'+i%26))
	}
	tests := []struct {
		name      string
		user      testenv.User
		body      any
		header    []string
		wantCode  int
		wantError string
		wantField string
	}{
		{"uce sends ciphertext", uce, map[string]any{"content": "x", "ciphertext": randomB64(t, 8)}, nil, 422, "validation_error", "ciphertext"},
		{"e2e sends content", e2e, map[string]any{"content": "x", "ciphertext": randomB64(t, 8)}, nil, 422, "validation_error", "content"},
		{"e2e sends title", e2e, map[string]any{"title": "x", "ciphertext": randomB64(t, 8)}, nil, 422, "validation_error", "title"},
		{"uce without content", uce, map[string]any{"title": "x"}, nil, 422, "validation_error", "content"},
		{"e2e without ciphertext", e2e, map[string]any{"mood": "ok"}, nil, 422, "validation_error", "ciphertext"},
		{"e2e bad base64", e2e, map[string]any{"ciphertext": "not base64!"}, nil, 422, "validation_error", "ciphertext"},
		{"e2e base64 with line break", e2e, map[string]any{"ciphertext": "AAAA\nAAAA"}, nil, 422, "validation_error", "ciphertext"},
		{"e2e unpadded base64", e2e, map[string]any{"ciphertext": "AAE"}, nil, 422, "validation_error", "ciphertext"},
		{"e2e empty ciphertext", e2e, map[string]any{"ciphertext": ""}, nil, 422, "validation_error", "ciphertext"},
		{"uce content over 1 MiB", uce, map[string]any{"content": long(1<<20 + 1)}, nil, 422, "validation_error", "content"},
		{"uce title too long", uce, map[string]any{"content": "x", "title": long(501)}, nil, 422, "validation_error", "title"},
		{"mood too long", uce, map[string]any{"content": "x", "mood": long(33)}, nil, 422, "validation_error", "mood"},
		{"too many tags", e2e, map[string]any{"ciphertext": randomB64(t, 8), "tags": tooManyTags}, nil, 422, "validation_error", "tags"},
		{"tag too long", uce, map[string]any{"content": "x", "tags": []string{long(65)}}, nil, 422, "validation_error", "tags"},
		{"empty tag", uce, map[string]any{"content": "x", "tags": []string{"  "}}, nil, 422, "validation_error", "tags"},
		{"unknown source", uce, map[string]any{"content": "x", "source": "myspace"}, nil, 422, "validation_error", "source"},
		{"bad occurred_at", e2e, map[string]any{"ciphertext": randomB64(t, 8), "occurred_at": "yesterday"}, nil, 422, "validation_error", "occurred_at"},
		{"wrong type", uce, map[string]any{"content": 7}, nil, 422, "validation_error", "content"},
		{"unknown field", uce, map[string]any{"content": "x", "colour": "red"}, nil, 400, "unknown_field", ""},
		{"malformed JSON", uce, `{"content": `, nil, 400, "malformed_json", ""},
		{"not JSON", uce, "content=x", []string{"Content-Type", "text/plain"}, 415, "unsupported_media_type", ""},
		{"body over 1.5 MiB", e2e, map[string]any{"ciphertext": long(3<<19 + 10)}, nil, 413, "body_too_large", ""},
		{"bad Idempotency-Key", uce, map[string]any{"content": "x"}, []string{"Idempotency-Key", "é"}, 422, "validation_error", "Idempotency-Key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := h.do(t, tt.user, "POST", "/api/v1/entries", tt.body, tt.header...)
			if res.Code != tt.wantCode {
				t.Fatalf("Create(%s) = %d %s, want %d", tt.name, res.Code, res.Body, tt.wantCode)
			}
			e := decodeJSON[errorJSON](t, res)
			if e.Code != tt.wantError || e.Detail == "" {
				t.Errorf("Create(%s) error = %+v, want code %q and a detail", tt.name, e, tt.wantError)
			}
			if tt.wantField != "" && e.Fields[tt.wantField] == "" {
				t.Errorf("Create(%s) fields = %v, want a message for %q", tt.name, e.Fields, tt.wantField)
			}
		})
	}
	// Nothing was stored by any of them.
	for _, u := range []testenv.User{uce, e2e} {
		var n int
		if err := h.svc.DB.QueryRow(t.Context(), `SELECT count(*) FROM entries WHERE user_id = $1`, u.ID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("entries of %s user after rejected creates = %d, want 0", u.Tier, n)
		}
	}
}

// TestLargestEntries checks the limits are inclusive: 1 MiB of uce content and the largest
// e2e envelope are accepted and come back whole.
func TestLargestEntries(t *testing.T) {
	h := newHarness(t, "")
	uce := testenv.NewUser(t, h.svc, "uce")
	e2e := testenv.NewUser(t, h.svc, "e2e")
	content := strings.Repeat("é", 1<<19) // 1 MiB of UTF-8
	e := h.create(t, uce, map[string]any{"content": content})
	got := decodeJSON[entryJSON](t, h.mustStatus(t, uce, http.StatusOK, "GET", entryPath(e.ID), nil))
	if got.Content == nil || *got.Content != content {
		t.Errorf("Get of a 1 MiB uce entry returned %d bytes, want %d", len(deref(got.Content)), len(content))
	}
	ct := randomB64(t, maxCiphertextBytes)
	e = h.create(t, e2e, map[string]any{"ciphertext": ct})
	got = decodeJSON[entryJSON](t, h.mustStatus(t, e2e, http.StatusOK, "GET", entryPath(e.ID), nil))
	if deref(got.Ciphertext) != ct {
		t.Errorf("Get of the largest e2e entry returned a different ciphertext (%d chars, want %d)", len(deref(got.Ciphertext)), len(ct))
	}
	res := h.do(t, e2e, "POST", "/api/v1/entries", map[string]any{"ciphertext": randomB64(t, maxCiphertextBytes+1)})
	if res.Code != http.StatusUnprocessableEntity {
		t.Errorf("Create with an envelope one byte too large = %d, want 422", res.Code)
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// TestOtherUsersEntry checks that every endpoint answers 404 for an entry that exists but
// belongs to someone else, of either tier, and changes nothing.
func TestOtherUsersEntry(t *testing.T) {
	h := newHarness(t, "")
	owner := testenv.NewUser(t, h.svc, "uce")
	live := h.create(t, owner, map[string]any{"content": "mine"})
	deleted := h.create(t, owner, map[string]any{"content": "mine too"})
	h.mustStatus(t, owner, http.StatusNoContent, "DELETE", entryPath(deleted.ID), nil)

	for _, tier := range []string{"uce", "e2e"} {
		other := testenv.NewUser(t, h.svc, tier)
		b := body(t, other, "not yours", nil)
		calls := []struct{ method, path string }{
			{"GET", entryPath(live.ID)},
			{"PUT", entryPath(live.ID)},
			{"DELETE", entryPath(live.ID)},
			{"GET", entryPath(live.ID) + "/history"},
			{"POST", entryPath(deleted.ID) + "/restore"},
			{"GET", entryPath(deleted.ID) + "/history"},
		}
		for _, c := range calls {
			t.Run(tier+" "+c.method+" "+c.path, func(t *testing.T) {
				var reqBody any
				if c.method == "PUT" {
					reqBody = b
				}
				res := h.do(t, other, c.method, c.path, reqBody, "If-Match", `"1"`)
				if res.Code != http.StatusNotFound {
					t.Fatalf("%s %s by another user = %d %s, want 404", c.method, c.path, res.Code, res.Body)
				}
				if e := decodeJSON[errorJSON](t, res); e.Code != "not_found" {
					t.Errorf("%s %s by another user code = %q, want not_found", c.method, c.path, e.Code)
				}
			})
		}
		list := decodeJSON[pageJSON](t, h.mustStatus(t, other, http.StatusOK, "GET", "/api/v1/entries?include_deleted=true", nil))
		feed := decodeJSON[pageJSON](t, h.mustStatus(t, other, http.StatusOK, "GET", "/api/v1/entries?updated_since=1970-01-01T00:00:00Z", nil))
		if len(list.Items)+len(feed.Items) != 0 {
			t.Errorf("List and feed of another user = %d + %d items, want none", len(list.Items), len(feed.Items))
		}
	}
	got := decodeJSON[entryJSON](t, h.mustStatus(t, owner, http.StatusOK, "GET", entryPath(live.ID), nil))
	if got.Version != 1 || deref(got.Content) != "mine" {
		t.Errorf("owner's entry after the others' attempts = version %d %q, want 1 \"mine\"", got.Version, deref(got.Content))
	}
	h.mustStatus(t, owner, http.StatusNotFound, "GET", entryPath(deleted.ID), nil)
}

// TestSessionWithoutKey checks a uce session that holds no master key: calls that encrypt
// or decrypt answer 401 session_key_unavailable, those that need no key still work.
func TestSessionWithoutKey(t *testing.T) {
	h := newHarness(t, "")
	u := testenv.NewUser(t, h.svc, "uce")
	e := h.create(t, u, map[string]any{"content": "secret"})
	keyless := userWithSession(t, h.svc, u, nil)
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"POST", "/api/v1/entries", map[string]any{"content": "x"}},
		{"GET", "/api/v1/entries", nil},
		{"GET", "/api/v1/entries?updated_since=1970-01-01T00:00:00Z", nil},
		{"GET", entryPath(e.ID), nil},
		{"PUT", entryPath(e.ID), map[string]any{"content": "x"}},
	} {
		res := h.do(t, keyless, c.method, c.path, c.body)
		if res.Code != http.StatusUnauthorized {
			t.Errorf("%s %s without a session key = %d %s, want 401", c.method, c.path, res.Code, res.Body)
			continue
		}
		if e := decodeJSON[errorJSON](t, res); e.Code != "session_key_unavailable" {
			t.Errorf("%s %s without a session key code = %q, want session_key_unavailable", c.method, c.path, e.Code)
		}
	}
	h.mustStatus(t, keyless, http.StatusOK, "GET", entryPath(e.ID)+"/history", nil)
	h.mustStatus(t, keyless, http.StatusNoContent, "DELETE", entryPath(e.ID), nil)
	res := h.do(t, keyless, "POST", entryPath(e.ID)+"/restore", nil)
	if res.Code != http.StatusUnauthorized {
		t.Errorf("Restore without a session key = %d, want 401", res.Code)
	}
}

// TestRouting checks authentication, unknown ids and paths, methods and trailing slashes.
func TestRouting(t *testing.T) {
	h := newHarness(t, "")
	u := testenv.NewUser(t, h.svc, "e2e")
	e := h.create(t, u, body(t, u, "", nil))
	tests := []struct {
		name         string
		method, path string
		token        string
		want         int
		allow        string
	}{
		{"no token", "GET", "/api/v1/entries", "", 401, ""},
		{"bad token", "GET", entryPath(e.ID), "not-a-jwt", 401, ""},
		{"trailing slash list", "GET", "/api/v1/entries/", u.AccessToken, 200, ""},
		{"trailing slash get", "GET", entryPath(e.ID) + "/", u.AccessToken, 200, ""},
		{"id not a uuid", "GET", entryPath("42"), u.AccessToken, 404, ""},
		{"unknown entry", "GET", entryPath("0190a4d2-0000-7000-8000-000000000000"), u.AccessToken, 404, ""},
		{"unknown sub-path", "GET", entryPath(e.ID) + "/comments", u.AccessToken, 404, ""},
		{"method not allowed", "PATCH", entryPath(e.ID), u.AccessToken, 405, "DELETE, GET, HEAD, PUT"},
		{"method not allowed on list", "DELETE", "/api/v1/entries", u.AccessToken, 405, "GET, HEAD, POST"},
		{"method not allowed on restore", "GET", entryPath(e.ID) + "/restore", u.AccessToken, 405, "POST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := testenv.Do(t, h.h, tt.method, tt.path, tt.token, nil)
			if res.Code != tt.want || res.Header().Get("Allow") != tt.allow {
				t.Fatalf("%s %s = %d Allow %q %s, want %d Allow %q", tt.method, tt.path, res.Code, res.Header().Get("Allow"), res.Body, tt.want, tt.allow)
			}
			if tt.want != 200 {
				if e := decodeJSON[errorJSON](t, res); e.Code == "" {
					t.Errorf("%s %s body = %s, want the error shape", tt.method, tt.path, res.Body)
				}
			}
		})
	}
}

// TestRestoreAfterRetention checks that an entry deleted more than 30 days ago cannot be
// restored even before the janitor purges it, while its history still answers.
func TestRestoreAfterRetention(t *testing.T) {
	h := newHarness(t, "")
	u := testenv.NewUser(t, h.svc, "e2e")
	e := h.create(t, u, body(t, u, "", nil))
	h.mustStatus(t, u, http.StatusNoContent, "DELETE", entryPath(e.ID), nil)
	if _, err := h.svc.DB.Exec(t.Context(), `UPDATE entries SET deleted_at = deleted_at - interval '30 days 1 second' WHERE id = $1`, e.ID); err != nil {
		t.Fatal(err)
	}
	h.mustStatus(t, u, http.StatusNotFound, "POST", entryPath(e.ID)+"/restore", nil)
	h.mustStatus(t, u, http.StatusOK, "GET", entryPath(e.ID)+"/history", nil)
	if _, err := h.svc.DB.Exec(t.Context(), `DELETE FROM entries WHERE id = $1`, e.ID); err != nil {
		t.Fatal(err)
	}
	h.mustStatus(t, u, http.StatusNotFound, "GET", entryPath(e.ID)+"/history", nil)
}
