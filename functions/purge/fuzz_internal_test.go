package purge

import (
	"testing"
	"time"

	"github.com/xmojo/diary/eventing"
	"github.com/xmojo/diary/eventing/eventingtest"
)

// FuzzEvent feeds purge events of any type, content type and data. What decode refuses,
// handle acknowledges; so does an account.deleted
// whose user id is no id in its canonical form, which purge takes for an account that is
// gone. Both happen before any query: this purge has no database, so a query would panic.
func FuzzEvent(f *testing.F) {
	eventingtest.Add(f, eventing.TypeAccountDeleted, "application/json", `{"user_id":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","job_id":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c"}`)
	eventingtest.Add(f, eventing.TypeAccountDeleted, "application/json", `{"user_id":"urn:uuid:0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"}`)
	eventingtest.Add(f, eventing.TypeAccountDeleted, "application/json", `{"user_id":"0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B"}`)
	eventingtest.Add(f, eventing.TypeAccountDeleted, "application/json", `{"user_id":"alice","job_id":1}`)
	eventingtest.Add(f, eventing.TypeAccountDeleted, "application/json", `null`)
	eventingtest.Add(f, eventing.TypeAccountDeleted, "text/plain", `hello`)
	eventingtest.Add(f, eventing.TypePing, "application/json", `{"job":"cleanup"}`)
	eventingtest.Add(f, eventing.TypePing, "application/json", `{"job":"facebook-sync"}`)
	eventingtest.Add(f, "dev.diary.entry.changed", "application/json", `{}`)
	fn := &Function{cfg: Config{Timeout: time.Minute}, logger: eventingtest.Discard()}
	f.Fuzz(func(t *testing.T, typ, contentType string, data []byte) {
		ev, ok := eventingtest.Event(typ, contentType, data)
		if !ok {
			return
		}
		req, err := decode(ev)
		switch {
		case err == nil && req.sweep:
			if ev.Type() != eventing.TypePing {
				t.Fatalf("decode(%s) asked for a sweep", ev.Type())
			}
			return
		case err == nil && eventing.ValidID(req.account.UserID):
			if ev.Type() != eventing.TypeAccountDeleted {
				t.Fatalf("decode(%s) asked for a purge", ev.Type())
			}
			return
		}
		eventingtest.WantAcknowledged(t, fn.handle, ev)
	})
}
