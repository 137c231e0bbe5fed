package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ledger collects what the clients were told: acknowledged writes, what each client
// finally knows of its entries, reads that came back wrong, and media that reached ready.
type ledger struct {
	mu       sync.Mutex
	acks     []ack
	final    map[string]entryState
	badReads []time.Time
	badWhy   []string
	media    map[string]mediaAck // acknowledged ready, by media id
	applied  int                 // writes the API did not acknowledge but applied
	s3OK     int                 // presigned PUTs and GETs that S3 took
	s3Failed int
}

// mediaAck is a media the API said is ready: its owner and checksum.
type mediaAck struct{ user, sha string }

func newLedger() *ledger {
	return &ledger{final: map[string]entryState{}, media: map[string]mediaAck{}}
}

func (l *ledger) ack(a ack) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.acks = append(l.acks, a)
}

func (l *ledger) setFinal(id string, st entryState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.final[id] = st
}

func (l *ledger) badRead(at time.Time, why string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.badReads = append(l.badReads, at)
	l.badWhy = append(l.badWhy, why)
}

func (l *ledger) s3(ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ok {
		l.s3OK++
	} else {
		l.s3Failed++
	}
}

// entryView is an entry as the API answers it (both tiers).
type entryView struct {
	ID         string  `json:"id"`
	Version    int     `json:"version"`
	Title      *string `json:"title"`
	Content    *string `json:"content"`
	Ciphertext *string `json:"ciphertext"`
}

func (e entryView) body() body {
	var b body
	if e.Title != nil {
		b.Title = *e.Title
	}
	if e.Content != nil {
		b.Content = *e.Content
	}
	if e.Ciphertext != nil {
		b.Ciphertext = *e.Ciphertext
	}
	return b
}

// ownEntry is an entry one client created; only that client writes it.
type ownEntry struct {
	id      string
	version int
	body    body
	// unsure: the last write's outcome is unknown (no answer, or an error that does not
	// say nothing was written); pending is that write's body. The next step on the entry
	// reads it back to find out.
	unsure  bool
	pending *body
}

// pendingCreate is a create that got no acknowledgement: retried with the same
// Idempotency-Key and body, so that it is written once or not at all.
type pendingCreate struct {
	key   string
	sent  body
	since time.Time
}

// giveUp is how long a client retries a create or a media upload before it drops it.
const giveUp = 2 * time.Minute

// pendingMedia is a media upload in progress, resumed at its stage after a failure.
type pendingMedia struct {
	id, sha, url string
	data         []byte
	headers      map[string]string
	stage        int // 0 declare, 1 PUT to S3, 2 complete, 3 download URL, 4 GET from S3
	since        time.Time
}

// client is one simulated device of a user: it creates, updates and reads its own
// entries, follows the sync feed and uploads and downloads media, as fast as the API
// lets it, with a short pause after every failure.
type client struct {
	id      int
	user    *user
	s3      *http.Client
	led     *ledger
	entries []*ownEntry
	create  *pendingCreate
	media   *pendingMedia
	cursor  string
	// again is a read that failed, sent again before anything else, as a client retries
	// what it could not load.
	again   func(context.Context) bool
	backoff time.Duration
	think   time.Duration
	maxReqs int
	rec     *recorder
}

// run loops until ctx ends (or the request bound is reached), then records what the
// client knows of its entries.
func (c *client) run(ctx context.Context) {
	ctx = withClient(ctx, c.id)
	defer func() {
		for _, e := range c.entries {
			st := entryState{user: c.user.Email, version: e.version, body: e.body}
			if e.unsure && e.pending != nil {
				p := *e.pending
				st.pending = &p
			}
			c.led.setFinal(e.id, st)
		}
	}()
	for ctx.Err() == nil && c.rec.count() < c.maxReqs {
		ok := c.step(ctx)
		pause := c.think
		if !ok {
			pause = c.backoff
		}
		select {
		case <-ctx.Done():
		case <-time.After(pause):
		}
	}
}

