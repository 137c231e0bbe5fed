package indexer

import (
	"testing"
	"time"

	"github.com/xmojo/diary/eventing"
	"github.com/xmojo/diary/eventing/eventingtest"
)

// FuzzEvent feeds the indexer events of any type, content type and data. An accepted
// reindex names its user, job and session by canonical ids; whatever decode refuses,
// handle acknowledges before any query or session lookup: this indexer has neither, so
// reaching one would panic.
func FuzzEvent(f *testing.F) {
	const id = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
	typ := eventing.TypeSearchReindexRequested
	eventingtest.Add(f, typ, "application/json", `{"user_id":"`+id+`","job_id":"`+id+`","session_id":"`+id+`"}`)
	eventingtest.Add(f, typ, "application/json", `{"user_id":"`+id+`","job_id":"`+id+`"}`)
	eventingtest.Add(f, typ, "application/json", `{"user_id":"urn:uuid:`+id+`","job_id":"`+id+`","session_id":"`+id+`"}`)
	eventingtest.Add(f, typ, "application/json", `{"user_id":1}`)
	eventingtest.Add(f, typ, "application/cloudevents+json", `{}`)
	eventingtest.Add(f, eventing.TypePing, "application/json", `{"job":"cleanup"}`)
	fn := &Function{cfg: Config{RunTimeout: time.Minute}, logger: eventingtest.Discard()}
	f.Fuzz(func(t *testing.T, typ, contentType string, data []byte) {
		ev, ok := eventingtest.Event(typ, contentType, data)
		if !ok {
			return
		}
		req, err := decode(ev)
		if err != nil {
			eventingtest.WantAcknowledged(t, fn.handle, ev)
			return
		}
		if ev.Type() != eventing.TypeSearchReindexRequested || !eventing.ValidID(req.UserID) || !eventing.ValidID(req.JobID) || !eventing.ValidID(req.SessionID) {
			t.Fatalf("decode(%s %q) accepted %+v", ev.Type(), data, req)
		}
	})
}
