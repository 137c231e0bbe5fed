package config

import (
	"net/netip"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

type inner struct {
	URL    string `envconfig:"TEST_CFG_URL" required:"true"`
	Region string `envconfig:"TEST_CFG_REGION" default:"us-east-1"`
}

type spec struct {
	inner
	Timeout time.Duration    `envconfig:"TEST_CFG_TIMEOUT" default:"30s"`
	Limit   int              `envconfig:"TEST_CFG_LIMIT" default:"10"`
	Quota   int64            `envconfig:"TEST_CFG_QUOTA"`
	Enabled bool             `envconfig:"TEST_CFG_ENABLED" default:"false"`
	Ratio   float64          `envconfig:"TEST_CFG_RATIO"`
	Proxies []string         `envconfig:"TEST_CFG_PROXIES"`
	Addr    netip.Addr       `envconfig:"TEST_CFG_ADDR"`
	Clock   func() time.Time `ignored:"true"`
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want spec
	}{
		{
			name: "defaults",
			env:  map[string]string{"TEST_CFG_URL": "postgres://x"},
			want: spec{inner: inner{URL: "postgres://x", Region: "us-east-1"}, Timeout: 30 * time.Second, Limit: 10},
		},
		{
			name: "every type set",
			env: map[string]string{
				"TEST_CFG_URL": "u", "TEST_CFG_REGION": "eu-central-1", "TEST_CFG_TIMEOUT": "720h",
				"TEST_CFG_LIMIT": "-3", "TEST_CFG_QUOTA": "1073741824", "TEST_CFG_ENABLED": "true",
				"TEST_CFG_RATIO": "0.5", "TEST_CFG_PROXIES": " 10.0.0.0/8, ,::1/128 ", "TEST_CFG_ADDR": "192.0.2.1",
			},
			want: spec{
				inner:   inner{URL: "u", Region: "eu-central-1"},
				Timeout: 720 * time.Hour, Limit: -3, Quota: 1 << 30, Enabled: true, Ratio: 0.5,
				Proxies: []string{"10.0.0.0/8", "::1/128"}, Addr: netip.MustParseAddr("192.0.2.1"),
			},
		},
		{
			name: "empty value takes the default",
			env:  map[string]string{"TEST_CFG_URL": "u", "TEST_CFG_TIMEOUT": "", "TEST_CFG_PROXIES": ""},
			want: spec{inner: inner{URL: "u", Region: "us-east-1"}, Timeout: 30 * time.Second, Limit: 10},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got spec
			if err := Load(tt.env, &got); err != nil {
				t.Fatalf("Load(%v) = %v, want nil", tt.env, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Load(%v) = %+v, want %+v", tt.env, got, tt.want)
			}
		})
	}
}

// TestLoadErrors checks that a bad or missing setting is named and its value never shown:
// a value may be a secret.
func TestLoadErrors(t *testing.T) {
	const secret = "s3cr3t-value"
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"required missing", map[string]string{}, "config: TEST_CFG_URL is required"},
		{"required empty", map[string]string{"TEST_CFG_URL": ""}, "config: TEST_CFG_URL is required"},
		{"bad duration", map[string]string{"TEST_CFG_URL": "u", "TEST_CFG_TIMEOUT": secret}, "config: TEST_CFG_TIMEOUT is not a valid duration"},
		{"bad int", map[string]string{"TEST_CFG_URL": "u", "TEST_CFG_LIMIT": secret}, "config: TEST_CFG_LIMIT is not a valid integer"},
		{"int overflow", map[string]string{"TEST_CFG_URL": "u", "TEST_CFG_LIMIT": "99999999999999999999"}, "config: TEST_CFG_LIMIT is not a valid integer"},
		{"bad bool", map[string]string{"TEST_CFG_URL": "u", "TEST_CFG_ENABLED": secret}, "config: TEST_CFG_ENABLED is not a valid boolean"},
		{"bad text value", map[string]string{"TEST_CFG_URL": "u", "TEST_CFG_ADDR": secret}, "config: TEST_CFG_ADDR is not a valid value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got spec
			err := Load(tt.env, &got)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("Load(%v) = %v, want an error starting %q", tt.env, err, tt.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("Load(%v) = %q, which shows the value", tt.env, err)
			}
		})
	}
}

func TestLoadRejectsUntaggedField(t *testing.T) {
	var s struct {
		Name string
	}
	if err := Load(map[string]string{}, &s); err == nil {
		t.Fatal("Load(struct with an untagged field) = nil, want an error")
	}
	if err := Load(map[string]string{}, s); err == nil {
		t.Fatal("Load(non-pointer) = nil, want an error")
	}
}

// TestLoadLeavesProcessEnvironment checks that Load reads only its map: the process
// environment is neither read nor written, so concurrent loads with different maps (the
// all-in-one runner, parallel tests) and concurrent os.Getenv calls never see each other.
func TestLoadLeavesProcessEnvironment(t *testing.T) {
	t.Setenv("TEST_CFG_URL", "from-process")
	t.Setenv("TEST_CFG_LIMIT", "77")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			want := "map-" + string(rune('a'+i))
			var got spec
			if err := Load(map[string]string{"TEST_CFG_URL": want}, &got); err != nil {
				t.Errorf("Load() = %v", err)
				return
			}
			if got.URL != want || got.Limit != 10 {
				t.Errorf("Load() URL, Limit = %q, %d, want %q, 10 (the map's value and the default, not the process's)", got.URL, got.Limit, want)
			}
			if v := os.Getenv("TEST_CFG_URL"); v != "from-process" {
				t.Errorf("os.Getenv(TEST_CFG_URL) = %q during Load, want the process's own value", v)
			}
		})
	}
	wg.Wait()
}
