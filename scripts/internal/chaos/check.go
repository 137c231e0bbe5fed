package main

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// Operation classes, as the table's recovery and the records name them.
const (
	opLogin    = "auth.login"
	opSignup   = "auth.signup"
	opCreate   = "entries.create"
	opUpdate   = "entries.update"
	opGet      = "entries.get"
	opFeed     = "entries.feed"
	opUpload   = "media.upload"
	opComplete = "media.complete"
	opDownload = "media.download"
	// The presigned requests a client sends straight to S3: not the API's, so neither
	// the fail-open nor the contract check counts them, but they fail while S3 is down.
	opS3Put = "s3.put"
	opS3Get = "s3.get"
)

// direct reports a request that went straight to S3, not to the API.
func (r request) direct() bool { return strings.HasPrefix(r.op, "s3.") }

// request is one API request a client sent: its class, when it started and ended, and
// what came back (status 0: no answer, a transport error or the client's timeout).
type request struct {
	client     int // the client that sent it
	op         string
	start, end time.Time
	status     int
	retryAfter bool
	// For the trace: how long a new connection took to set up (0: one was reused), and
	// the time to the first byte of the answer.
	connect, wait time.Duration
}

// ok reports a 2xx.
func (r request) ok() bool { return r.status >= 200 && r.status < 300 }

// failed reports an answer that says the service could not serve: no answer, a 5xx, a
// 401 (a session lost with Redis) or a 429.
func (r request) failed() bool {
	return r.status == 0 || r.status >= 500 || r.status == 401 || r.status == 429
}

// body is what a write sent: a uce entry's title and content, or an e2e entry's
// ciphertext (base64, as sent).
type body struct {
	Title      string `json:"title,omitempty"`
	Content    string `json:"content,omitempty"`
	Ciphertext string `json:"ciphertext,omitempty"`
}

// ack is a write the API acknowledged with a 2xx: the entry, the version it answered,
// the body sent and the ETag.
type ack struct {
	user    string
	entryID string
	version int
	etag    string
	sent    body
	// at is when the acknowledgement arrived: the phase the write counts in (its event is
	// emitted just before the answer, so a write that straddles a fault's start counts
	// where its event went).
	at time.Time
}

// entryState is what a client knows of an entry at the end: the version and body it
// last saw acknowledged (or found applied), and the body of a write whose outcome it
// never learnt, if any (that write may have been applied as version+1).
type entryState struct {
	user    string
	version int
	body    body
	pending *body
}

// observed is what the verification read back of an entry.
type observed struct {
	found    bool
	version  int
	body     body
	history  []int // the versions its history lists
	inFeed   bool  // the sync feed holds it
	feedVers int   // at this version
}

// tapEvent is one entry.changed line of the Broker tap, reduced to what is checked.
type tapEvent struct {
	id      string
	entryID string
	version int
}

// phase is one stretch of the run: the baseline before any fault, then each fault from
// its injection to the next one's. The fault itself lasts from start to faultEnd;
// closedFrom..closedTo is, for the Redis stop, the window in which Redis was confirmed
// down and every authenticated request must fail closed.
type phase struct {
	name                 string
	start, faultEnd, end time.Time
	closedFrom, closedTo time.Time
}

func (p phase) holds(t time.Time) bool { return !t.Before(p.start) && t.Before(p.end) }

// row is the table's line for one phase.
type row struct {
	phase       string
	requests    int
	ok          int
	unavailable int            // 503 with Retry-After
	other       map[string]int // every other non-2xx, by status ("conn" for no answer)
	recovered   bool
	recover     time.Duration // from the fault's end to the first 2xx of each affected class
	affected    bool          // some request failed during the fault
	lost        int           // acknowledged writes lost or changed
	eventsLost  int           // acknowledged writes without an entry.changed
	eventsTwice int           // acknowledged writes with two or more distinct event ids
	redelivered int           // raw repeats of one event id (legitimate: at least once)
	failOpen    int           // 2xx answered while Redis was down
	badReads    int           // reads during the run that did not return what was acknowledged
	p99         time.Duration // of the API's 2xx answers
}

// failures counts what must be zero.
func (r row) failures() int {
	return r.lost + r.eventsLost + r.eventsTwice + r.failOpen + r.badReads + r.contract()
}

// contract counts the answers that break the API's contract under a fault: a 5xx other
// than 503, or a 503 without Retry-After.
func (r row) contract() int {
	n := 0
	for k, v := range r.other {
		if s, err := strconv.Atoi(k); err == nil && s >= 500 {
			n += v
		} else if k == "503 no Retry-After" {
			n += v
		}
	}
	return n
}

// verdict is the checker's result for one acknowledged write.
type verdict struct {
	lost        bool
	eventIDs    int // distinct entry.changed ids for its (entry, version)
	eventCopies int // raw lines for them
}

