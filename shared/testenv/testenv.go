// Package testenv gives tests the real services that scripts/test starts (PostgreSQL,
// Redis, versitygw) and a few helpers to reach them: users with live sessions, a captured
// log, and JSON requests against a handler. A test that cannot reach the services fails;
// it never skips.
package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xmojo/diary/shared/config"
	"github.com/xmojo/diary/shared/crypto"
	"github.com/xmojo/diary/shared/platform"
	"github.com/xmojo/diary/shared/token"
)

// Env returns the process environment as a map after checking that scripts/test's
// settings are present.
func Env(t testing.TB) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	for _, k := range []string{"DATABASE_URL", "REDIS_URL", "JWT_PRIVATE_KEY", "JWT_PUBLIC_KEY", "SESSION_KEY"} {
		if env[k] == "" {
			t.Fatalf("%s is not set: run the tests with scripts/test, which starts the services", k)
		}
	}
	return env
}

// Services connects to the test PostgreSQL and Redis and closes them when the test ends.
func Services(t testing.TB) *platform.Services {
	t.Helper()
	var cfg platform.Config
	if err := config.Load(Env(t), &cfg); err != nil {
		t.Fatalf("config.Load() = %v", err)
	}
	svc, err := platform.Connect(context.Background(), cfg)
	if err != nil {
		t.Fatalf("platform.Connect() = %v", err)
	}
	t.Cleanup(svc.Close)
	return svc
}

// Issuer returns a token issuer with the test signing key.
func Issuer(t testing.TB) *token.Issuer {
	t.Helper()
	env := Env(t)
	key, err := token.ParsePrivateKey(env["JWT_PRIVATE_KEY"])
	if err != nil {
		t.Fatalf("JWT_PRIVATE_KEY: %v", err)
	}
	iss, aud := env["JWT_ISSUER"], env["JWT_AUDIENCE"]
	if iss == "" {
		iss = "diary-auth"
	}
	if aud == "" {
		aud = "diary-api"
	}
	return token.NewIssuer(key, iss, aud)
}

// User is a user created directly in the database with a live session.
type User struct {
	ID          string
	Email       string
	Tier        string
	SessionID   string
	AccessToken string
	// MasterKey is the uce user's master key (nil for e2e), as the session holds it.
	MasterKey []byte
	// PublicKey and PrivateKey are the user's X25519 key pair, as signup makes it: for
	// uce, users.wrapped_private_key is PrivateKey wrapped by MasterKey
	// (crypto.WrapPrivateKey), so intake redemption can unwrap it; for e2e the private key
	// is what the client would keep.
	PublicKey  []byte
	PrivateKey []byte
}

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// NewUser inserts a user of the tier (without going through signup, so it is fast) and
// opens a session for it. The user has a real X25519 key pair; the wrapped master key is
// random bytes: such a user cannot log in with a password, only use the returned access
// token.
func NewUser(t testing.TB, svc *platform.Services, tier string) User {
	t.Helper()
	ctx := context.Background()
	u := User{ID: uuid.NewString(), Tier: tier}
	var err error
	if u.PublicKey, u.PrivateKey, err = crypto.GenerateX25519(); err != nil {
		t.Fatal(err)
	}
	u.Email = "t-" + u.ID + "@example.test" // the whole id: 32 bits of it collide by chance
	var salt, wrappedMaster, wrappedPriv []byte
	if tier == "uce" {
		u.MasterKey = randomBytes(t, 32)
		salt, wrappedMaster = randomBytes(t, 16), randomBytes(t, 72)
		if wrappedPriv, err = crypto.WrapPrivateKey(u.MasterKey, u.ID, u.PrivateKey); err != nil {
			t.Fatal(err)
		}
	}
	_, err = svc.DB.Exec(ctx, `
		INSERT INTO users (id, email, password_hash, encryption_tier, public_key, kdf_salt, wrapped_master_key, wrapped_private_key)
		VALUES ($1, $2, 'not-a-bcrypt-hash', $3, $4, $5, $6, $7)`,
		u.ID, u.Email, tier, u.PublicKey, salt, wrappedMaster, wrappedPriv)
	if err != nil {
		t.Fatalf("insert user: %v", err)
	}
	// Whatever events the test left undelivered go with it: another test's relay (any
	// relay sends every row of the outbox) must not send them to its own sink.
	t.Cleanup(func() { _, _ = svc.DB.Exec(context.Background(), `DELETE FROM outbox WHERE user_id = $1`, u.ID) })
	sess, _, err := svc.Sessions.Create(ctx, u.ID, tier, u.MasterKey)
	if err != nil {
		t.Fatalf("create session: %v", err)
	}
	u.SessionID = sess.ID
	u.AccessToken, _, err = Issuer(t).Issue(u.ID, sess.ID, tier)
	if err != nil {
		t.Fatalf("issue token: %v", err)
	}
	return u
}

