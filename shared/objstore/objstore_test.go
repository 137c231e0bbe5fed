package objstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/xmojo/diary/shared/config"
	"github.com/xmojo/diary/shared/metrics"
	"github.com/xmojo/diary/shared/objstore"
	"github.com/xmojo/diary/shared/outage"
)

// testConfig reads the S3 settings scripts/test exports; the tests fail without them.
func testConfig(t *testing.T) objstore.Config {
	t.Helper()
	env := map[string]string{}
	for _, k := range []string{"S3_ENDPOINT", "S3_REGION", "S3_BUCKET", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY", "S3_PATH_STYLE"} {
		env[k] = os.Getenv(k)
	}
	for _, k := range []string{"S3_BUCKET", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"} {
		if env[k] == "" {
			t.Fatalf("%s is not set: run the tests with scripts/test, which starts versitygw", k)
		}
	}
	var cfg objstore.Config
	if err := config.Load(env, &cfg); err != nil {
		t.Fatalf("config.Load() = %v", err)
	}
	return cfg
}

func testStore(t *testing.T) *objstore.Store {
	t.Helper()
	s, err := objstore.New(testConfig(t))
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	if err := s.EnsureBucket(context.Background()); err != nil {
		t.Fatalf("EnsureBucket() = %v", err)
	}
	return s
}

func randomBody(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// storeWithoutBucket returns a Store for a fresh bucket name that does not exist (yet).
func storeWithoutBucket(t *testing.T) *objstore.Store {
	t.Helper()
	cfg := testConfig(t)
	cfg.Bucket = "diary-objstore-" + strings.ReplaceAll(uuid.NewString(), "-", "")[:16]
	s, err := objstore.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func testKey() string { return "test/objstore/" + uuid.NewString() }

// send performs a presigned request with the given headers, as any HTTP client would.
func send(t *testing.T, method, rawURL string, header map[string]string, body []byte) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, rawURL, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, got
}

// tamper flips one hex digit of the URL's signature.
func tamper(t *testing.T, rawURL string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	sig := []byte(q.Get("X-Amz-Signature"))
	if len(sig) == 0 {
		t.Fatalf("no X-Amz-Signature in %s", rawURL)
	}
	if sig[0] == '0' {
		sig[0] = '1'
	} else {
		sig[0] = '0'
	}
	q.Set("X-Amz-Signature", string(sig))
	u.RawQuery = q.Encode()
	return u.String()
}

func TestPresignPutBindsLengthAndChecksum(t *testing.T) {
	t.Parallel()
	s := testStore(t)
	ctx := context.Background()
	body := randomBody(t, 4096)
	sum := sha256.Sum256(body)
	sameLength := randomBody(t, len(body))

	withoutChecksum := func(h map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range h {
			if !strings.EqualFold(k, "X-Amz-Checksum-Sha256") {
				out[k] = v
			}
		}
		return out
	}
	withContentType := func(ct string) func(map[string]string) map[string]string {
		return func(h map[string]string) map[string]string {
			out := map[string]string{}
			for k, v := range h {
				out[k] = v
			}
			out["Content-Type"] = ct
			return out
		}
	}
	otherSum := sha256.Sum256(sameLength)
	otherChecksum := func(h map[string]string) map[string]string {
		out := withoutChecksum(h)
		out["X-Amz-Checksum-Sha256"] = base64.StdEncoding.EncodeToString(otherSum[:])
		return out
	}
	same := func(h map[string]string) map[string]string { return h }
	tests := []struct {
		name    string
		ttl     time.Duration
		wait    time.Duration
		body    []byte
		header  func(map[string]string) map[string]string
		url     func(string) string
		wantOK  bool
		wantErr string // S3 error code in the answer, when refused
	}{
		{name: "declared bytes", ttl: time.Minute, body: body, header: same, wantOK: true},
		{name: "other bytes of the same length", ttl: time.Minute, body: sameLength, header: same, wantErr: "BadDigest"},
		{name: "shorter body", ttl: time.Minute, body: body[:len(body)-1], header: same, wantErr: "SignatureDoesNotMatch"},
		{name: "longer body", ttl: time.Minute, body: append(append([]byte{}, body...), 'x'), header: same, wantErr: "SignatureDoesNotMatch"},
		{name: "other bytes with their own checksum", ttl: time.Minute, body: sameLength, header: otherChecksum, wantErr: "SignatureDoesNotMatch"},
		{name: "checksum header left out", ttl: time.Minute, body: body, header: withoutChecksum, wantErr: "SignatureDoesNotMatch"},
		{name: "other content type", ttl: time.Minute, body: body, header: withContentType("text/html"), wantErr: "SignatureDoesNotMatch"},
		{name: "tampered signature", ttl: time.Minute, body: body, header: same, url: func(u string) string { return tamper(t, u) }, wantErr: "SignatureDoesNotMatch"},
		{name: "expired URL", ttl: time.Second, wait: 2100 * time.Millisecond, body: body, header: same, wantErr: "AccessDenied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			key := testKey()
			before := time.Now()
			put, err := s.PresignPut(ctx, key, int64(len(body)), sum[:], "image/png", tt.ttl)
			if err != nil {
				t.Fatalf("PresignPut() = %v", err)
			}
			if put.Method != http.MethodPut {
				t.Errorf("PresignPut().Method = %q, want PUT", put.Method)
			}
			// The binding is in the signature: these headers must be signed ones.
			pu, err := url.Parse(put.URL)
			if err != nil {
				t.Fatal(err)
			}
			signed := strings.Split(pu.Query().Get("X-Amz-SignedHeaders"), ";")
			for _, h := range []string{"content-length", "content-type", "host", "x-amz-checksum-sha256"} {
				if !slices.Contains(signed, h) {
					t.Errorf("X-Amz-SignedHeaders = %v, want %s among them", signed, h)
				}
			}
			// X-Amz-Date is in whole seconds, so the expiry is up to 1s short of ttl after
			// the call; both bounds hold however long the call took.
			if put.ExpiresAt.Before(before.Add(tt.ttl-time.Second)) || put.ExpiresAt.After(time.Now().Add(tt.ttl)) {
				t.Errorf("PresignPut().ExpiresAt is %v from now, want about %v", time.Until(put.ExpiresAt), tt.ttl)
			}
			time.Sleep(tt.wait)
			u := put.URL
			if tt.url != nil {
				u = tt.url(u)
			}
			status, answer := send(t, put.Method, u, tt.header(put.Header), tt.body)
			obj, exists, err := s.Head(ctx, key)
			if err != nil {
				t.Fatalf("Head() = %v", err)
			}
			if tt.wantOK {
				if status != http.StatusOK {
					t.Fatalf("PUT = %d %s, want 200", status, answer)
				}
				want := objstore.Object{Size: int64(len(body)), SHA256: hex.EncodeToString(sum[:])}
				if !exists || obj != want {
					t.Errorf("Head() = %+v, %v, want %+v, true", obj, exists, want)
				}
				return
			}
			if status < 400 || status >= 500 {
				t.Errorf("PUT = %d, want a 4xx refusal", status)
			}
			// The exact code is the store's; AWS S3 answers these cases with the same codes
			// (an expired presigned URL is AccessDenied "Request has expired").
			if !bytes.Contains(answer, []byte("<Code>"+tt.wantErr+"</Code>")) {
				t.Errorf("PUT answer = %s, want code %s", answer, tt.wantErr)
			}
			if exists {
				t.Errorf("Head() after a refused PUT = %+v, true; want no object", obj)
			}
		})
	}
}

