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

// PGDump returns a plain-text dump of the whole test database, for privacy tests that
// look for a canary in every table.
func PGDump(t testing.TB) []byte {
	t.Helper()
	bin := os.Getenv("PG_DUMP")
	if bin == "" {
		bin, _ = exec.LookPath("pg_dump")
	}
	if bin == "" {
		// Debian keeps the server's tools off PATH, one directory per major version.
		found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_dump")
		major := func(p string) int {
			n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(p))))
			return n
		}
		slices.SortFunc(found, func(a, b string) int { return major(a) - major(b) })
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

// Forms are the ways a string could show up in a dump, a log or an event: as it is, as
// the hex pg_dump prints for bytea, and in base64.
func Forms(s string) []string {
	return []string{s, hex.EncodeToString([]byte(s)), base64.StdEncoding.EncodeToString([]byte(s))[:len(s)]}
}

// RedisHolding returns a Redis key whose value (string, hash or set) holds s, or "".
func RedisHolding(t testing.TB, rdb *redis.Client, s string) string {
	t.Helper()
	ctx := t.Context()
	iter := rdb.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		var vals []string
		switch typ, _ := rdb.Type(ctx, key).Result(); typ {
		case "string":
			v, _ := rdb.Get(ctx, key).Result()
			vals = []string{v}
		case "hash":
			m, _ := rdb.HGetAll(ctx, key).Result()
			for k, v := range m {
				vals = append(vals, k, v)
			}
		case "set":
			vals, _ = rdb.SMembers(ctx, key).Result()
		}
		if strings.Contains(key, s) || slices.ContainsFunc(vals, func(v string) bool { return strings.Contains(v, s) }) {
			return key
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatalf("scan Redis: %v", err)
	}
	return ""
}
