package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// checkDocs opens the API reference page of the API at api and fails unless it lists
// every operation of the OpenAPI document the API serves, group by group (the path
// segment after /api/v1; the gateway's own paths as "gateway"), and nothing else; the page
// must load nothing from another origin, break no rule of its Content-Security-Policy and
// throw no exception.
func checkDocs(ctx context.Context, browser context.Context, api string) error {
	want, err := documentedOperations(ctx, api)
	if err != nil {
		return err
	}
	t, err := openTab(browser)
	if err != nil {
		return err
	}
	defer t.close()

	// Swagger UI renders every operation of every tag (docExpansion "list"): wait until as
	// many are on the page as the document has, or the bound passes.
	until := fmt.Sprintf(`document.querySelectorAll(".opblock").length >= %d`, len(want))
	loadErr := t.load(strings.TrimRight(api, "/")+"/api/v1/docs", until, 90*time.Second)

	rendered, err := evaluate[[][2]string](t, `Array.from(document.querySelectorAll(".opblock")).map((b) => {
		const m = b.querySelector(".opblock-summary-method");
		const p = b.querySelector(".opblock-summary-path");
		return [m ? m.textContent.trim() : "", p ? (p.getAttribute("data-path") || p.textContent).replace(/\u200b/g, "").trim() : ""];
	})`)
	if err != nil {
		return err
	}
	var problems []string
	if loadErr != nil {
		problems = append(problems, loadErr.Error())
	}
	got := map[operation]bool{}
	for _, r := range rendered {
		op := operation{method: strings.ToUpper(r[0]), path: r[1]}
		if got[op] {
			problems = append(problems, "listed twice: "+op.String())
		}
		got[op] = true
	}
	groups := map[string][2]int{} // group: listed, documented
	for op := range want {
		c := groups[op.group()]
		c[1]++
		if got[op] {
			c[0]++
		} else {
			problems = append(problems, "not listed: "+op.String())
		}
		groups[op.group()] = c
	}
	for op := range got {
		if !want[op] {
			problems = append(problems, "listed but not in openapi.json: "+op.String())
		}
	}
	names := make([]string, 0, len(groups))
	for g := range groups {
		names = append(names, g)
	}
	slices.Sort(names)
	for _, g := range names {
		fmt.Printf("docs: %-14s %d of %d operations listed\n", g, groups[g][0], groups[g][1])
	}
	problems = append(problems, t.mustStayOnOrigin(api)...)
	if len(problems) > 0 {
		return fmt.Errorf("the API reference page:\n  %s", strings.Join(problems, "\n  "))
	}
	fmt.Printf("docs: ok, %d operations in %d groups rendered by Chromium\n", len(want), len(groups))
	return nil
}

// mustStayOnOrigin lists what the tab did that a page of the API must not: a request to
// another origin (a CDN), a failed request, a Content-Security-Policy violation, an
// exception.
func (t *tab) mustStayOnOrigin(api string) []string {
	var problems []string
	base, _ := url.Parse(api)
	requests, failed, exceptions := t.recorded()
	for _, r := range requests {
		u, err := url.Parse(r)
		if err != nil || (u.Scheme != "data" && u.Host != base.Host) {
			problems = append(problems, "requested another origin: "+r)
		}
	}
	for _, f := range failed {
		problems = append(problems, fmt.Sprintf("request failed: %s (%s)", f.url, f.errorText))
	}
	for _, e := range exceptions {
		problems = append(problems, "exception: "+e)
	}
	violations, err := t.cspViolations()
	if err != nil {
		problems = append(problems, err.Error())
	}
	for _, v := range violations {
		problems = append(problems, "Content-Security-Policy: "+v)
	}
	return problems
}

// operation is one documented operation.
type operation struct{ method, path string }

func (o operation) String() string { return o.method + " " + o.path }

// group is the endpoint group of the operation: the segment after /api/v1, or "gateway".
func (o operation) group() string {
	rest, ok := strings.CutPrefix(o.path, "/api/v1/")
	if !ok {
		return "gateway"
	}
	seg, _, _ := strings.Cut(rest, "/")
	if seg == "openapi.json" || seg == "docs" {
		return "gateway"
	}
	return seg
}

// documentedOperations reads the operations of the document the API serves.
func documentedOperations(ctx context.Context, api string) (map[operation]bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(api, "/")+"/api/v1/openapi.json", nil)
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get openapi.json: %w", err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("get openapi.json: %d, %v", res.StatusCode, err)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("openapi.json: %w", err)
	}
	ops := map[operation]bool{}
	for path, item := range doc.Paths {
		for key := range item {
			if slices.Contains([]string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}, key) {
				ops[operation{strings.ToUpper(key), path}] = true
			}
		}
	}
	if len(ops) == 0 {
		return nil, errors.New("openapi.json documents no operation")
	}
	return ops, nil
}
