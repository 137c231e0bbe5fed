package fbsync

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/xmojo/diary/eventing"
	"github.com/xmojo/diary/eventing/eventingtest"
	"github.com/xmojo/diary/shared/facebook"
)

// noGraph fails every Graph call: a refused event must not reach Facebook.
type noGraph struct{}

func (noGraph) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("a refused event called Graph")
}

// FuzzEvent feeds fbsync events of any type, content type and data. An accepted pull names
// a user and an integration (and maybe a job) by canonical ids; whatever decode refuses,
// handle acknowledges before any query or Graph
// call: this consumer has no database and a Graph that refuses, so either would show.
func FuzzEvent(f *testing.F) {
	const (
		user = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
		intg = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c"
	)
	eventingtest.Add(f, eventing.TypeIntegrationPullRequested, "application/json", `{"user_id":"`+user+`","integration_id":"`+intg+`","job_id":"`+intg+`"}`)
	eventingtest.Add(f, eventing.TypeIntegrationPullRequested, "application/json", `{"user_id":"`+user+`","integration_id":"`+intg+`"}`)
	eventingtest.Add(f, eventing.TypeIntegrationPullRequested, "application/json", `{"user_id":"alice","integration_id":"i-1"}`)
	eventingtest.Add(f, eventing.TypeIntegrationPullRequested, "application/json", `{"user_id":"urn:uuid:`+user+`","integration_id":"`+intg+`"}`)
	eventingtest.Add(f, eventing.TypeIntegrationPullRequested, "application/json", `{"user_id":"`+user+`","integration_id":"`+intg+`","job_id":"job"}`)
	eventingtest.Add(f, eventing.TypeIntegrationPullRequested, "application/json", `[1,2]`)
	eventingtest.Add(f, eventing.TypePing, "application/json", `{"job":"facebook-sync"}`)
	eventingtest.Add(f, eventing.TypePing, "application/json", `{"job":"cleanup"}`)
	eventingtest.Add(f, eventing.TypeImportRequested, "text/plain", "\x00")
	fb, err := facebook.NewClient(facebook.Config{AppID: "1", AppSecret: "s", APIVersion: "v25.0",
		GraphURL: "https://graph.example", DialogURL: "https://www.example"}, &http.Client{Transport: noGraph{}})
	if err != nil {
		f.Fatal(err)
	}
	fn := &Function{cfg: Config{Timeout: time.Minute}, fb: fb, logger: eventingtest.Discard()}
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
