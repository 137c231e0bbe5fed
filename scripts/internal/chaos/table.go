package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// tableHeader names the columns of the table, a Markdown table so it goes into
// docs/benchmarks.md as printed.
var tableHeader = []string{"phase", "requests", "2xx", "2xx p99", "503 + Retry-After", "other errors",
	"recover", "writes lost", "events lost", "events doubled", "redelivered", "fail-open", "bad reads"}

// writeTable prints rows, then a total line, as a Markdown table.
func writeTable(w io.Writer, rows []row) {
	lines := [][]string{tableHeader}
	total := row{phase: "total", other: map[string]int{}, recovered: true}
	for _, r := range rows {
		lines = append(lines, cells(r, true))
		total.requests += r.requests
		total.ok += r.ok
		total.unavailable += r.unavailable
		for k, v := range r.other {
			total.other[k] += v
		}
		total.lost += r.lost
		total.eventsLost += r.eventsLost
		total.eventsTwice += r.eventsTwice
		total.redelivered += r.redelivered
		total.failOpen += r.failOpen
		total.badReads += r.badReads
	}
	lines = append(lines, cells(total, false))
	width := make([]int, len(tableHeader))
	for _, l := range lines {
		for i, c := range l {
			width[i] = max(width[i], len(c))
		}
	}
	for n, l := range lines {
		fmt.Fprint(w, "|")
		for i, c := range l {
			fmt.Fprintf(w, " %-*s |", width[i], c)
		}
		fmt.Fprintln(w)
		if n == 0 {
			fmt.Fprint(w, "|")
			for i := range l {
				fmt.Fprintf(w, "%s|", strings.Repeat("-", width[i]+2))
			}
			fmt.Fprintln(w)
		}
	}
}

// cells renders one row; withRecover is false for the total, which has no fault.
func cells(r row, withRecover bool) []string {
	rec := "-"
	if withRecover && r.phase != phaseBaseline {
		switch {
		case !r.recovered:
			rec = "NOT RECOVERED"
		case !r.affected:
			rec = "unaffected"
		default:
			rec = r.recover.Round(10 * time.Millisecond).String()
		}
	}
	p99 := "-"
	if withRecover && r.p99 > 0 {
		p99 = r.p99.Round(time.Millisecond).String()
	}
	return []string{r.phase, fmt.Sprint(r.requests), fmt.Sprint(r.ok), p99, fmt.Sprint(r.unavailable),
		otherCell(r.other), rec, fmt.Sprint(r.lost), fmt.Sprint(r.eventsLost), fmt.Sprint(r.eventsTwice),
		fmt.Sprint(r.redelivered), fmt.Sprint(r.failOpen), fmt.Sprint(r.badReads)}
}

// otherCell lists the other errors by status, most frequent first: "401: 12, conn: 3".
func otherCell(other map[string]int) string {
	if len(other) == 0 {
		return "0"
	}
	keys := make([]string, 0, len(other))
	for k := range other {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if other[keys[i]] != other[keys[j]] {
			return other[keys[i]] > other[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s: %d", k, other[k])
	}
	return strings.Join(parts, ", ")
}
