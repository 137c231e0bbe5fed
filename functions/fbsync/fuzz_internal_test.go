package fbsync

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/xmojo/diary/eventing"
	"github.com/xmojo/diary/shared/facebook"
)

// noGraph fails every Graph call: a refused event must not reach Facebook.
type noGraph struct{}

func (noGraph) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("a refused event called Graph")
}

// FuzzEvent feeds fbsync events of any type, content type and data. An accepted pull names
// a user and an integration (and maybe a job) by canonical ids; whatever decode refuses,
// handle acknowledges (nil: the Broker does not retry garbage) before any query or Graph
// call: this consumer has no database and a Graph that refuses, so either would show.
func FuzzEvent(f *testing.F) {
	const (
		user = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
		intg = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c"
	)
	for _, s := range []struct{ typ, ct, data string }{
		{eventing.TypeIntegrationPullRequested, "application/json", `{"user_id":"` + user + `","integration_id":"` + intg + `","job_id":"` + intg + `"}`},
		{eventing.TypeIntegrationPullRequested, "application/json", `{"user_id":"` + user + `","integration_id":"` + intg + `"}`},
		{eventing.TypeIntegrationPullRequested, "application/json", `{"user_id":"alice","integration_id":"i-1"}`},
		{eventing.TypeIntegrationPullRequested, "application/json", `{"user_id":"urn:uuid:` + user + `","integration_id":"` + intg + `"}`},
		{eventing.TypeIntegrationPullRequested, "application/json", `{"user_id":"` + user + `","integration_id":"` + intg + `","job_id":"job"}`},
		{eventing.TypeIntegrationPullRequested, "application/json", `[1,2]`},
		{eventing.TypePing, "application/json", `{"job":"facebook-sync"}`},
		{eventing.TypePing, "application/json", `{"job":"cleanup"}`},
		{eventing.TypeImportRequested, "text/plain", "\x00"},
	} {
		f.Add(s.typ, s.ct, []byte(s.data))
	}
	fb, err := facebook.NewClient(facebook.Config{AppID: "1", AppSecret: "s", APIVersion: "v25.0",
		GraphURL: "https://graph.example", DialogURL: "https://www.example"}, &http.Client{Transport: noGraph{}})
	if err != nil {
		f.Fatal(err)
	}
	fn := &Function{cfg: Config{Timeout: time.Minute}, fb: fb, logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
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
		switch {
		case req.sweep:
			if ev.Type() != eventing.TypePing {
				t.Fatalf("decode(%s) asked for a sweep", ev.Type())
			}
		case ev.Type() != eventing.TypeIntegrationPullRequested || !eventing.ValidID(req.pull.UserID) || !eventing.ValidID(req.pull.IntegrationID) ||
			(req.pull.JobID != "" && !eventing.ValidID(req.pull.JobID)):
			t.Fatalf("decode(%s %q) accepted a pull of %+v", ev.Type(), data, req.pull)
		}
	})
}