func TestPresignGet(t *testing.T) {
	t.Parallel()
	s := testStore(t)
	ctx := context.Background()
	key := testKey()
	body := randomBody(t, 1000)
	sum := sha256.Sum256(body)
	put, err := s.PresignPut(ctx, key, int64(len(body)), sum[:], "audio/mpeg", time.Minute)
	if err != nil {
		t.Fatalf("PresignPut() = %v", err)
	}
	if status, answer := send(t, put.Method, put.URL, put.Header, body); status != http.StatusOK {
		t.Fatalf("PUT = %d %s, want 200", status, answer)
	}

	get, err := s.PresignGet(ctx, key, time.Minute)
	if err != nil {
		t.Fatalf("PresignGet() = %v", err)
	}
	status, got := send(t, get.Method, get.URL, get.Header, nil)
	if status != http.StatusOK || !bytes.Equal(got, body) {
		t.Errorf("GET = %d with %d bytes, want 200 with the %d uploaded bytes", status, len(got), len(body))
	}
	if status, _ := send(t, get.Method, tamper(t, get.URL), get.Header, nil); status != http.StatusForbidden {
		t.Errorf("GET with a tampered signature = %d, want 403", status)
	}

	short, err := s.PresignGet(ctx, key, time.Second)
	if err != nil {
		t.Fatalf("PresignGet(1s) = %v", err)
	}
	time.Sleep(2100 * time.Millisecond)
	if status, _ := send(t, short.Method, short.URL, short.Header, nil); status != http.StatusForbidden {
		t.Errorf("GET after expiry = %d, want 403", status)
	}
}

func TestPresignRefusesBadArguments(t *testing.T) {
	t.Parallel()
	s := testStore(t)
	ctx := context.Background()
	sum := sha256.Sum256([]byte("x"))
	tests := []struct {
		name string
		size int64
		sum  []byte
		ttl  time.Duration
	}{
		{"ttl above 15 minutes", 1, sum[:], objstore.MaxTTL + time.Second},
		{"zero ttl", 1, sum[:], 0},
		{"zero size", 0, sum[:], time.Minute},
		{"short digest", 1, sum[:16], time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.PresignPut(ctx, testKey(), tt.size, tt.sum, "", tt.ttl); err == nil {
				t.Errorf("PresignPut(size %d, %d-byte sum, ttl %v) = nil error, want one", tt.size, len(tt.sum), tt.ttl)
			}
		})
	}
	if _, err := s.PresignGet(ctx, testKey(), 16*time.Minute); err == nil {
		t.Errorf("PresignGet(16m) = nil error, want one")
	}
}

