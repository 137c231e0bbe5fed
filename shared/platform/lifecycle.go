package platform

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"

	"github.com/xmojo/diary/shared/httpapi"
	"github.com/xmojo/diary/shared/metrics"
)

// Lifecycle is the part of knative func's contract that every HTTP function shares:
// Handle, Ready, Alive and Stop. A function embeds it in its Function struct, so these
// methods are promoted, and calls Serve from its Start hook (or its test constructor) once
// it has built its handler; Start stays the function's own.
//
// The zero value, with Name set, is a function that has not started: Handle answers 503
// and Ready fails.
type Lifecycle struct {
	// Name is the function's name (e.g. "auth"); it prefixes Ready's error.
	Name string
	// serving is set once, by Serve. The host may probe readiness or route a request
	// while Start is still running, hence the atomic.
	serving atomic.Pointer[serving]
}

// serving is what Serve installs: the handler and the services it runs on.
type serving struct {
	handler http.Handler
	svc     *Services
	// owned says Stop closes svc: Start connected it. A test or the in-process gateway
	// that passes its own services keeps them.
	owned bool
	// stops end what the function runs beside its handler (an outbox relay), before svc
	// is closed.
	stops []func(context.Context) error
}

// Serve makes the function answer with handler from now on, over svc. With owned, Stop
// closes svc. Stop calls each of stops first (in order), for what the function runs in
// the background, such as its outbox relay.
func (l *Lifecycle) Serve(handler http.Handler, svc *Services, owned bool, stops ...func(context.Context) error) {
	l.serving.Store(&serving{handler: handler, svc: svc, owned: owned, stops: stops})
	metrics.Started(l.Name)
}

// Handle serves one HTTP request with the handler Serve installed; until then it answers
// 503 with a Retry-After, as the function is still starting (or failed to).
func (l *Lifecycle) Handle(w http.ResponseWriter, r *http.Request) {
	s := l.serving.Load()
	if s == nil {
		httpapi.Fail(w, r, httpapi.Unavailable("the service is starting, try again shortly"))
		return
	}
	s.handler.ServeHTTP(w, r)
}

// Ready reports whether the function is serving and PostgreSQL and Redis answer.
func (l *Lifecycle) Ready(ctx context.Context) (bool, error) {
	s := l.serving.Load()
	if s == nil {
		return false, fmt.Errorf("%s: not started", l.Name)
	}
	return s.svc.Ready(ctx)
}

// Alive reports that the process can serve; it does not depend on other services.
func (l *Lifecycle) Alive(context.Context) (bool, error) {
	return true, nil
}

// Stop ends what Serve was given to stop, then releases the services Serve was given as
// owned; services the caller kept are left open.
func (l *Lifecycle) Stop(ctx context.Context) error {
	s := l.serving.Load()
	if s == nil {
		return nil
	}
	var errs []error
	for _, stop := range s.stops {
		if err := stop(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if s.owned {
		s.svc.Close()
	}
	return errors.Join(errs...)
}
