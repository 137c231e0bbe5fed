package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Fault names, in the order they are injected.
const (
	faultPG     = "pg-restart"
	faultRedis  = "redis-stop"
	faultS3     = "s3-stop"
	faultBroker = "broker-stop"

	phaseBaseline = "baseline"
)

// allFaults is the default sequence.
var allFaults = []string{faultPG, faultRedis, faultS3, faultBroker}

// services are the scripts/dev services of one state dir, which the faults act on.
type services struct {
	root      string // the repository: scripts/lib/services.sh is there
	state     string // the scripts/dev state dir
	redisPort string
	s3Port    string
	control   string // the local Broker's control URL
	tap       string // the Broker tap file it reports
}

// findServices reads state/env as scripts/dev wrote it and checks that every service the
// faults touch is this state dir's own, on loopback: nothing here stops a service it did
// not find there.
func findServices(root, state, apiBase string) (*services, error) {
	env, err := readEnv(filepath.Join(state, "env"))
	if err != nil {
		return nil, fmt.Errorf("%w (is scripts/dev running with this DEV_STATE_DIR?)", err)
	}
	s := &services{root: root, state: state}
	pg, err := url.Parse(env["DATABASE_URL"])
	if err != nil || pg.Hostname() != "127.0.0.1" {
		return nil, fmt.Errorf("DATABASE_URL in %s/env is not a local PostgreSQL of scripts/dev", state)
	}
	if _, err := os.Stat(filepath.Join(state, "postgres", "data", "PG_VERSION")); err != nil {
		return nil, fmt.Errorf("no PostgreSQL data directory under %s/postgres: scripts/dev uses an outside DATABASE_URL", state)
	}
	rd, err := url.Parse(env["REDIS_URL"])
	if err != nil || rd.Hostname() != "127.0.0.1" || rd.Port() == "" {
		return nil, fmt.Errorf("REDIS_URL in %s/env is not a local Redis of scripts/dev", state)
	}
	s.redisPort = rd.Port()
	s3, err := url.Parse(env["S3_ENDPOINT"])
	if err != nil || s3.Hostname() != "127.0.0.1" || s3.Port() == "" {
		return nil, fmt.Errorf("S3_ENDPOINT in %s/env is not the local versitygw of scripts/dev", state)
	}
	s.s3Port = s3.Port()
	for _, f := range []string{"redis/redis.pid", "s3/versitygw.pid"} {
		if _, err := os.Stat(filepath.Join(state, f)); err != nil {
			return nil, fmt.Errorf("%s/%s is missing: that service is not one scripts/dev runs here", state, f)
		}
	}
	s.control = strings.TrimSuffix(apiBase, "/api/v1") + "/_local/broker/control"
	return s, nil
}

// readEnv reads a KEY=VALUE file as services.sh writes it (values quoted only when needed).
func readEnv(file string) (map[string]string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
			v = strings.ReplaceAll(v[1:len(v)-1], `'\''`, "'")
		}
		env[k] = v
	}
	return env, nil
}

// brokerState asks the Broker control for its state; it fails when scripts/dev runs
// without LOCAL_BROKER_CONTROL.
func (s *services) brokerState(ctx context.Context, c *http.Client) (controlState, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.control, nil)
	resp, err := c.Do(req)
	if err != nil {
		return controlState{}, err
	}
	defer resp.Body.Close()
	var st controlState
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&st) != nil {
		return controlState{}, fmt.Errorf("GET %s answered %d", s.control, resp.StatusCode)
	}
	return st, nil
}

// controlState is the Broker control's answer (cmd/diary, devbroker.go).
type controlState struct {
	Paused bool   `json:"paused"`
	Tap    string `json:"tap"`
}

func (s *services) setBrokerPaused(ctx context.Context, c *http.Client, paused bool) error {
	body, _ := json.Marshal(map[string]bool{"paused": paused})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.control, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s answered %d", s.control, resp.StatusCode)
	}
	return nil
}

// svc runs one function of scripts/lib/services.sh with args, bounded in time.
func (s *services) svc(ctx context.Context, fn string, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	script := `. "$1"; shift; "$@"`
	cmd := exec.CommandContext(ctx, "bash", append([]string{"-c", script, "bash",
		filepath.Join(s.root, "scripts/lib/services.sh"), fn}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", fn, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

// portDown waits until nothing accepts connections on 127.0.0.1:port.
func portDown(ctx context.Context, port string) error {
	for ctx.Err() == nil {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second)
		if err != nil {
			return nil
		}
		c.Close()
		time.Sleep(50 * time.Millisecond)
	}
	return ctx.Err()
}

// fault is one injection: down stops (or, for PostgreSQL, restarts) the service and
// returns once it is confirmed down; up brings it back and returns once it answers.
type fault struct {
	name string
	down func(ctx context.Context) error
	up   func(ctx context.Context) error // nil: down was the whole fault (a restart)
}

// stopStart is a fault that stops a service with the services.sh function stop, waits
// until its port is closed, and starts it again with start.
func (s *services) stopStart(name, stop, start, port string) fault {
	return fault{name: name,
		down: func(ctx context.Context) error {
			if err := s.svc(ctx, stop, s.state); err != nil {
				return err
			}
			return portDown(ctx, port)
		},
		up: func(ctx context.Context) error { return s.svc(ctx, start, s.state, port) }}
}

// faults builds the named faults on s.
func (s *services) faults(names []string, c *http.Client) ([]fault, error) {
	var out []fault
	for _, n := range names {
		switch n {
		case faultPG:
			out = append(out, fault{name: n, down: func(ctx context.Context) error { return s.svc(ctx, "svc_pg_restart", s.state) }})
		case faultRedis:
			out = append(out, s.stopStart(n, "svc_redis_stop", "svc_redis_start", s.redisPort))
		case faultS3:
			out = append(out, s.stopStart(n, "svc_s3_stop", "svc_s3_start", s.s3Port))
		case faultBroker:
			out = append(out, fault{name: n,
				down: func(ctx context.Context) error { return s.setBrokerPaused(ctx, c, true) },
				up:   func(ctx context.Context) error { return s.setBrokerPaused(ctx, c, false) }})
		default:
			return nil, fmt.Errorf("unknown fault %q (known: %s)", n, strings.Join(allFaults, ", "))
		}
	}
	return out, nil
}
