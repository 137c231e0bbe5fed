// Package monitoring checks the committed Grafana dashboard (dashboard.json) and
// PrometheusRule (prometheus-rule.yaml): every PromQL expression parses with Prometheus's
// own parser, every metric it uses is one the repository's code registers (found in the
// Go source, so a metric added anywhere is known without an edit here), the rule has the
// Prometheus Operator's shape, and every function is scraped. A module of its own
// (GOWORK=off) because Prometheus's module graph does not mix with Knative's.
package monitoring

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	promparser "github.com/prometheus/prometheus/promql/parser"
	"sigs.k8s.io/yaml"
)

const repoRoot = "../.."

// registered returns the metric names the repository's Go code registers, with the series
// each exposes: a histogram's _bucket, _sum and _count, a summary's _sum and _count.
// It reads every prometheus.<Kind>Opts composite literal whose Name is a string literal.
func registered(t *testing.T) map[string]string {
	t.Helper()
	names := map[string]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(repoRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); p != repoRoot && (strings.HasPrefix(n, ".") || n == "testdata" || n == "knative") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if !ok {
				return true
			}
			sel, ok := lit.Type.(*ast.SelectorExpr)
			if !ok || !strings.HasSuffix(sel.Sel.Name, "Opts") {
				return true
			}
			if x, ok := sel.X.(*ast.Ident); !ok || x.Name != "prometheus" {
				return true
			}
			kind := strings.TrimSuffix(sel.Sel.Name, "Opts")
			var parts [3]string // namespace, subsystem, name
			for _, e := range lit.Elts {
				kv, ok := e.(*ast.KeyValueExpr)
				if !ok {
					continue
				}
				key, _ := kv.Key.(*ast.Ident)
				bl, ok := kv.Value.(*ast.BasicLit)
				if key == nil || !ok || bl.Kind != token.STRING {
					continue
				}
				v, _ := strconv.Unquote(bl.Value)
				switch key.Name {
				case "Namespace":
					parts[0] = v
				case "Subsystem":
					parts[1] = v
				case "Name":
					parts[2] = v
				}
			}
			if parts[2] == "" {
				return true
			}
			var full []string
			for _, s := range parts {
				if s != "" {
					full = append(full, s)
				}
			}
			name := strings.Join(full, "_")
			where := fset.Position(lit.Pos()).String()
			names[name] = where
			switch kind {
			case "Histogram":
				for _, s := range []string{"_bucket", "_sum", "_count"} {
					names[name+s] = where
				}
			case "Summary":
				for _, s := range []string{"_sum", "_count"} {
					names[name+s] = where
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatalf("scan the Go source: %v", err)
	}
	if len(names) == 0 {
		t.Fatal("found no registered metric in the Go source")
	}
	return names
}

// metricNames parses expr with Prometheus's parser and returns the metric names its
// selectors use.
func metricNames(expr string) ([]string, error) {
	// Prometheus's parser with its default options: the functions a stock server knows.
	e, err := promparser.NewParser(promparser.Options{}).ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	var names []string
	promparser.Inspect(e, func(n promparser.Node, _ []promparser.Node) error {
		vs, ok := n.(*promparser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		for _, m := range vs.LabelMatchers {
			if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
				name = m.Value
			}
		}
		names = append(names, name)
		return nil
	})
	return names, nil
}

type expression struct{ where, expr string }

// dashboardExprs returns every target expression of dashboard.json, with Grafana's
// $__rate_interval (which Prometheus does not know) as a duration.
func dashboardExprs(t *testing.T) []expression {
	t.Helper()
	raw, err := os.ReadFile("dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Title  string `json:"title"`
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("dashboard.json: %v", err)
	}
	if d.Title == "" || d.UID == "" || len(d.Panels) == 0 {
		t.Fatalf("dashboard.json: title %q, uid %q, %d panels", d.Title, d.UID, len(d.Panels))
	}
	var out []expression
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("dashboard panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			out = append(out, expression{"dashboard panel " + p.Title, strings.ReplaceAll(tg.Expr, "$__rate_interval", "5m")})
		}
	}
	return out
}

