package testenv

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// DumpDatabase returns a plain-text pg_dump of the whole test database, for tests that
// prove a canary is stored nowhere in the clear. pg_dump is PG_DUMP, else on PATH, else
// the newest of Debian's /usr/lib/postgresql/*/bin/pg_dump.
func DumpDatabase(t testing.TB) []byte {
	t.Helper()
	bin := os.Getenv("PG_DUMP")
	if bin == "" {
		bin, _ = exec.LookPath("pg_dump")
	}
	if bin == "" {
		// Debian keeps the server's tools off PATH, one directory per major version.
		found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_dump")
		slices.SortFunc(found, func(a, b string) int { return majorOf(a) - majorOf(b) })
		if len(found) == 0 {
			t.Fatal("pg_dump not found: install PostgreSQL's client tools or set PG_DUMP")
		}
		bin = found[len(found)-1]
	}
	cmd := exec.CommandContext(t.Context(), bin, "--no-owner", "--dbname", Env(t)["DATABASE_URL"])
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v: %s", bin, err, stderr.String())
	}
	return out
}

// majorOf reads the major version from /usr/lib/postgresql/<major>/bin/pg_dump.
func majorOf(path string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(path))))
	return n
}

// Forms are the ways a string could show up in a dump or a log: as it is, as the hex
// pg_dump prints for bytea, and in base64.
func Forms(s string) []string {
	return []string{s, hex.EncodeToString([]byte(s)), base64.StdEncoding.EncodeToString([]byte(s))[:len(s)]}
}

// RedisHolding returns a Redis key whose name or value (string, hash or set) contains s,
// or "".
func RedisHolding(t testing.TB, rdb *redis.Client, s string) string {
	t.Helper()
	ctx := t.Context()
	iter := rdb.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		vals := []string{key}
		switch typ, _ := rdb.Type(ctx, key).Result(); typ {
		case "string":
			v, _ := rdb.Get(ctx, key).Result()
			vals = append(vals, v)
		case "hash":
			m, _ := rdb.HGetAll(ctx, key).Result()
			for k, v := range m {
				vals = append(vals, k, v)
			}
		case "set":
			m, _ := rdb.SMembers(ctx, key).Result()
			vals = append(vals, m...)
		}
		for _, v := range vals {
			if strings.Contains(v, s) {
				return key
			}
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatalf("scan Redis: %v", err)
	}
	return ""
}

// WantNowhere fails the test for each secret (by what it is, e.g. "the canary") found,
// in any of its Forms, in the database (DumpDatabase), in Redis (RedisHolding) or in one
// of the texts of elsewhere (by where it is, e.g. "the logs": the captured log).
func WantNowhere(t testing.TB, rdb *redis.Client, secrets map[string]string, elsewhere map[string]string) {
	t.Helper()
	dump := DumpDatabase(t)
	for what, s := range secrets {
		for _, f := range Forms(s) {
			if bytes.Contains(dump, []byte(f)) {
				t.Errorf("the database holds %s (as %q)", what, f)
			}
			if key := RedisHolding(t, rdb, f); key != "" {
				t.Errorf("Redis key %q holds %s (as %q)", key, what, f)
			}
			for where, text := range elsewhere {
				if strings.Contains(text, f) {
					t.Errorf("%s hold %s (as %q)", where, what, f)
				}
			}
		}
	}
}
