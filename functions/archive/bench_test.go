package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/xmojo/diary/shared/crypto"
	"github.com/xmojo/diary/shared/entrybody"
	"github.com/xmojo/diary/shared/mediarow"
	"github.com/xmojo/diary/shared/testenv"
)

// discard is a ResponseWriter that keeps nothing of the body, as a client's socket.
type discard struct {
	h http.Header
	n atomic.Int64
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) WriteHeader(int)             {}
func (d *discard) Write(b []byte) (int, error) { d.n.Add(int64(len(b))); return len(b), nil }

// peakHeap samples the heap in use while fn runs and returns its peak.
func peakHeap(fn func()) uint64 {
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	fn()
	close(stop)
	wg.Wait()
	return peak.Load()
}

// BenchmarkExport exports a uce diary of 10,000 entries (about 1 KiB of text each) and
// 100 MiB of media (100 photos of 1 MiB) in the diary format: the time of one export and
// the function's peak heap while it streams (docs/benchmarks.md).
//
//	go test -run '^$' -bench BenchmarkExport -benchtime 3x ./functions/archive
func BenchmarkExport(b *testing.B) {
	f := newFixture(b, Config{})
	ctx := context.Background()
	u := testenv.NewUser(b, f.svc, "uce")
	text := string(bytes.Repeat([]byte("All packed up, still checking the weather. "), 24))
	ids := make([]string, 10_000)
	var rows [][]any
	at := time.Date(2020, 1, 1, 8, 0, 0, 0, time.UTC)
	for i := range ids {
		ids[i] = uuid.NewString()
		title := "Entry"
		body, err := entrybody.Seal(u.MasterKey, u.ID, ids[i], 1, &title, text)
		if err != nil {
			b.Fatal(err)
		}
		occurred := at.Add(time.Duration(i) * time.Hour)
		rows = append(rows, []any{ids[i], u.ID, body.Title, body.Content, 1, "app", occurred, occurred, occurred, 1, body.Size(), []string{"bench"}})
	}
	if _, err := f.svc.DB.CopyFrom(ctx, []string{"entries"}, []string{"id", "user_id", "title_ct", "content_ct", "body_version", "source",
		"occurred_at", "created_at", "updated_at", "version", "content_bytes", "tags"}, pgxRows(rows)); err != nil {
		b.Fatalf("copy entries: %v", err)
	}
	for i := range 100 {
		data := randomBytes(b, 1<<20)
		id := uuid.NewString()
		key := mediarow.ObjectKey(u.ID, id)
		sum := sha256.Sum256(data)
		if err := f.objects.Put(ctx, key, bytes.NewReader(data), int64(len(data)), sum[:], "image/jpeg"); err != nil {
			b.Fatal(err)
		}
		name, _ := crypto.Seal(u.MasterKey, []byte("photo.jpg"), crypto.AD{Owner: u.ID, Record: id, Purpose: "media.filename"})
		entry := ids[i*100]
		if _, err := mediarow.InsertReady(ctx, f.svc.DB, mediarow.Row{ID: id, UserID: u.ID, EntryID: &entry, ObjectKey: key,
			FilenameCT: name, ContentType: "image/jpeg", SizeBytes: int64(len(data)), SHA256: sum[:]}); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var peak uint64
	var written int64
	b.ResetTimer()
	for b.Loop() {
		w := &discard{h: http.Header{}}
		req := httptest.NewRequest(http.MethodGet, "/api/v1/export?format=diary", nil)
		req.Header.Set("Authorization", "Bearer "+u.AccessToken)
		p := peakHeap(func() { f.h.ServeHTTP(w, req) })
		peak = max(peak, p)
		written = w.n.Load()
	}
	b.StopTimer()
	b.ReportMetric(float64(written)/(1<<20), "zip-MiB")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(before.HeapInuse)/(1<<20), "heap-before-MiB")
	b.ReportMetric(float64(written)/(1<<20)/(b.Elapsed().Seconds()/float64(b.N)), "MiB/s")
}
