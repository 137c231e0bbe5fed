package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// row is one phase's result.
type row struct {
	target, attack         string
	opened, peakOpen       int64
	rssBefore, rssPeak     int // KiB
	rssAfter               int
	gBefore, gPeak, gAfter int
	probe                  *probeResult
	treatment              string
}

// runPhase runs one attack against t while the well-behaved client and the sampler run,
// then waits -settle for the server to recover and reads it again.
func runPhase(s settings, t *target, token, entry string, a attack) row {
	before, _ := readMemory(t.pid)
	r := row{target: t.name, attack: a.name, rssBefore: before.rss, gBefore: goroutines(t.metrics), probe: &probeResult{}}
	smp := startSampler(t.pid, t.metrics)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { probe(entry, token, s.probeInterval, stop, r.probe); close(done) }()
	var tl tally
	runAttack(a, t.addr, s.maxOpened, &tl)
	close(stop)
	<-done
	time.Sleep(s.settle)
	r.rssPeak, r.gPeak = smp.finish()
	after, _ := readMemory(t.pid)
	r.rssAfter, r.gAfter = after.rss, goroutines(t.metrics)
	r.opened, r.peakOpen = min(tl.opened.Load(), int64(s.maxOpened)), tl.peakOpen.Load()
	if a.conn == nil {
		r.opened = 0
	}
	r.treatment = describe(tl.outcomes)
	return r
}

// describe summarises the outcomes, the most frequent first, each with the median time the
// connection had lived.
func describe(outcomes map[string][]time.Duration) string {
	if len(outcomes) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(outcomes))
	for k := range outcomes {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return len(outcomes[b]) - len(outcomes[a]) })
	var parts []string
	for _, k := range keys {
		d := slices.Clone(outcomes[k])
		slices.Sort(d)
		parts = append(parts, fmt.Sprintf("%s: %d (median %.1f s)", k, len(d), d[len(d)/2].Seconds()))
	}
	return strings.Join(parts, "; ")
}

func mib(kib int) string { return fmt.Sprintf("%.0f", float64(kib)/1024) }

func gs(n int) string {
	if n < 0 {
		return "?"
	}
	return fmt.Sprint(n)
}

// printTable writes the results as a Markdown table.
func printTable(w io.Writer, rows []row) {
	fmt.Fprintln(w, "| target | attack | conns opened (peak open) | RSS MiB before / peak / after | goroutines before / peak / after | client ok | p50 ms | p99 ms | how the server treated the attackers |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
	for _, r := range rows {
		p := r.probe
		ok := "-"
		if p.total > 0 {
			ok = fmt.Sprintf("%d/%d (%.1f%%)", p.ok, p.total, 100*float64(p.ok)/float64(p.total))
		}
		if len(p.failures) > 0 {
			ok += " " + fmt.Sprint(p.failures)
		}
		fmt.Fprintf(w, "| %s | %s | %d (%d) | %s / %s / %s | %s / %s / %s | %s | %.1f | %.1f | %s |\n",
			r.target, r.attack, r.opened, r.peakOpen,
			mib(r.rssBefore), mib(r.rssPeak), mib(r.rssAfter),
			gs(r.gBefore), gs(r.gPeak), gs(r.gAfter),
			ok, p.quantile(0.5), p.quantile(0.99), r.treatment)
	}
}
