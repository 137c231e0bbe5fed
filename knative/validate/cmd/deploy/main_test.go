package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeTools puts stand-ins for kubectl, ko, func and curl first on PATH. Each appends its
// arguments (and, for a command fed a stream, what the stream was) to the log, and
// answers as the real tool would for what scripts/deploy asks: kubectl names the context
// in $FAKE_CONTEXT and prints a Secret for create --dry-run; ko passes the manifests
// through; curl answers like the gateway.
func fakeTools(t *testing.T, context string) (logFile string) {
	t.Helper()
	bin := t.TempDir()
	logFile = filepath.Join(t.TempDir(), "calls.log")
	scripts := map[string]string{
		"kubectl": `
printf 'kubectl %s\n' "$*" >> "$FAKE_LOG"
case "$*" in
  "config current-context") echo "$FAKE_CONTEXT" ;;
  *"create secret"*) printf 'apiVersion: v1\nkind: Secret\nmetadata: {name: diary-secrets}\ndata: {SESSION_KEY: c2VjcmV0}\n' ;;
  *"apply -f -"*) in=$(cat); printf 'stdin kinds=%s ko=%s resolved=%s\n' "$(printf '%s\n' "$in" | grep -c '^kind:')" "$(printf '%s\n' "$in" | grep -c 'ko://')" "$(printf '%s\n' "$in" | grep -c 'registry.test/migrate@sha256:0')" >> "$FAKE_LOG" ;;
esac`,
		"ko":   "printf 'ko %s KO_DOCKER_REPO=%s\\n' \"$*\" \"$KO_DOCKER_REPO\" >> \"$FAKE_LOG\"\nsed 's#ko://github.com/xmojo/diary/migrations/cmd/migrate#registry.test/migrate@sha256:0#'",
		"func": "printf 'func %s\\n' \"$*\" >> \"$FAKE_LOG\"",
		"curl": "printf 'curl %s\\n' \"$*\" >> \"$FAKE_LOG\"\necho '{\"status\":\"ok\",\"openapi\":\"3.1.0\"}'",
	}
	for name, body := range scripts {
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("FAKE_LOG", logFile)
	t.Setenv("FAKE_CONTEXT", context)
	return logFile
}

// secretsFile writes a complete secrets file outside the repository.
func secretsFile(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, k := range []string{"DATABASE_URL", "REDIS_URL", "JWT_PRIVATE_KEY", "JWT_PUBLIC_KEY", "SESSION_KEY", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY", "FACEBOOK_APP_SECRET", "INTEGRATION_TOKEN_KEY"} {
		b.WriteString(k + "=value-of-" + strings.ToLower(k) + "\n")
	}
	f := filepath.Join(t.TempDir(), "thor.env")
	if err := os.WriteFile(f, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func calls(t *testing.T, logFile string) []string {
	t.Helper()
	raw, err := os.ReadFile(logFile)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(raw)), "\n")
}

// TestRealRunRunsThePlanInOrder runs the rollout against stand-in tools: every step runs,
// in the plan's order, manifests reach kubectl on stdin with the migration image resolved,
// and no secret value is printed.
func TestRealRunRunsThePlanInOrder(t *testing.T) {
	logFile := fakeTools(t, "thor")
	var stdout, stderr bytes.Buffer
	err := run([]string{"-repo", "../../../..", "-context", "thor", "-registry", "registry.test", "-secrets", secretsFile(t)}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("run() = %v\n%s", err, stderr.String())
	}
	got := calls(t, logFile)
	order := []string{
		"kubectl config current-context",
		"kubectl --context thor apply -f -",
		"kubectl --context thor -n personal-diary create secret generic diary-secrets --from-env-file=",
		"kubectl --context thor get clusterissuer letsencrypt-prod",
		"kubectl --context thor -n knative-serving patch configmap config-network",
		"kubectl --context thor -n personal-diary delete job diary-migrate",
		"ko resolve --bare -f - KO_DOCKER_REPO=registry.test/migrate",
		"kubectl --context thor -n personal-diary wait --for=condition=complete job/diary-migrate",
		"func deploy --path functions/auth --namespace personal-diary --registry registry.test",
		"func deploy --path . --namespace personal-diary",
		"curl -fsS",
	}
	i := 0
	for _, c := range got {
		if i < len(order) && strings.HasPrefix(c, order[i]) {
			i++
		}
	}
	if i < len(order) {
		t.Errorf("the run stopped matching the plan at %q; calls:\n%s", order[i], strings.Join(got, "\n"))
	}
	joined := strings.Join(got, "\n")
	if !strings.Contains(joined, "ko=0 resolved=1") || strings.Contains(joined, "ko=1") {
		t.Errorf("the overlay reached kubectl with its ko:// reference unresolved:\n%s", joined)
	}
	if out := stdout.String() + stderr.String(); strings.Contains(out, "value-of-") || strings.Contains(out, "c2VjcmV0") {
		t.Errorf("the run printed a secret value:\n%s", out)
	}
}

// TestRealRunRefusesAnotherContext: with the current context not thor, nothing but the
// context check runs.
func TestRealRunRefusesAnotherContext(t *testing.T) {
	logFile := fakeTools(t, "staging")
	var stdout, stderr bytes.Buffer
	err := run([]string{"-repo", "../../../..", "-context", "thor", "-registry", "registry.test", "-secrets", secretsFile(t)}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), `"staging"`) || !strings.Contains(err.Error(), "refusing") {
		t.Fatalf("run() with context staging = %v, want a refusal naming it", err)
	}
	if got := calls(t, logFile); len(got) != 1 || got[0] != "kubectl config current-context" {
		t.Errorf("calls after the refusal: %q, want only the context check", got)
	}
}

// TestRealRunRefusesWithoutItsInputs: no registry, no secrets file, one inside the
// repository, or one with a placeholder: refused before any tool runs.
func TestRealRunRefusesWithoutItsInputs(t *testing.T) {
	placeholder := filepath.Join(t.TempDir(), "p.env")
	if err := os.WriteFile(placeholder, []byte("SESSION_KEY=REPLACE_WITH_BASE64_32_RANDOM_BYTES\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	inRepo, _ := filepath.Abs("../../../../knative/secret.template.yaml")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no registry", []string{"-secrets", secretsFile(t)}, "no registry"},
		{"no secrets file", []string{"-registry", "r.test"}, "no secrets file"},
		{"a secrets file in the repository", []string{"-registry", "r.test", "-secrets", inRepo}, "inside the repository"},
		{"a placeholder", []string{"-registry", "r.test", "-secrets", placeholder}, "placeholder [SESSION_KEY]"},
		{"an unknown target", []string{"-context", "nope", "-registry", "r.test", "-secrets", secretsFile(t)}, "nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logFile := fakeTools(t, "thor")
			t.Setenv("DIARY_REGISTRY", "")
			t.Setenv("DIARY_SECRETS_FILE", "")
			var stdout, stderr bytes.Buffer
			err := run(append([]string{"-repo", "../../../.."}, tt.args...), &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("run(%s) = %v, want an error with %q", tt.name, err, tt.want)
			}
			if got := calls(t, logFile); len(got) != 1 || got[0] != "" {
				t.Errorf("tools ran before the refusal: %q", got)
			}
		})
	}
}
