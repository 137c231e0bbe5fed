package purge

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/xmojo/diary/eventing"
)

// FuzzEvent feeds purge events of any type, content type and data. What decode refuses,
// handle acknowledges (nil: the Broker does not retry garbage); so does an account.deleted
// whose user id is no id in its canonical form, which purge takes for an account that is
// gone. Both happen before any query: this purge has no database, so a query would panic.
func FuzzEvent(f *testing.F) {
	for _, s := range []struct{ typ, ct, data string }{
		{eventing.TypeAccountDeleted, "application/json", `{"user_id":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","job_id":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c"}`},
		{eventing.TypeAccountDeleted, "application/json", `{"user_id":"urn:uuid:0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"}`},
		{eventing.TypeAccountDeleted, "application/json", `{"user_id":"0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B"}`},
		{eventing.TypeAccountDeleted, "application/json", `{"user_id":"alice","job_id":1}`},
		{eventing.TypeAccountDeleted, "application/json", `null`},
		{eventing.TypeAccountDeleted, "text/plain", `hello`},
		{eventing.TypePing, "application/json", `{"job":"cleanup"}`},
		{eventing.TypePing, "application/json", `{"job":"facebook-sync"}`},
		{"dev.diary.entry.changed", "application/json", `{}`},
	} {
		f.Add(s.typ, s.ct, []byte(s.data))
	}
	fn := &Function{cfg: Config{Timeout: time.Minute}, logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	f.Fuzz(func(t *testing.T, typ, contentType string, data []byte) {
		ev := event.New()
		ev.SetID("fuzz-1")
		ev.SetSource("/fuzz")
		ev.SetType(typ)
		if err := ev.SetData(contentType, data); err != nil {
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
		if got := fn.handle(t.Context(), ev); got != nil {
			t.Fatalf("handle(%s %q) = %v, want nil (acknowledged)", ev.Type(), data, got)
		}
	})
}