// step runs one operation and reports whether it went through.
func (c *client) step(ctx context.Context) bool {
	for _, e := range c.entries {
		if e.unsure {
			return c.resolve(ctx, e)
		}
	}
	if c.create != nil {
		return c.doCreate(ctx)
	}
	if c.media != nil {
		return c.doMedia(ctx)
	}
	if c.again != nil {
		again := c.again
		c.again = nil
		return c.retryRead(ctx, again)
	}
	if len(c.entries) == 0 {
		return c.doCreate(ctx)
	}
	switch n := randInt(100); {
	case n < 25:
		return c.doCreate(ctx)
	case n < 50:
		return c.doUpdate(ctx, c.entries[randInt(len(c.entries))])
	case n < 80:
		e := c.entries[randInt(len(c.entries))]
		return c.retryRead(ctx, func(ctx context.Context) bool { return c.doRead(ctx, e) })
	case n < 92:
		return c.retryRead(ctx, c.doFeed)
	default:
		return c.doMedia(ctx)
	}
}

// retryRead runs read and keeps it as the next step when it failed.
func (c *client) retryRead(ctx context.Context, read func(context.Context) bool) bool {
	if read(ctx) {
		return true
	}
	c.again = read
	return false
}

// send calls the API as the client's user; a 401 logs the user in again.
func (c *client) send(ctx context.Context, op, method, path string, in any, header map[string]string) (answer, error) {
	tok, gen := c.user.token()
	if tok == "" {
		if err := c.user.relogin(ctx, gen); err != nil {
			return answer{}, err
		}
		tok, gen = c.user.token()
	}
	ans, err := c.user.api.call(ctx, op, method, path, tok, in, header)
	if err == nil && ans.status == http.StatusUnauthorized {
		_ = c.user.relogin(ctx, gen)
	}
	return ans, err
}

// newBody makes a write's body: uce text, or e2e bytes the server cannot read.
func (c *client) newBody() body {
	if c.user.Tier == "e2e" {
		b := make([]byte, 64+randInt(1024))
		_, _ = rand.Read(b)
		return body{Ciphertext: base64.StdEncoding.EncodeToString(b)}
	}
	words := make([]string, 20+randInt(200))
	for i := range words {
		words[i] = randHex(1 + randInt(5))
	}
	return body{Title: "chaos " + randHex(4), Content: strings.Join(words, " ")}
}

func (c *client) doCreate(ctx context.Context) bool {
	if c.create == nil {
		c.create = &pendingCreate{key: "chaos-" + randHex(16), sent: c.newBody(), since: time.Now()}
	}
	p := c.create
	start := time.Now()
	ans, err := c.send(ctx, opCreate, http.MethodPost, "/entries", p.sent, map[string]string{"Idempotency-Key": p.key})
	if err != nil || !ans.ok() {
		if time.Since(p.since) > giveUp || (ans.status >= 400 && ans.status < 500 && ans.status != 401 && ans.status != 429 && ans.status != 409) {
			c.create = nil // given up: if it was written, nobody was told
		}
		return false
	}
	var e entryView
	if err := ans.decode(&e); err != nil || e.ID == "" {
		c.led.badRead(start, fmt.Sprintf("create answered %d without an entry", ans.status))
		c.create = nil
		return false
	}
	c.create = nil
	c.checkETag(start, e.ID, e.Version, ans)
	c.led.ack(ack{user: c.user.Email, entryID: e.ID, version: e.Version, etag: ans.header.Get("ETag"), sent: p.sent, at: time.Now()})
	if e.body() != p.sent {
		c.led.badRead(start, "create "+e.ID+" answered another body than sent")
	}
	c.entries = append(c.entries, &ownEntry{id: e.ID, version: e.Version, body: p.sent})
	return true
}

