package importer

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/xmojo/diary/eventing"
)

// FuzzEvent feeds the importer events of any type, content type and data. An accepted
// import.requested names its user, import and job by canonical ids; whatever decode
// refuses, handle acknowledges (nil: the Broker does not retry garbage) before any query:
// this importer has no database, so reaching one would panic.
func FuzzEvent(f *testing.F) {
	const id = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
	for _, s := range []struct{ typ, ct, data string }{
		{eventing.TypeImportRequested, "application/json", `{"user_id":"` + id + `","job_id":"` + id + `","import_id":"` + id + `"}`},
		{eventing.TypeImportRequested, "application/json", `{"user_id":"` + id + `","job_id":"` + id + `"}`},
		{eventing.TypeImportRequested, "application/json", `{"user_id":"urn:uuid:` + id + `","job_id":"` + id + `","import_id":"` + id + `"}`},
		{eventing.TypeImportRequested, "application/json", `{"user_id":1}`},
		{eventing.TypeImportRequested, "application/cloudevents+json", `{}`},
		{eventing.TypePing, "application/json", `{"job":"cleanup"}`},
	} {
		f.Add(s.typ, s.ct, []byte(s.data))
	}
	fn := &Function{cfg: Config{RunTimeout: time.Minute}, logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	f.Fuzz(func(t *testing.T, typ, contentType string, data []byte) {
		ev := event.New()
		ev.SetID("fuzz-1")
		ev.SetSource("/fuzz")
		ev.SetType(typ)
		if err := ev.SetData(contentType, data); err != nil {
			return
		}
		req, err := decode(ev)
		if err != nil {
			if got := fn.handle(t.Context(), ev); got != nil {
				t.Fatalf("handle(%s %q) = %v, want nil (acknowledged)", ev.Type(), data, got)
			}
			return
		}
		if ev.Type() != eventing.TypeImportRequested || !eventing.ValidID(req.UserID) || !eventing.ValidID(req.JobID) || !eventing.ValidID(req.ImportID) {
			t.Fatalf("decode(%s %q) accepted %+v", ev.Type(), data, req)
		}
	})
}
