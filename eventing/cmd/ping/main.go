// Command ping sends, right now, the event a PingSource would send on its schedule, to a
// Broker ingress in CloudEvents binary mode. The PingSource is read from the project's
// manifests (eventing/manifests, embedded), so the event is exactly the scheduled one:
// type dev.knative.sources.ping, source /apis/v1/namespaces/<ns>/pingsources/<name>, the
// manifest's data and content type, a fresh id.
//
//	ping [-broker URL] NAME     send NAME's event (scripts/ping NAME runs this)
//	ping -list                  list the PingSources and when each fires next
//
// The default broker is the local runner's ingress (cmd/diary, started by scripts/dev):
// $DIARY_BROKER_URL, else http://127.0.0.1:$PORT/_local/broker with PORT defaulting to
// 8080. The ingress answers 202 and delivers in the background, as a Broker does.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/xmojo/diary/eventing"
	"github.com/xmojo/diary/eventing/local"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "ping: %v\n", err)
		os.Exit(1)
	}
}

func defaultBroker() string {
	if u := os.Getenv("DIARY_BROKER_URL"); u != "" {
		return u
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	return "http://127.0.0.1:" + port + "/_local/broker"
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("ping", flag.ContinueOnError)
	broker := fs.String("broker", defaultBroker(), "Broker ingress URL")
	list := fs.Bool("list", false, "list the PingSources and exit")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: ping [-broker URL] NAME | ping -list")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	m, err := local.Load(eventing.Manifests)
	if err != nil {
		return err
	}
	if *list {
		for _, p := range m.PingSources {
			next, err := local.NextFiring(p, time.Now())
			if err != nil {
				return fmt.Errorf("PingSource %s: %w", p.Name, err)
			}
			fmt.Fprintf(out, "%-20s %-15q %-12s next %s  data %s\n", p.Name, p.Schedule, p.Timezone,
				next.UTC().Format(time.RFC3339), p.Data)
		}
		return nil
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("name one PingSource")
	}
	name := fs.Arg(0)
	ps, ok := m.PingSource(name)
	if !ok {
		var names []string
		for _, p := range m.PingSources {
			names = append(names, p.Name)
		}
		return fmt.Errorf("no PingSource named %q (there are: %s)", name, strings.Join(names, ", "))
	}
	ev, err := local.PingEvent(ps, time.Now())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, *broker, nil)
	if err != nil {
		return fmt.Errorf("broker URL: %w", err)
	}
	if err := cehttp.WriteRequest(ctx, binding.ToMessage(&ev), req); err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("send to %s (is scripts/dev running?): %w", *broker, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return fmt.Errorf("%s answered %d: %s", *broker, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	fmt.Fprintf(out, "sent %s event %s (source %s, data %s) to %s: %d %s\n",
		name, ev.ID(), ev.Source(), ev.Data(), *broker, resp.StatusCode, http.StatusText(resp.StatusCode))
	return nil
}