func (c *client) doUpdate(ctx context.Context, e *ownEntry) bool {
	sent := c.newBody()
	start := time.Now()
	ans, err := c.send(ctx, opUpdate, http.MethodPut, "/entries/"+e.id, sent,
		map[string]string{"If-Match": `"` + strconv.Itoa(e.version) + `"`})
	if err != nil || !ans.ok() {
		// Only a refusal before any write (a 4xx other than 412) says for sure that nothing
		// changed; anything else is read back before the entry is written again.
		if err != nil || ans.status >= 500 || ans.status == 412 || ans.status == 0 {
			e.unsure, e.pending = true, &sent
		}
		return false
	}
	var v entryView
	if err := ans.decode(&v); err != nil || v.Version != e.version+1 {
		c.led.badRead(start, fmt.Sprintf("update of %s at version %d answered version %d", e.id, e.version, v.Version))
		e.unsure, e.pending = true, &sent
		return false
	}
	c.checkETag(start, e.id, v.Version, ans)
	c.led.ack(ack{user: c.user.Email, entryID: e.id, version: v.Version, etag: ans.header.Get("ETag"), sent: sent, at: time.Now()})
	e.version, e.body = v.Version, sent
	return true
}

// checkETag counts an acknowledgement whose ETag is not the version it answered as a bad
// read: a client would send that tag as If-Match.
func (c *client) checkETag(at time.Time, id string, version int, ans answer) {
	if got := ans.header.Get("ETag"); got != `"`+strconv.Itoa(version)+`"` {
		c.led.badRead(at, fmt.Sprintf("entry %s answered version %d with ETag %s", id, version, got))
	}
}

// resolve reads back an entry whose last write's outcome is unknown: unchanged, or
// changed to exactly that write (applied without an acknowledgement); anything else is
// a bad read.
func (c *client) resolve(ctx context.Context, e *ownEntry) bool {
	start := time.Now()
	v, _, ok := c.getEntry(ctx, e)
	if !ok {
		return false
	}
	switch {
	case v.Version == e.version && v.body() == e.body:
	case e.pending != nil && v.Version == e.version+1 && v.body() == *e.pending:
		e.version, e.body = v.Version, *e.pending
		c.led.mu.Lock()
		c.led.applied++
		c.led.mu.Unlock()
	default:
		c.led.badRead(start, fmt.Sprintf("entry %s reads version %d, the client knows %d", e.id, v.Version, e.version))
		e.version, e.body = v.Version, v.body() // go on from what is there
	}
	e.unsure, e.pending = false, nil
	return true
}

// getEntry reads one of the client's entries; one that is gone is a bad read (nothing
// here deletes), after which the entry is no longer waited on.
func (c *client) getEntry(ctx context.Context, e *ownEntry) (entryView, answer, bool) {
	start := time.Now()
	ans, err := c.send(ctx, opGet, http.MethodGet, "/entries/"+e.id, nil, nil)
	var v entryView
	if err != nil || !ans.ok() {
		if ans.status == http.StatusNotFound {
			c.led.badRead(start, "entry "+e.id+" is gone")
			e.unsure = false
		}
		return v, ans, false
	}
	return v, ans, ans.decode(&v) == nil
}

func (c *client) doRead(ctx context.Context, e *ownEntry) bool {
	start := time.Now()
	v, ans, ok := c.getEntry(ctx, e)
	if !ok {
		return false
	}
	if v.Version != e.version || v.body() != e.body || ans.header.Get("ETag") != `"`+strconv.Itoa(e.version)+`"` {
		c.led.badRead(start, fmt.Sprintf("entry %s read version %d (ETag %s), acknowledged %d", e.id, v.Version, ans.header.Get("ETag"), e.version))
		e.unsure = true // read it back again, and go on from there
	}
	return true
}

func (c *client) doFeed(ctx context.Context) bool {
	ans, err := c.send(ctx, opFeed, http.MethodGet, "/entries?limit=50&updated_since="+c.cursor, nil, nil)
	if err != nil || !ans.ok() {
		return false
	}
	var page struct {
		NextCursor *string `json:"next_cursor"`
		SyncCursor *string `json:"sync_cursor"`
	}
	if err := ans.decode(&page); err != nil {
		return false
	}
	switch {
	case page.NextCursor != nil:
		c.cursor = *page.NextCursor
	case page.SyncCursor != nil:
		c.cursor = *page.SyncCursor
	}
	return true
}

