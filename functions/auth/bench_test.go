package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/xmojo/diary/shared/token"
)

// benchHarness is a harness whose rate limits never trigger and whose logs are dropped.
func benchHarness(b *testing.B, overrides ...string) harness {
	b.Helper()
	overrides = append([]string{"LOGIN_RATE_IP_LIMIT", "1000000000", "LOGIN_RATE_ACCOUNT_LIMIT", "1000000000"}, overrides...)
	return newHarness(b, slog.New(slog.DiscardHandler), overrides...)
}

// revokeAfter ends the sessions the benchmark's logins opened, once it is done.
type revokeAfter struct {
	mu  sync.Mutex
	ids []string
}

func (r *revokeAfter) add(b *testing.B, body []byte) {
	var s apiSession
	if err := json.Unmarshal(body, &s); err != nil {
		b.Errorf("decode login answer: %v", err)
		return
	}
	id, _, _ := strings.Cut(s.RefreshToken, ".")
	r.mu.Lock()
	r.ids = append(r.ids, id)
	r.mu.Unlock()
}

func (r *revokeAfter) run(h harness) {
	for _, id := range r.ids {
		_ = h.svc.Sessions.Revoke(context.Background(), id)
	}
}

// BenchmarkLogin is one uce login through the handler: the rate-limit script, the user
// lookup, bcrypt (cost 12), Argon2id (64 MiB) to unwrap the master key, the session in
// Redis and the access token.
func BenchmarkLogin(b *testing.B) {
	h := benchHarness(b)
	a := insertAccount(b, h, "uce")
	body, _ := json.Marshal(map[string]string{"email": a.Email, "password": a.Password})
	var sessions revokeAfter
	defer sessions.run(h)
	for b.Loop() {
		resp := do(b, h.h, a.ip, "POST", "/api/v1/auth/login", "", body)
		if resp.Code != http.StatusOK {
			b.Fatalf("POST /login = %d %s, want 200", resp.Code, resp.Body)
		}
		sessions.add(b, resp.Body.Bytes())
	}
}

