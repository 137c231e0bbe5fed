// Package config reads a function's settings from its environment with envconfig. Each
// function declares one struct; Load fills it and names the variable that is missing or
// bad, so readiness can say exactly what to fix.
package config

import (
	"fmt"
	"os"
	"sync"

	"github.com/kelseyhightower/envconfig"
)

var envMu sync.Mutex

// Load fills spec (a pointer to a struct with envconfig tags) from env. envconfig reads
// only the process environment; under func-go the map Start receives is that environment,
// so applying it is a no-op there. Elsewhere (tests, the local all-in-one runner) the map's
// values are applied for the duration of the call and the previous values restored.
func Load(env map[string]string, spec any) error {
	envMu.Lock()
	defer envMu.Unlock()
	type prev struct {
		val string
		set bool
	}
	saved := map[string]prev{}
	for k, v := range env {
		old, set := os.LookupEnv(k)
		if set && old == v {
			continue
		}
		saved[k] = prev{old, set}
		os.Setenv(k, v)
	}
	defer func() {
		for k, p := range saved {
			if p.set {
				os.Setenv(k, p.val)
			} else {
				os.Unsetenv(k)
			}
		}
	}()
	if err := envconfig.Process("", spec); err != nil {
		// envconfig's message names the variable; for a bad value it also quotes the
		// value, which may be a secret, so keep only the name.
		if perr, ok := err.(*envconfig.ParseError); ok {
			return fmt.Errorf("config: %s is not a valid %s", perr.KeyName, perr.TypeName)
		}
		return fmt.Errorf("config: %w", err)
	}
	return nil
}