// KeylessAccessToken opens another session of u that holds no master key, as a uce session
// opened without one would, and returns its access token.
func KeylessAccessToken(t testing.TB, svc *platform.Services, u User) string {
	t.Helper()
	sess, _, err := svc.Sessions.Create(context.Background(), u.ID, u.Tier, nil)
	if err != nil {
		t.Fatalf("create session: %v", err)
	}
	token, _, err := Issuer(t).Issue(u.ID, sess.ID, u.Tier)
	if err != nil {
		t.Fatalf("issue token: %v", err)
	}
	return token
}

// LogBuffer is a concurrency-safe buffer for captured logs.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything logged so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// CaptureLogs points slog's default logger at a buffer for the test's duration (tests that
// use it must not run in parallel with each other) and returns the buffer.
func CaptureLogs(t testing.TB) *LogBuffer {
	t.Helper()
	buf := &LogBuffer{}
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(io.MultiWriter(buf, os.Stderr), &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() { slog.SetDefault(prev) })
	return buf
}

// Response is a recorded answer.
type Response struct {
	*httptest.ResponseRecorder
}

// JSON decodes the body into v, failing the test on malformed JSON.
func (r Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body.Bytes(), v); err != nil {
		t.Fatalf("decode %q: %v", r.Body.String(), err)
	}
}

// Do sends a request to h and checks the exchange against the API document
// (checkAgainstAPI). body is marshalled to JSON unless it is a string or []byte,
// which are sent as they are; headers are "Name", "value" pairs; accessToken may be "".
func Do(t testing.TB, h http.Handler, method, path, accessToken string, body any, headers ...string) Response {
	t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			t.Fatal(err)
		}
	}
	req := httptest.NewRequest(method, path, bytes.NewReader(raw))
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if accessToken != "" {
		req.Header.Set("Authorization", "Bearer "+accessToken)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	check := req.Clone(req.Context())
	h.ServeHTTP(rec, req)
	checkAgainstAPI(t, check, raw, rec)
	return Response{rec}
}

// Media is a media row for InsertMedia, in the shape the media function writes.
type Media struct {
	UserID string
	// ObjectKey is the row's object; empty gives it an object of its own. Rows made by
	// deduplication share one.
	ObjectKey string
	Size      int64
	// Status is "pending" or "ready".
	Status string
	// Deleted soft-deletes the row; Expired gives a pending row an upload URL that has
	// expired.
	Deleted, Expired bool
}

// InsertMedia writes media rows straight into the media table (no object in S3), for
// tests of what counts against the storage quota.
func InsertMedia(t testing.TB, svc *platform.Services, rows ...Media) {
	t.Helper()
	for _, m := range rows {
		id := uuid.NewString()
		key := m.ObjectKey
		if key == "" {
			key = "u/" + m.UserID + "/" + id
		}
		_, err := svc.DB.Exec(context.Background(), `
			INSERT INTO media (id, user_id, object_key, filename_ct, content_type, size_bytes, sha256, status,
				upload_expires_at, completed_at, deleted_at)
			VALUES ($1, $2, $3, 'x', 'image/jpeg', $4, $5, $6,
				CASE WHEN $8 THEN now() - interval '1 hour' ELSE now() + interval '1 hour' END,
				CASE WHEN $6 = 'ready' THEN now() END, CASE WHEN $7 THEN now() END)`,
			id, m.UserID, key, m.Size, make([]byte, 32), m.Status, m.Deleted, m.Expired)
		if err != nil {
			t.Fatalf("insert media: %v", err)
		}
	}
}

// RowsMentioning counts, table by table, the rows of every table of the schema whose text
// form (every column, as pg_dump writes it) contains needle: what a dump of the database
// would still hold of it. Tests of deletion check it finds nothing of a user id.
func RowsMentioning(t testing.TB, db *pgxpool.Pool, needle string) map[string]int {
	t.Helper()
	ctx := context.Background()
	rows, err := db.Query(ctx, `
		SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) FROM information_schema.tables
		WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1`)
	if err != nil {
		t.Fatalf("list tables: %v", err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(tables) < 5 {
		t.Fatalf("tables = %v, %v: the schema is not there", tables, err)
	}
	found := map[string]int{}
	for _, table := range tables {
		var n int
		q := fmt.Sprintf(`SELECT count(*) FROM %s AS r WHERE r::text LIKE '%%' || $1 || '%%'`, table)
		if err := db.QueryRow(ctx, q, needle).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if n > 0 {
			found[table] = n
		}
	}
	return found
}
