package importer

import (
	"testing"
	"time"

	"github.com/xmojo/diary/eventing"
	"github.com/xmojo/diary/eventing/eventingtest"
)

// FuzzEvent feeds the importer events of any type, content type and data. An accepted
// import.requested names its user, import and job by canonical ids; whatever decode
// refuses, handle acknowledges before any query: this importer has no database, so
// reaching one would panic.
func FuzzEvent(f *testing.F) {
	const id = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
	typ := eventing.TypeImportRequested
	eventingtest.Add(f, typ, "application/json", `{"user_id":"`+id+`","import_id":"`+id+`","job_id":"`+id+`"}`)
	eventingtest.Add(f, typ, "application/json", `{"user_id":"`+id+`","import_id":"`+id+`"}`)
	eventingtest.Add(f, typ, "application/json", `{"user_id":"{`+id+`}","import_id":"`+id+`","job_id":"`+id+`"}`)
	eventingtest.Add(f, typ, "text/xml", `<user_id/>`)
	eventingtest.Add(f, eventing.TypeAccountDeleted, "application/json", `{"user_id":"`+id+`"}`)
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
		if ev.Type() != eventing.TypeImportRequested || !eventing.ValidID(req.UserID) || !eventing.ValidID(req.ImportID) || !eventing.ValidID(req.JobID) {
			t.Fatalf("decode(%s %q) accepted %+v", ev.Type(), data, req)
		}
	})
}
