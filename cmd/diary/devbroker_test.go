package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/uuid"

	"github.com/xmojo/diary/eventing"
	"github.com/xmojo/diary/eventing/local"
)

// devBrokerManifests is a Broker without Triggers: the ingress accepts, nothing delivers.
const devBrokerManifests = `
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: default
  namespace: diary
`

func devBrokerServer(t *testing.T, env map[string]string) (*localBroker, *httptest.Server) {
	t.Helper()
	m, err := local.Load(fstest.MapFS{"eventing/broker.yaml": {Data: []byte(devBrokerManifests)}})
	if err != nil {
		t.Fatalf("Load() = %v", err)
	}
	lb, err := newLocalBroker(env, m, nil)
	if err != nil {
		t.Fatalf("newLocalBroker(%v) = %v", env, err)
	}
	t.Cleanup(lb.Close)
	mux := http.NewServeMux()
	lb.mount(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return lb, srv
}

func readTap(t *testing.T, path string) []tapLine {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []tapLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l tapLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("tap line %q: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	return lines
}

func setPaused(t *testing.T, srv *httptest.Server, paused bool) controlState {
	t.Helper()
	body := `{"paused":false}`
	if paused {
		body = `{"paused":true}`
	}
	resp, err := http.Post(srv.URL+brokerControlPath, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st controlState
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&st) != nil {
		t.Fatalf("POST control %s = %d", body, resp.StatusCode)
	}
	return st
}

// TestDevBrokerTapAndPause: with both settings on, the tap holds exactly the events the
// ingress accepted, and while paused the ingress answers 503 with Retry-After (the
// producer's emit fails) and taps nothing.
func TestDevBrokerTapAndPause(t *testing.T) {
	tap := filepath.Join(t.TempDir(), "tap.jsonl")
	_, srv := devBrokerServer(t, map[string]string{envBrokerControl: "1", envBrokerTap: tap})
	// A binary-mode CloudEvent, as the outbox relay sends it.
	p, err := cloudevents.NewHTTP(cloudevents.WithTarget(srv.URL + brokerPath))
	if err != nil {
		t.Fatal(err)
	}
	client, err := cloudevents.NewClient(p)
	if err != nil {
		t.Fatal(err)
	}
	emit := func(version int) (string, error) {
		ev := cloudevents.NewEvent()
		ev.SetID(uuid.NewString())
		ev.SetType(eventing.TypeEntryChanged)
		ev.SetSource(eventing.SourceEntries)
		ev.SetSubject("e1")
		if err := ev.SetData(cloudevents.ApplicationJSON, eventing.EntryChanged{UserID: "u1", EntryID: "e1", Change: "updated", Version: version}); err != nil {
			t.Fatal(err)
		}
		if res := client.Send(context.Background(), ev); !cloudevents.IsACK(res) {
			return "", res
		}
		return ev.ID(), nil
	}
	first, err := emit(1)
	if err != nil {
		t.Fatalf("send = %v", err)
	}

	if st := setPaused(t, srv, true); !st.Paused || st.Tap != tap {
		t.Fatalf("pause answered %+v, want paused with tap %s", st, tap)
	}
	if _, err := emit(2); err == nil {
		t.Errorf("send while paused = nil, want an error")
	}
	resp, err := http.Post(srv.URL+brokerPath, "application/cloudevents+json",
		strings.NewReader(`{"specversion":"1.0","id":"p1","type":"com.example.x","source":"/x"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("ingress while paused = %d (Retry-After %q), want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}

	if st := setPaused(t, srv, false); st.Paused {
		t.Fatalf("resume answered %+v", st)
	}
	third, err := emit(3)
	if err != nil {
		t.Fatalf("send after resume = %v", err)
	}

	lines := readTap(t, tap)
	if len(lines) != 2 || lines[0].ID != first || lines[1].ID != third {
		t.Fatalf("tap = %+v, want the events %s and %s", lines, first, third)
	}
	var data eventing.EntryChanged
	if lines[1].Type != eventing.TypeEntryChanged || lines[1].Subject != "e1" ||
		json.Unmarshal(lines[1].Data, &data) != nil || data.Version != 3 || data.EntryID != "e1" {
		t.Errorf("tap line = %+v, want entry.changed of e1 at version 3", lines[1])
	}
}

// TestDevBrokerControlRefusals: the control answers only loopback callers without Origin,
// and does not exist unless LOCAL_BROKER_CONTROL turns it on.
func TestDevBrokerControlRefusals(t *testing.T) {
	lb, _ := devBrokerServer(t, map[string]string{envBrokerControl: "true"})
	tests := []struct {
		name, remote, origin string
		want                 int
	}{
		{"loopback", "127.0.0.1:40000", "", http.StatusOK},
		{"loopback v6", "[::1]:40000", "", http.StatusOK},
		{"another host", "192.0.2.7:40000", "", http.StatusForbidden},
		{"a web page", "127.0.0.1:40000", "http://127.0.0.1:5173", http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, brokerControlPath, nil)
			req.RemoteAddr = tt.remote
			if tt.origin != "" {
				req.Header.Set("Origin", tt.origin)
			}
			rec := httptest.NewRecorder()
			lb.control.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Errorf("GET control from %s (Origin %q) = %d, want %d", tt.remote, tt.origin, rec.Code, tt.want)
			}
		})
	}

	_, off := devBrokerServer(t, map[string]string{})
	resp, err := http.Get(off.URL + brokerControlPath)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET control without %s = %d, want 404", envBrokerControl, resp.StatusCode)
	}

	m, err := local.Load(fstest.MapFS{"eventing/broker.yaml": {Data: []byte(devBrokerManifests)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newLocalBroker(map[string]string{envBrokerControl: "yes please"}, m, nil); err == nil ||
		!strings.Contains(err.Error(), envBrokerControl) {
		t.Errorf("newLocalBroker(bad %s) = %v, want an error naming it", envBrokerControl, err)
	}
}
