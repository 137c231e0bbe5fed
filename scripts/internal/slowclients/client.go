package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// apiUser is the user the well-behaved client and the authenticated attacks act as.
type apiUser struct {
	token string
}

var setupClient = &http.Client{Timeout: time.Minute}

// signup creates a uce user on api and returns its access token.
func signup(api string) (apiUser, error) {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	body, _ := json.Marshal(map[string]string{
		"email":           "slowclients-" + hex.EncodeToString(b[:6]) + "@example.test",
		"password":        "slowclients-" + hex.EncodeToString(b),
		"encryption_tier": "uce",
	})
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := call(http.MethodPost, api+"/api/v1/auth/signup", "", body, http.StatusCreated, &out); err != nil {
		return apiUser{}, fmt.Errorf("signup: %w", err)
	}
	return apiUser{token: out.AccessToken}, nil
}

// createEntry creates an entry through base and returns its URL, which the well-behaved
// client reads.
func (u apiUser) createEntry(base string) (string, error) {
	body := []byte(`{"title":"slowclients","content":"the well-behaved client reads this entry","mood":"calm"}`)
	var out struct {
		ID string `json:"id"`
	}
	if err := call(http.MethodPost, base+"/api/v1/entries", u.token, body, http.StatusCreated, &out); err != nil {
		return "", fmt.Errorf("create entry: %w", err)
	}
	return base + "/api/v1/entries/" + out.ID, nil
}

func call(method, url, token string, body []byte, want int, dst any) error {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := setupClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode != want {
		return fmt.Errorf("%s %s answered %d: %.300s", method, url, res.StatusCode, raw)
	}
	return json.Unmarshal(raw, dst)
}

// probeResult is what the well-behaved client saw.
type probeResult struct {
	mu        sync.Mutex
	ok, total int
	latencies []time.Duration
	failures  map[string]int
}

func (p *probeResult) add(d time.Duration, outcome string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total++
	if outcome == "" {
		p.ok++
		p.latencies = append(p.latencies, d)
		return
	}
	if p.failures == nil {
		p.failures = map[string]int{}
	}
	p.failures[outcome]++
}

// quantile of the successful requests' latencies, in milliseconds.
func (p *probeResult) quantile(q float64) float64 {
	if len(p.latencies) == 0 {
		return 0
	}
	l := slices.Clone(p.latencies)
	slices.Sort(l)
	return float64(l[int(q*float64(len(l)-1))].Microseconds()) / 1000
}

// probe GETs entry every interval until stop is closed, each time on a new connection, and
// counts a 200 within 5 s as a success.
func probe(entry, token string, interval time.Duration, stop <-chan struct{}, res *probeResult) {
	client := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{DisableKeepAlives: true},
	}
	for {
		select {
		case <-stop:
			return
		case <-time.After(interval):
		}
		req, _ := http.NewRequest(http.MethodGet, entry, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		start := time.Now()
		r, err := client.Do(req)
		if err != nil {
			res.add(0, "error")
			continue
		}
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
		if r.StatusCode != http.StatusOK {
			res.add(0, fmt.Sprint(r.StatusCode))
			continue
		}
		res.add(time.Since(start), "")
	}
}
