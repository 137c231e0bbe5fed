// Command deploy is scripts/deploy: the whole rollout of the project to a Knative cluster,
// in order (package deploy builds the plan). With -dry-run it prints every command and
// the manifests it would apply, and touches nothing: no cluster, no kubectl, ko or func.
//
//	scripts/deploy [--dry-run] [--context thor] [--registry REGISTRY] [--secrets FILE]
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/xmojo/diary/knative/validate/deploy"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("deploy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dryRun := fs.Bool("dry-run", false, "print every command and the rendered manifests; touch nothing")
	target := fs.String("context", "thor", "the target: knative/overlays/<context>, whose deploy.yaml names the kubectl context it must run against")
	repo := fs.String("repo", ".", "the repository root")
	registry := fs.String("registry", os.Getenv("DIARY_REGISTRY"), "the image registry for func deploy and ko ($DIARY_REGISTRY)")
	secrets := fs.String("secrets", os.Getenv("DIARY_SECRETS_FILE"), "the operator's KEY=VALUE file for the Secret ($DIARY_SECRETS_FILE); never inside the repository")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	root, err := filepath.Abs(*repo)
	if err != nil {
		return err
	}
	overlay := filepath.Join(root, "knative", "overlays", *target)
	settings, err := deploy.LoadSettings(overlay)
	if err != nil {
		return err
	}
	if settings.Context != *target {
		return fmt.Errorf("%s/deploy.yaml names the kubectl context %q, not %q", overlay, settings.Context, *target)
	}
	fns, err := deploy.Discover(root)
	if err != nil {
		return err
	}
	secret, templateKeys, err := deploy.TemplateSecret(root)
	if err != nil {
		return err
	}
	keys := union(templateKeys, deploy.SecretKeys(fns, secret))
	if !*dryRun {
		if *registry == "" {
			return errors.New("no registry: pass --registry or set DIARY_REGISTRY")
		}
		if *secrets == "" {
			return fmt.Errorf("no secrets file: pass --secrets FILE (KEY=VALUE lines for %v); scripts/deploy never creates the Secret from the repository", keys)
		}
		if inside(root, *secrets) {
			return fmt.Errorf("the secrets file %s is inside the repository: keep it outside, where it cannot be committed", *secrets)
		}
		if err := deploy.CheckSecretsFile(*secrets, keys); err != nil {
			return err
		}
	}
	r, err := deploy.Render(root, *target, settings)
	if err != nil {
		return err
	}
	plan, err := deploy.NewPlan(r, settings, fns, secret, deploy.Options{Registry: *registry, SecretsFile: *secrets})
	if err != nil {
		return err
	}
	if *dryRun {
		printPlan(stdout, plan, keys)
		return nil
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return execute(ctx, root, plan, stdout, stderr)
}

func union(a, b []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, k := range append(append([]string{}, a...), b...) {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// inside reports whether file lies under dir.
func inside(dir, file string) bool {
	abs, err := filepath.Abs(file)
	if err != nil {
		return false
	}
	rel, err := filepath.Rel(dir, abs)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// printPlan writes the plan: a header, one "$ command" line per step under its title,
// then each rendered manifest stream.
func printPlan(w io.Writer, p *deploy.Plan, keys []string) {
	fmt.Fprintf(w, "# scripts/deploy plan (dry run): context %s, namespace %s, host %s\n", p.Context, p.Namespace, p.Host)
	fmt.Fprintf(w, "# the Secret's keys, from the operator's file (--secrets): %s\n", strings.Join(keys, " "))
	for i, s := range p.Steps {
		fmt.Fprintf(w, "\n# step %d/%d: %s\n$ %s\n", i+1, len(p.Steps), s.Title, s.Command())
		if s.Want != "" {
			how := "contain"
			if s.Exact {
				how = "be"
			}
			fmt.Fprintf(w, "#   its output must %s: %s\n", how, s.Want)
		}
	}
	for _, name := range p.Order {
		fmt.Fprintf(w, "\n# ==== rendered %s ====\n%s", name, p.Manifests[name])
	}
}

// execute runs the plan's steps in order and stops at the first failure.
func execute(ctx context.Context, root string, p *deploy.Plan, stdout, stderr io.Writer) error {
	streams := map[string][]byte{}
	for k, v := range p.Manifests {
		streams[k] = v
	}
	for i, s := range p.Steps {
		fmt.Fprintf(stderr, "[deploy] step %d/%d: %s\n[deploy] $ %s\n", i+1, len(p.Steps), s.Title, s.Command())
		cmd := exec.CommandContext(ctx, s.Args[0], s.Args[1:]...)
		cmd.Dir = filepath.Join(root, s.Dir)
		cmd.Env = append(os.Environ(), s.Env...)
		cmd.Stderr = stderr
		if s.Stdin != "" {
			in, ok := streams[s.Stdin]
			if !ok {
				return fmt.Errorf("step %d: no stream %s", i+1, s.Stdin)
			}
			cmd.Stdin = bytes.NewReader(in)
		}
		var out bytes.Buffer
		if s.Stdout != "" || s.Want != "" {
			cmd.Stdout = &out
		} else {
			cmd.Stdout = stdout
		}
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("step %d (%s): %s: %w", i+1, s.Title, s.Args[0], err)
		}
		if s.Want != "" {
			got := strings.TrimSpace(out.String())
			if (s.Exact && got != s.Want) || (!s.Exact && !strings.Contains(got, s.Want)) {
				if s.Exact {
					return fmt.Errorf("step %d (%s): got %q, want %q: refusing to go on", i+1, s.Title, got, s.Want)
				}
				return fmt.Errorf("step %d (%s): the answer does not contain %s", i+1, s.Title, s.Want)
			}
		}
		if s.Stdout != "" {
			streams[s.Stdout] = out.Bytes()
		}
	}
	fmt.Fprintf(stderr, "[deploy] done: https://%s\n", p.Host)
	return nil
}