// doMedia advances the client's media upload by one stage: declare it (the presigned
// PUT), PUT the bytes to S3, complete it, ask for the download URL, GET the bytes back.
func (c *client) doMedia(ctx context.Context) bool {
	if c.media == nil {
		data := make([]byte, 256+randInt(4096))
		_, _ = rand.Read(data)
		sum := sha256.Sum256(data)
		c.media = &pendingMedia{data: data, sha: hex.EncodeToString(sum[:]), since: time.Now()}
	}
	m := c.media
	if time.Since(m.since) > giveUp {
		c.media = nil
		return false
	}
	switch m.stage {
	case 0:
		ans, err := c.send(ctx, opUpload, http.MethodPost, "/media/upload", map[string]any{
			"filename": "chaos.png", "content_type": "image/png", "size_bytes": len(m.data), "sha256": m.sha}, nil)
		if err != nil || !ans.ok() {
			return false
		}
		var up struct {
			Media struct {
				ID string `json:"id"`
			} `json:"media"`
			Upload *struct {
				URL     string            `json:"url"`
				Headers map[string]string `json:"headers"`
			} `json:"upload"`
		}
		if err := ans.decode(&up); err != nil || up.Upload == nil {
			c.media = nil
			return false
		}
		m.id, m.url, m.headers, m.stage = up.Media.ID, up.Upload.URL, up.Upload.Headers, 1
	case 1:
		if !c.s3Do(ctx, http.MethodPut, m.url, m.headers, m.data) {
			return false
		}
		m.stage = 2
	case 2:
		ans, err := c.send(ctx, opComplete, http.MethodPost, "/media/"+m.id+"/complete", nil, nil)
		if err != nil || !ans.ok() {
			return false
		}
		c.led.mu.Lock()
		c.led.media[m.id] = mediaAck{user: c.user.Email, sha: m.sha}
		c.led.mu.Unlock()
		m.stage = 3
	case 3:
		ans, err := c.send(ctx, opDownload, http.MethodGet, "/media/"+m.id+"/download", nil, nil)
		if err != nil || !ans.ok() {
			return false
		}
		var d struct {
			URL string `json:"url"`
		}
		if err := ans.decode(&d); err != nil {
			return false
		}
		m.url, m.stage = d.URL, 4
	case 4:
		if !c.s3Do(ctx, http.MethodGet, m.url, nil, m.data) {
			return false
		}
		c.media = nil
	}
	return true
}

// s3Do sends a presigned request straight to S3 (loopback only, like everything here):
// a PUT of data, or a GET whose bytes must be data.
func (c *client) s3Do(ctx context.Context, method, url string, header map[string]string, data []byte) bool {
	if err := checkLoopbackURL(url); err != nil {
		c.led.badRead(time.Now(), "presigned URL: "+err.Error())
		c.media = nil
		return false
	}
	var rd io.Reader
	if method == http.MethodPut {
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return false
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if method == http.MethodPut {
		req.ContentLength = int64(len(data))
	}
	op := opS3Get
	if method == http.MethodPut {
		op = opS3Put
	}
	start := time.Now()
	resp, err := c.s3.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			c.rec.add(request{client: c.id, op: op, start: start, end: time.Now()})
		}
		c.led.s3(false)
		return false
	}
	got, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	ok := err == nil && resp.StatusCode == http.StatusOK
	status := resp.StatusCode
	if err != nil {
		status = 0
	}
	if ctx.Err() == nil {
		c.rec.add(request{client: c.id, op: op, start: start, end: time.Now(), status: status})
	}
	if ok && method == http.MethodGet && !bytes.Equal(got, data) {
		c.led.badRead(time.Now(), "media bytes read back differ")
	}
	c.led.s3(ok)
	return ok
}

func randInt(n int) int {
	v, _ := rand.Int(rand.Reader, big.NewInt(int64(n)))
	return int(v.Int64())
}