func TestHeadAndDelete(t *testing.T) {
	t.Parallel()
	s := testStore(t)
	ctx := context.Background()
	key := testKey()
	if _, exists, err := s.Head(ctx, key); err != nil || exists {
		t.Fatalf("Head(missing) = %v, %v; want false, nil", exists, err)
	}
	if err := s.Delete(ctx, key); err != nil {
		t.Fatalf("Delete(missing) = %v, want nil", err)
	}
	body := []byte("some bytes")
	sum := sha256.Sum256(body)
	put, err := s.PresignPut(ctx, key, int64(len(body)), sum[:], "", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if status, answer := send(t, put.Method, put.URL, put.Header, body); status != http.StatusOK {
		t.Fatalf("PUT = %d %s, want 200", status, answer)
	}
	if obj, exists, err := s.Head(ctx, key); err != nil || !exists || obj.Size != int64(len(body)) {
		t.Fatalf("Head() = %+v, %v, %v; want size %d", obj, exists, err, len(body))
	}
	for i := range 2 {
		if err := s.Delete(ctx, key); err != nil {
			t.Fatalf("Delete() #%d = %v, want nil", i+1, err)
		}
	}
	if _, exists, err := s.Head(ctx, key); err != nil || exists {
		t.Errorf("Head(deleted) = %v, %v; want false, nil", exists, err)
	}
}

// A wrong S3_BUCKET must never look like "the object is gone": a cleanup would drop the
// rows of objects that still exist in the real bucket.
func TestMissingBucketIsAnOutage(t *testing.T) {
	t.Parallel()
	s := storeWithoutBucket(t)
	ctx := context.Background()
	calls := map[string]func() error{
		"Head": func() error {
			_, exists, err := s.Head(ctx, testKey())
			if exists {
				t.Errorf("Head() in a missing bucket: exists = true")
			}
			return err
		},
		"Delete": func() error { return s.Delete(ctx, testKey()) },
	}
	ops := map[string]string{"Head": "head_object", "Delete": "delete_object"}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			before := testutil.ToFloat64(metrics.S3Errors.WithLabelValues(ops[name]))
			err := call()
			if !errors.Is(err, objstore.ErrBucketMissing) || !errors.Is(err, outage.ErrUnavailable) {
				t.Errorf("%s() in a missing bucket = %v, want ErrBucketMissing and outage.ErrUnavailable", name, err)
			}
			// Parallel tests may fail the same call too: at least this one is counted.
			if got := testutil.ToFloat64(metrics.S3Errors.WithLabelValues(ops[name])) - before; got < 1 {
				t.Errorf("diary_s3_errors_total{operation=%q} grew by %v, want at least 1", ops[name], got)
			}
		})
	}
}

func TestEnsureBucketCreatesOnce(t *testing.T) {
	t.Parallel()
	s := storeWithoutBucket(t)
	ctx := context.Background()
	for i := range 2 {
		if err := s.EnsureBucket(ctx); err != nil {
			t.Fatalf("EnsureBucket() #%d = %v, want nil", i+1, err)
		}
	}
	if _, exists, err := s.Head(ctx, "nothing"); err != nil || exists {
		t.Errorf("Head() in the new bucket = %v, %v; want false, nil", exists, err)
	}
}

func TestUnavailableStore(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.Endpoint = "http://127.0.0.1:1" // nothing listens on port 1
	s, err := objstore.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	calls := map[string]func() error{
		"Head":         func() error { _, _, err := s.Head(ctx, "k"); return err },
		"Delete":       func() error { return s.Delete(ctx, "k") },
		"EnsureBucket": func() error { return s.EnsureBucket(ctx) },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			err := call()
			if !errors.Is(err, outage.ErrUnavailable) {
				t.Errorf("%s() = %v, want outage.ErrUnavailable", name, err)
			}
		})
	}
	// Presigning needs no store at all.
	sum := sha256.Sum256([]byte("x"))
	if _, err := s.PresignPut(ctx, "k", 1, sum[:], "", time.Minute); err != nil {
		t.Errorf("PresignPut() with the store down = %v, want nil", err)
	}
}

func TestNewRefusesIncompleteConfig(t *testing.T) {
	t.Parallel()
	good := objstore.Config{Region: "us-east-1", Bucket: "b", AccessKeyID: "a", SecretAccessKey: "s"}
	tests := []struct {
		name   string
		change func(*objstore.Config)
		want   string
	}{
		{"no bucket", func(c *objstore.Config) { c.Bucket = "" }, "S3_BUCKET"},
		{"no region", func(c *objstore.Config) { c.Region = "" }, "S3_REGION"},
		{"no secret", func(c *objstore.Config) { c.SecretAccessKey = "" }, "S3_SECRET_ACCESS_KEY"},
		{"endpoint without scheme", func(c *objstore.Config) { c.Endpoint = "127.0.0.1:7070" }, "S3_ENDPOINT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.change(&cfg)
			if _, err := objstore.New(cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New() = %v, want an error naming %s", err, tt.want)
			}
		})
	}
	if _, err := objstore.New(good); err != nil {
		t.Errorf("New(AWS config) = %v, want nil", err)
	}
}
