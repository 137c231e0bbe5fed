package importer

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/xmojo/diary/shared/testenv"
)

// BenchmarkDayOneImport imports a Day One journal of 10,000 entries (a heading, about
// 1 KiB of text and two tags each) into a uce account: entries per second over the whole
// import, from the ranged reads of the zip to the last batch (docs/benchmarks.md).
//
//	go test -run '^$' -bench BenchmarkDayOneImport -benchtime 3x ./functions/importer
func BenchmarkDayOneImport(b *testing.B) {
	cfg := defaultConfig()
	cfg.BatchSize = 200
	cfg.RunTimeout = 10 * time.Minute
	w := newWorld(b, cfg)
	const n = 10_000
	var sb strings.Builder
	sb.WriteString(`{"metadata": {"version": "1.0"}, "entries": [`)
	text := strings.Repeat("Walked along the water, the light was good. ", 24)
	at := time.Date(2019, 1, 1, 7, 0, 0, 0, time.UTC)
	for i := range n {
		if i > 0 {
			sb.WriteString(",\n")
		}
		fmt.Fprintf(&sb, `{"uuid": "%032X", "creationDate": "%s", "modifiedDate": "%s", "timeZone": "Europe/Berlin", "starred": false,
			"text": "# Day %d\n\n%s", "tags": ["walk", "t%d"]}`,
			i+1, at.Add(time.Duration(i)*time.Hour).Format(time.RFC3339), at.Format(time.RFC3339), i, text, i%10)
	}
	sb.WriteString("]}")
	zipBytes := buildZip(b, zipFile{name: "Journal.json", data: []byte(sb.String()), method: 8})
	b.ReportMetric(float64(len(zipBytes))/(1<<20), "zip-MiB")
	var imported time.Duration
	for b.Loop() {
		b.StopTimer()
		u := testenv.NewUser(b, w.svc, "uce")
		s := w.stage(u, "dayone", zipBytes)
		b.StartTimer()
		start := time.Now()
		if _, err := w.f.Handle(context.Background(), s.event(b)); err != nil {
			b.Fatal(err)
		}
		imported += time.Since(start)
		b.StopTimer()
		if got := w.count(`SELECT count(*) FROM entries WHERE user_id = $1`, u.ID); got != n {
			b.Fatalf("imported %d entries, want %d", got, n)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(n*b.N)/imported.Seconds(), "entries/s")
}