// BenchmarkTokenVerify is the signature and claims check every authenticated request
// pays, in every function, before the session lookup.
func BenchmarkTokenVerify(b *testing.B) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	raw, _, err := token.NewIssuer(priv, "diary-auth", "diary-api").Issue(uuid.NewString(), uuid.NewString(), "uce")
	if err != nil {
		b.Fatal(err)
	}
	v := token.NewVerifier(pub, "diary-auth", "diary-api")
	for b.Loop() {
		if _, err := v.Verify(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMe is a whole authenticated request: token check, session lookup in Redis,
// the user row from PostgreSQL.
func BenchmarkMe(b *testing.B) {
	h := benchHarness(b)
	a := insertAccount(b, h, "uce")
	for b.Loop() {
		if resp := do(b, h.h, a.ip, "GET", "/api/v1/auth/me", a.AccessToken, nil); resp.Code != http.StatusOK {
			b.Fatalf("GET /me = %d, want 200", resp.Code)
		}
	}
}

// BenchmarkConcurrentUCELogins sends 50 uce logins at once and reports the peak heap in
// use and the peak memory obtained from the OS while they run. Each Argon2id derivation
// takes 64 MiB; the KDF bound (KDF_CONCURRENCY, 2 by default) keeps the peak near
// bound x 64 MiB (plus garbage the GC has not reclaimed yet) rather than 50 x 64 MiB.
// The kdf=50 case shows the unbounded cost and needs 4 to 6 GiB free (select only kdf=2
// with -bench 'ConcurrentUCELogins/kdf=2$' on a small machine); it runs last because the
// Go runtime keeps the memory it obtained. It measures memory, not load shedding: the
// waits for a bcrypt or Argon2id slot are lifted to minutes, so that on a slow machine
// none of the 50 is turned away with a 503.
func BenchmarkConcurrentUCELogins(b *testing.B) {
	const logins = 50
	for _, bound := range []int{2, 50} {
		b.Run(fmt.Sprintf("kdf=%d", bound), func(b *testing.B) {
			h := benchHarness(b, "KDF_CONCURRENCY", fmt.Sprint(bound))
			h.h = h.rebuilt(b, slog.New(slog.DiscardHandler), func(s *server) {
				s.bcryptWait, s.kdfWait = 10*time.Minute, 10*time.Minute
			})
			a := insertAccount(b, h, "uce")
			body, _ := json.Marshal(map[string]string{"email": a.Email, "password": a.Password})
			var sessions revokeAfter
			defer sessions.run(h)

			runtime.GC()
			var base runtime.MemStats
			runtime.ReadMemStats(&base)
			var peakHeap, peakSys atomic.Uint64
			stop := make(chan struct{})
			sampled := make(chan struct{})
			go func() {
				defer close(sampled)
				tick := time.NewTicker(2 * time.Millisecond)
				defer tick.Stop()
				var m runtime.MemStats
				for {
					runtime.ReadMemStats(&m)
					if m.HeapInuse > peakHeap.Load() {
						peakHeap.Store(m.HeapInuse)
					}
					if m.Sys > peakSys.Load() {
						peakSys.Store(m.Sys)
					}
					select {
					case <-stop:
						return
					case <-tick.C:
					}
				}
			}()

			for b.Loop() {
				var wg sync.WaitGroup
				var failed atomic.Int32
				for range logins {
					wg.Go(func() {
						resp := do(b, h.h, randomIP(b), "POST", "/api/v1/auth/login", "", body)
						if resp.Code != http.StatusOK {
							failed.Add(1)
							return
						}
						sessions.add(b, resp.Body.Bytes())
					})
				}
				wg.Wait()
				if n := failed.Load(); n > 0 {
					b.Fatalf("%d of %d concurrent logins failed", n, logins)
				}
			}
			close(stop)
			<-sampled
			const mb = 1 << 20
			b.ReportMetric(float64(peakHeap.Load())/mb, "peak-heap-inuse-MB")
			b.ReportMetric(float64(peakSys.Load())/mb, "peak-sys-MB")
			b.ReportMetric(float64(peakHeap.Load()-min(base.HeapInuse, peakHeap.Load()))/mb, "heap-growth-MB")
		})
	}
}

// BenchmarkDeleteAccount is DELETE /me for a uce account with a second session: the
// password check (bcrypt, cost 12, under the login protection), the transaction that
// erases the keys and queues the purge, the revocation of every session (before and after
// the commit) and the event. The keys are erased before the answer is sent; the target is
// that they are gone less than 1 s after it. answer-ms is the whole call, mostly bcrypt;
// gone-after-answer-ms is the time from the answer to having checked (one query and a
// Redis listing) that no password hash, wrap of the master key, wrapped private key,
// recovery code, key backup or session is left. The purge of the rows is
// functions/purge's BenchmarkPurge.
func BenchmarkDeleteAccount(b *testing.B) {
	h := benchHarness(b)
	var answer, after time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		a := insertAccount(b, h, "uce")
		newSession(b, h, a.User.ID, "uce", sessionMasterKey(b, h, a.AccessToken))
		b.StartTimer()
		start := time.Now()
		resp := do(b, h.h, a.ip, "DELETE", "/api/v1/auth/me", a.AccessToken, map[string]string{"password": a.Password})
		answered := time.Now()
		if resp.Code != http.StatusAccepted {
			b.Fatalf("DELETE /me = %d %s, want 202", resp.Code, resp.Body)
		}
		assertKeyMaterialGone(b, h, a.User.ID)
		answer += answered.Sub(start)
		after += time.Since(answered)
	}
	b.ReportMetric(float64(answer.Microseconds())/1000/float64(b.N), "answer-ms")
	b.ReportMetric(float64(after.Microseconds())/1000/float64(b.N), "gone-after-answer-ms")
}
