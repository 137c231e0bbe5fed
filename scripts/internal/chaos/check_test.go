package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

// TestCheckWrites: each way an acknowledged write can be lost or its event go wrong is
// caught, and what is legitimate (an earlier version replaced by a later one, a write
// applied without an acknowledgement, a raw redelivery) is not.
func TestCheckWrites(t *testing.T) {
	b1, b2, b3 := body{Content: "one"}, body{Content: "two"}, body{Ciphertext: "AAEC"}
	ok := func(version int, b body) observed {
		o := observed{found: true, version: version, body: b, inFeed: true, feedVers: version}
		for v := 1; v <= version; v++ {
			o.history = append(o.history, v)
		}
		return o
	}
	tests := []struct {
		name   string
		acks   []ack
		final  map[string]entryState
		seen   map[string]observed
		events []tapEvent
		want   []verdict
	}{
		{
			name:   "created then updated, both kept, one event each",
			acks:   []ack{{entryID: "e", version: 1, sent: b1}, {entryID: "e", version: 2, sent: b2}},
			final:  map[string]entryState{"e": {version: 2, body: b2}},
			seen:   map[string]observed{"e": ok(2, b2)},
			events: []tapEvent{{"x1", "e", 1}, {"x2", "e", 2}},
			want:   []verdict{{eventIDs: 1, eventCopies: 1}, {eventIDs: 1, eventCopies: 1}},
		},
		{
			name:  "entry gone",
			acks:  []ack{{entryID: "e", version: 1, sent: b1}},
			final: map[string]entryState{"e": {version: 1, body: b1}},
			seen:  map[string]observed{"e": {}},
			want:  []verdict{{lost: true}},
		},
		{
			name:  "back at an older version",
			acks:  []ack{{entryID: "e", version: 1, sent: b1}, {entryID: "e", version: 2, sent: b2}},
			final: map[string]entryState{"e": {version: 2, body: b2}},
			seen:  map[string]observed{"e": ok(1, b1)},
			want:  []verdict{{}, {lost: true}},
		},
		{
			name:  "e2e ciphertext changed",
			acks:  []ack{{entryID: "e", version: 1, sent: b3}},
			final: map[string]entryState{"e": {version: 1, body: b3}},
			seen:  map[string]observed{"e": ok(1, body{Ciphertext: "AAED"})},
			want:  []verdict{{lost: true}},
		},
		{
			name:  "version missing from the history",
			acks:  []ack{{entryID: "e", version: 1, sent: b1}, {entryID: "e", version: 2, sent: b2}},
			final: map[string]entryState{"e": {version: 2, body: b2}},
			seen: map[string]observed{"e": {found: true, version: 2, body: b2, history: []int{2},
				inFeed: true, feedVers: 2}},
			want: []verdict{{lost: true}, {}},
		},
		{
			name:  "not in the sync feed",
			acks:  []ack{{entryID: "e", version: 1, sent: b1}},
			final: map[string]entryState{"e": {version: 1, body: b1}},
			seen:  map[string]observed{"e": {found: true, version: 1, body: b1, history: []int{1}}},
			want:  []verdict{{lost: true}},
		},
		{
			name:  "applied without an acknowledgement after the last one",
			acks:  []ack{{entryID: "e", version: 1, sent: b1}},
			final: map[string]entryState{"e": {version: 1, body: b1, pending: &b2}},
			seen:  map[string]observed{"e": ok(2, b2)},
			want:  []verdict{{}},
		},
		{
			name:  "a newer version with a body nobody sent",
			acks:  []ack{{entryID: "e", version: 1, sent: b1}},
			final: map[string]entryState{"e": {version: 1, body: b1, pending: &b2}},
			seen:  map[string]observed{"e": ok(2, b3)},
			want:  []verdict{{lost: true}},
		},
		{
			name:   "events: none, two distinct ids, one id twice",
			acks:   []ack{{entryID: "a", version: 1, sent: b1}, {entryID: "b", version: 1, sent: b1}, {entryID: "c", version: 1, sent: b1}},
			final:  map[string]entryState{"a": {version: 1, body: b1}, "b": {version: 1, body: b1}, "c": {version: 1, body: b1}},
			seen:   map[string]observed{"a": ok(1, b1), "b": ok(1, b1), "c": ok(1, b1)},
			events: []tapEvent{{"b1", "b", 1}, {"b2", "b", 1}, {"c1", "c", 1}, {"c1", "c", 1}, {"a9", "a", 2}},
			want:   []verdict{{}, {eventIDs: 2, eventCopies: 2}, {eventIDs: 1, eventCopies: 2}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := checkWrites(tt.acks, tt.final, tt.seen, tt.events)
			for i := range tt.want {
				if got[i] != tt.want[i] {
					t.Errorf("checkWrites() [%d] = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// TestBuildRows: requests and verdicts land in the phase they belong to, 503s without
// Retry-After and other statuses are kept apart, a 2xx inside the Redis window is a
// fail-open, and recovery is measured from the fault's end.
func TestBuildRows(t *testing.T) {
	phases := []phase{
		{name: phaseBaseline, start: at(0), end: at(10)},
		{name: faultRedis, start: at(10), faultEnd: at(20), end: at(30), closedFrom: at(11), closedTo: at(19)},
		{name: faultS3, start: at(30), faultEnd: at(40), end: at(50)},
	}
	reqs := []request{
		{op: opGet, start: at(1), end: at(1.1), status: 200},
		{op: opGet, start: at(9.9), end: at(10.2), status: 503, retryAfter: true}, // cut by the fault: the fault's
		{op: opGet, start: at(10.5), end: at(10.6), status: 200},                  // before Redis was confirmed down
		{op: opGet, start: at(12), end: at(12.1), status: 503, retryAfter: true},
		{op: opCreate, start: at(13), end: at(13.1), status: 503},
		{op: opCreate, start: at(14), end: at(14.1), status: 200}, // fail-open
		{op: opGet, start: at(15), end: at(15.1), status: 0},
		{op: opS3Get, start: at(16), end: at(16.1), status: 200}, // S3, not the API: no fail-open
		{op: opGet, start: at(20.5), end: at(20.6), status: 401},
		{op: opGet, start: at(21), end: at(23), status: 200},
		{op: opCreate, start: at(22), end: at(25), status: 201},
		{op: opComplete, start: at(35), end: at(35.1), status: 503, retryAfter: true},
		{op: opS3Put, start: at(35.5), end: at(35.6)},
		{op: opS3Put, start: at(41), end: at(41.1), status: 200},
		{op: opGet, start: at(36), end: at(36.1), status: 200},
		// media.complete never succeeds again: not recovered
	}
	acks := []ack{{entryID: "a", at: at(5)}, {entryID: "b", at: at(12)}, {entryID: "c", at: at(33)}}
	verdicts := []verdict{{eventIDs: 1, eventCopies: 3}, {lost: true}, {eventIDs: 2, eventCopies: 2}}
	rows := buildRows(phases, reqs, acks, verdicts, []time.Time{at(31)})

	base, redis, s3 := rows[0], rows[1], rows[2]
	if base.requests != 1 || base.ok != 1 || base.redelivered != 2 || base.failures() != 0 {
		t.Errorf("baseline = %+v, want 1 request, 1 ok, 2 redelivered, no failure", base)
	}
	if redis.requests != 10 || redis.ok != 5 || redis.unavailable != 2 || redis.failOpen != 1 ||
		redis.other["503 no Retry-After"] != 1 || redis.other["conn"] != 1 || redis.other["401"] != 1 {
		t.Errorf("redis row = %+v", redis)
	}
	if redis.lost != 1 || redis.eventsLost != 1 {
		t.Errorf("redis row lost %d, events lost %d; want 1 and 1", redis.lost, redis.eventsLost)
	}
	if redis.p99 != 3*time.Second { // the slowest of 5 API 2xx: the create from 22 to 25
		t.Errorf("redis p99 = %v, want 3s", redis.p99)
	}
	if !redis.recovered || !redis.affected || redis.recover != 5*time.Second {
		t.Errorf("redis recovery = %v %v %v, want 5s (the create's first 2xx after the fault)", redis.recover, redis.recovered, redis.affected)
	}
	if s3.recovered || s3.eventsTwice != 1 || s3.badReads != 1 || s3.other["S3 conn"] != 1 || s3.contract() != 0 {
		t.Errorf("s3 row = %+v, want not recovered, 1 doubled event, 1 bad read", s3)
	}
	// fail-open 1, bad read 0, 503 without Retry-After 1, lost 1, events lost 1.
	if got := redis.failures(); got != 4 {
		t.Errorf("redis failures() = %d, want 4", got)
	}
}

func TestRecoveryUnaffected(t *testing.T) {
	p := phase{name: faultBroker, start: at(0), faultEnd: at(10), end: at(20)}
	d, recovered, affected := recovery(p, []request{{op: opGet, start: at(1), end: at(2), status: 200}})
	if d != 0 || !recovered || affected {
		t.Errorf("recovery() = %v %v %v, want 0 true false", d, recovered, affected)
	}
}

func TestWriteTable(t *testing.T) {
	rows := []row{
		{phase: phaseBaseline, requests: 10, ok: 10, other: map[string]int{}, recovered: true},
		{phase: faultRedis, requests: 5, ok: 1, unavailable: 2, other: map[string]int{"401": 1, "conn": 1},
			recovered: true, affected: true, recover: 1234 * time.Millisecond, failOpen: 1},
		{phase: faultS3, requests: 4, ok: 4, other: map[string]int{}, recovered: false, affected: true},
	}
	var b bytes.Buffer
	writeTable(&b, rows)
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 6 {
		t.Fatalf("table has %d lines, want header, rule, 3 rows, total:\n%s", len(lines), b.String())
	}
	for _, want := range []struct {
		line int
		has  []string
	}{
		{2, []string{"| baseline ", " 10 ", " - "}},
		{3, []string{"| redis-stop ", " 401: 1, conn: 1 ", " 1.23s "}},
		{4, []string{"NOT RECOVERED"}},
		{5, []string{"| total ", " 19 ", " 15 "}},
	} {
		for _, s := range want.has {
			if !strings.Contains(lines[want.line], s) {
				t.Errorf("line %d = %q, want it to hold %q", want.line, lines[want.line], s)
			}
		}
	}
	if n := strings.Count(lines[0], "|"); n != len(tableHeader)+1 || strings.Count(lines[3], "|") != n {
		t.Errorf("columns differ between header and rows:\n%s", b.String())
	}
}

func TestParseTap(t *testing.T) {
	tap := `{"id":"1","type":"com.xmojo.diary.entry.changed","source":"/diary/entries","subject":"e","data":{"user_id":"u","entry_id":"e","change":"created","version":1}}
{"id":"2","type":"com.xmojo.diary.search.reindex.requested","source":"/diary/search","data":{"user_id":"u"}}
{"id":"3","type":"com.xmojo.diary.entry.changed","source":"/diary/entries","data":{"entry_id":"e","version":2}}
{"id":"4","type":"com.xmojo.diary.entry.cha`
	got, err := parseTap(strings.NewReader(tap))
	if err != nil {
		t.Fatal(err)
	}
	want := []tapEvent{{"1", "e", 1}, {"3", "e", 2}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("parseTap() = %+v, want %+v (entry.changed only, a cut line skipped)", got, want)
	}
}

func TestCheckLoopbackURL(t *testing.T) {
	for _, tt := range []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:8080/api/v1", true},
		{"http://127.0.0.2:8080/api/v1", true},
		{"http://[::1]:8080/api/v1", true},
		{"http://localhost:8080/api/v1", true},
		{"http://192.168.1.10:8080/api/v1", false},
		{"http://example.com/api/v1", false},
		{"http://127.0.0.1.example.com/", false},
		{"ftp://127.0.0.1/", false},
	} {
		if err := checkLoopbackURL(tt.url); (err == nil) != tt.ok {
			t.Errorf("checkLoopbackURL(%q) = %v, want ok %v", tt.url, err, tt.ok)
		}
	}
}

func TestConfigGap(t *testing.T) {
	c := config{duration: 60 * time.Second, fault: 10 * time.Second, faults: allFaults}
	if g, err := c.gap(); err != nil || g != 6*time.Second {
		t.Errorf("gap() = %v, %v; want 6s", g, err)
	}
	c.duration = 40 * time.Second
	if _, err := c.gap(); err == nil {
		t.Errorf("gap() for 40s = nil error, want too short")
	}
}

func TestReadEnv(t *testing.T) {
	f := filepath.Join(t.TempDir(), "env")
	if err := os.WriteFile(f, []byte("# comment\nREDIS_URL=redis://127.0.0.1:1/0\nX='it'\\''s'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env, err := readEnv(f)
	if err != nil || env["REDIS_URL"] != "redis://127.0.0.1:1/0" || env["X"] != "it's" {
		t.Errorf("readEnv() = %v, %v", env, err)
	}
}

// TestRecoveryEveryClient: recovery waits for the slowest client; one that never gets a
// 2xx again means not recovered.
func TestRecoveryEveryClient(t *testing.T) {
	p := phase{name: faultRedis, start: at(0), faultEnd: at(10), end: at(30)}
	reqs := []request{
		{client: 0, op: opGet, start: at(5), end: at(5.1), status: 503, retryAfter: true},
		{client: 1, op: opGet, start: at(6), end: at(6.1), status: 503, retryAfter: true},
		{client: 0, op: opGet, start: at(10.5), end: at(11), status: 200},
		{client: 1, op: opGet, start: at(10.5), end: at(10.6), status: 401},
		{client: 1, op: opLogin, start: at(9), end: at(9.5), status: 503, retryAfter: true}, // the user logs in again later
		{client: 1, op: opGet, start: at(15), end: at(16), status: 200},
	}
	if d, recovered, _ := recovery(p, reqs); !recovered || d != 6*time.Second {
		t.Errorf("recovery() = %v %v, want 6s (client 1's first 2xx)", d, recovered)
	}
	if _, recovered, _ := recovery(p, reqs[:5]); recovered {
		t.Errorf("recovery() without client 1's 2xx = recovered, want not")
	}
}