// rule decodes prometheus-rule.yaml strictly into the Operator's own type.
func rule(t *testing.T) monitoringv1.PrometheusRule {
	t.Helper()
	raw, err := os.ReadFile("prometheus-rule.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var r monitoringv1.PrometheusRule
	if err := yaml.UnmarshalStrict(raw, &r); err != nil {
		t.Fatalf("prometheus-rule.yaml: %v", err)
	}
	return r
}

// TestPrometheusRuleShape: the rule decodes strictly as the Operator's PrometheusRule,
// every rule is an alert with a severity and a summary, "for" durations parse, and the
// alerts the issue asks for are there.
func TestPrometheusRuleShape(t *testing.T) {
	r := rule(t)
	if r.APIVersion != "monitoring.coreos.com/v1" || r.Kind != "PrometheusRule" || r.Name == "" {
		t.Fatalf("prometheus-rule.yaml: %s %s %q", r.APIVersion, r.Kind, r.Name)
	}
	alerts := map[string]bool{}
	for _, g := range r.Spec.Groups {
		if g.Name == "" || len(g.Rules) == 0 {
			t.Errorf("group %q is unnamed or empty", g.Name)
		}
		for _, rl := range g.Rules {
			if rl.Alert == "" || rl.Record != "" {
				t.Errorf("group %s: a rule that is not an alert (alert %q, record %q)", g.Name, rl.Alert, rl.Record)
			}
			if rl.Labels["severity"] == "" || rl.Annotations["summary"] == "" {
				t.Errorf("%s: needs labels.severity and annotations.summary", rl.Alert)
			}
			if rl.For != nil {
				if _, err := model.ParseDuration(string(*rl.For)); err != nil {
					t.Errorf("%s: for %q: %v", rl.Alert, *rl.For, err)
				}
			}
			alerts[rl.Alert] = true
		}
	}
	for _, want := range []string{"DiaryHigh5xxRatio", "DiaryHighP99Latency", "DiaryDeadLetters", "DiaryDailyCleanupNotRun", "DiaryIntegrationsNeedReauth", "DiaryArgon2SlotsSaturated"} {
		if !alerts[want] {
			t.Errorf("no alert %s", want)
		}
	}
}

// TestExpressionsParseAndUseRegisteredMetrics parses every expression of the dashboard and
// the rule with Prometheus's parser and checks each metric name against the code.
func TestExpressionsParseAndUseRegisteredMetrics(t *testing.T) {
	known := registered(t)
	exprs := dashboardExprs(t)
	for _, g := range rule(t).Spec.Groups {
		for _, rl := range g.Rules {
			exprs = append(exprs, expression{"alert " + rl.Alert, rl.Expr.String()})
		}
	}
	used := map[string]bool{}
	for _, e := range exprs {
		names, err := metricNames(e.expr)
		if err != nil {
			t.Errorf("%s: %q does not parse: %v", e.where, e.expr, err)
			continue
		}
		if len(names) == 0 {
			t.Errorf("%s: %q uses no metric", e.where, e.expr)
		}
		for _, n := range names {
			used[n] = true
			if _, ok := known[n]; !ok {
				t.Errorf("%s uses %s, which no code registers", e.where, n)
			}
		}
	}
	var list []string
	for n := range used {
		list = append(list, n+" ("+known[n]+")")
	}
	sort.Strings(list)
	t.Logf("metrics used: %s", strings.Join(list, ", "))
}

// TestTheChecksCanFail: a misspelt metric and a broken expression are caught.
func TestTheChecksCanFail(t *testing.T) {
	if _, err := metricNames(`sum(rate(diary_http_requests_total[5m]`); err == nil {
		t.Error("an unclosed expression parsed")
	}
	names, err := metricNames(`sum(rate(diary_http_request_total{status="500"}[5m])) / on() {__name__="diary_s3_errors_total"}`)
	if err != nil {
		t.Fatal(err)
	}
	known := registered(t)
	if _, ok := known["diary_http_request_total"]; ok || len(names) != 2 {
		t.Errorf("metricNames = %v; the misspelt diary_http_request_total must not be known", names)
	}
	if _, ok := known["diary_http_request_duration_seconds_bucket"]; !ok {
		t.Error("the gateway's histogram series are not found in the code")
	}
}

// TestEveryFunctionIsScraped: each functions/*/func.yaml serves shared/metrics
// (METRICS_ADDRESS) and carries the scrape annotations, so a new function's series reach
// the dashboard; the gateway's func.yaml too.
func TestEveryFunctionIsScraped(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(repoRoot, "functions", "*", "func.yaml"))
	files = append(files, filepath.Join(repoRoot, "func.yaml"))
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var fn struct {
			Run struct {
				Envs []struct{ Name, Value string } `json:"envs"`
			} `json:"run"`
			Deploy struct {
				Annotations map[string]string `json:"annotations"`
			} `json:"deploy"`
		}
		if err := yaml.Unmarshal(raw, &fn); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		addr := ""
		for _, e := range fn.Run.Envs {
			if e.Name == "METRICS_ADDRESS" {
				addr = e.Value
			}
		}
		a := fn.Deploy.Annotations
		if addr == "" || a["prometheus.io/scrape"] != "true" || !strings.HasSuffix(addr, ":"+a["prometheus.io/port"]) || a["prometheus.io/path"] != "/metrics" {
			t.Errorf("%s: METRICS_ADDRESS %q, annotations %v; want the metrics listener and prometheus.io/scrape, port and path for it", f, addr, a)
		}
	}
}