// checkWrites decides, for each acknowledged write, whether it survived and how its event
// was delivered. A write is lost when its entry cannot be read, its version is missing
// from the entry's history, the sync feed lacks the entry or holds it at an older
// version, or (for the entry's last known write) the entry reads back other than sent,
// unless it reads as the one write whose outcome the client never learnt.
func checkWrites(acks []ack, final map[string]entryState, seen map[string]observed, events []tapEvent) []verdict {
	type key struct {
		entry   string
		version int
	}
	ids := map[key]map[string]int{}
	for _, e := range events {
		k := key{e.entryID, e.version}
		if ids[k] == nil {
			ids[k] = map[string]int{}
		}
		ids[k][e.id]++
	}
	out := make([]verdict, len(acks))
	for i, a := range acks {
		v := &out[i]
		for _, n := range ids[key{a.entryID, a.version}] {
			v.eventIDs++
			v.eventCopies += n
		}
		o, ok := seen[a.entryID]
		switch {
		case !ok || !o.found:
			v.lost = true
		case o.version < a.version || !slices.Contains(o.history, a.version):
			v.lost = true
		case !o.inFeed || o.feedVers < a.version:
			v.lost = true
		}
		st, known := final[a.entryID]
		if v.lost || !known || st.version != a.version {
			continue // an earlier write: its version is in the history, later ones replaced it
		}
		switch {
		case o.version == st.version && o.body == st.body:
		case st.pending != nil && o.version == st.version+1 && o.body == *st.pending:
		default:
			v.lost = true
		}
	}
	return out
}

// buildRows tallies the requests, the verdicts and the bad reads into one row per phase.
func buildRows(phases []phase, reqs []request, acks []ack, verdicts []verdict, badReads []time.Time) []row {
	rows := make([]row, len(phases))
	for i, p := range phases {
		rows[i] = row{phase: p.name, other: map[string]int{}, recovered: true}
	}
	at := func(t time.Time) int {
		for i, p := range phases {
			if p.holds(t) {
				return i
			}
		}
		return -1
	}
	for _, r := range reqs {
		// A request counts where its answer came, as a write does: one sent just before a
		// fault and cut by it is the fault's.
		i := at(r.end)
		if i < 0 {
			continue
		}
		w := &rows[i]
		w.requests++
		switch {
		case r.ok():
			w.ok++
		case r.direct() && r.status == 0:
			w.other["S3 conn"]++
		case r.direct():
			w.other["S3 "+strconv.Itoa(r.status)]++
		case r.status == 503 && r.retryAfter:
			w.unavailable++
		case r.status == 503:
			w.other["503 no Retry-After"]++
		case r.status == 0:
			w.other["conn"]++
		default:
			w.other[strconv.Itoa(r.status)]++
		}
		p := phases[i]
		if r.ok() && !r.direct() && !p.closedFrom.IsZero() && !r.start.Before(p.closedFrom) && !r.end.After(p.closedTo) {
			w.failOpen++
		}
	}
	lat := make([][]time.Duration, len(phases))
	for _, r := range reqs {
		if i := at(r.end); i >= 0 && r.ok() && !r.direct() {
			lat[i] = append(lat[i], r.end.Sub(r.start))
		}
	}
	for i, l := range lat {
		if len(l) > 0 {
			slices.Sort(l)
			rows[i].p99 = l[(len(l)*99+99)/100-1]
		}
	}
	for i, a := range acks {
		j := at(a.at)
		if j < 0 {
			continue
		}
		v := verdicts[i]
		if v.lost {
			rows[j].lost++
		}
		switch {
		case v.eventIDs == 0:
			rows[j].eventsLost++
		case v.eventIDs > 1:
			rows[j].eventsTwice++
		}
		rows[j].redelivered += v.eventCopies - v.eventIDs
	}
	for _, t := range badReads {
		if j := at(t); j >= 0 {
			rows[j].badReads++
		}
	}
	for i, p := range phases {
		if p.faultEnd.IsZero() {
			continue
		}
		rows[i].recover, rows[i].recovered, rows[i].affected = recovery(p, reqs)
	}
	return rows
}

// recovery measures how long after the fault's end the service answered again: for each
// client and class of request that failed during the fault, the end of the client's first
// 2xx of that class sent after the fault ended (a login it needed first included); the
// longest of them. Every client counts,
// so one user still waiting for a login is not hidden by others served. Not recovered when
// some client never had that 2xx before the run ended.
func recovery(p phase, reqs []request) (time.Duration, bool, bool) {
	type key struct {
		client int
		op     string
	}
	hit := map[key]bool{}
	for _, r := range reqs {
		during := !r.end.Before(p.start) && !r.start.After(p.faultEnd)
		// A login is the user's, sent by whichever of its clients needed it first: its time
		// is in the client's next 2xx, not a class of its own.
		if during && r.failed() && r.op != opLogin && r.op != opSignup {
			hit[key{r.client, r.op}] = true
		}
	}
	if len(hit) == 0 {
		return 0, true, false
	}
	first := map[key]time.Time{}
	for _, r := range reqs {
		k := key{r.client, r.op}
		if !hit[k] || !r.ok() || r.start.Before(p.faultEnd) {
			continue
		}
		if t, ok := first[k]; !ok || r.end.Before(t) {
			first[k] = r.end
		}
	}
	var worst time.Duration
	for k := range hit {
		t, ok := first[k]
		if !ok {
			return 0, false, true
		}
		worst = max(worst, t.Sub(p.faultEnd))
	}
	return worst, true, true
}
