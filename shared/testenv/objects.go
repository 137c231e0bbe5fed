package testenv

import (
	"context"
	"testing"

	"github.com/xmojo/diary/shared/config"
	"github.com/xmojo/diary/shared/objstore"
)

// Objects connects to the S3 store scripts/test starts (versitygw) and makes sure its
// bucket exists; the test fails without it.
func Objects(t testing.TB) *objstore.Store {
	t.Helper()
	env := Env(t)
	for _, k := range []string{"S3_BUCKET", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"} {
		if env[k] == "" {
			t.Fatalf("%s is not set: run the tests with scripts/test, which starts versitygw", k)
		}
	}
	var cfg objstore.Config
	if err := config.Load(env, &cfg); err != nil {
		t.Fatalf("config.Load() = %v", err)
	}
	s, err := objstore.New(cfg)
	if err != nil {
		t.Fatalf("objstore.New() = %v", err)
	}
	if err := s.EnsureBucket(context.Background()); err != nil {
		t.Fatalf("EnsureBucket() = %v", err)
	}
	return s
}
