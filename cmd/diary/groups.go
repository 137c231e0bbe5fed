package main

import (
	"github.com/xmojo/diary"
	"github.com/xmojo/diary/functions/archive"
	"github.com/xmojo/diary/functions/auth"
	"github.com/xmojo/diary/functions/entries"
	"github.com/xmojo/diary/functions/fbsync"
	"github.com/xmojo/diary/functions/importer"
	"github.com/xmojo/diary/functions/indexer"
	"github.com/xmojo/diary/functions/integrations"
	"github.com/xmojo/diary/functions/janitor"
	"github.com/xmojo/diary/functions/jobs"
	"github.com/xmojo/diary/functions/media"
	"github.com/xmojo/diary/functions/purge"
	"github.com/xmojo/diary/functions/search"
)

// groupFunction is one endpoint group's function: its constructor and its OpenAPI
// fragment.
type groupFunction struct {
	newFunction func() diary.HTTPFunction
	openAPI     []byte
}

// groupTable holds a row for each group the gateway routes (diary.Groups), by name.
var groupTable = map[string]groupFunction{
	"auth":         {func() diary.HTTPFunction { return auth.New() }, auth.OpenAPI},
	"entries":      {func() diary.HTTPFunction { return entries.New() }, entries.OpenAPI},
	"media":        {func() diary.HTTPFunction { return media.New() }, media.OpenAPI},
	"jobs":         {func() diary.HTTPFunction { return jobs.New() }, jobs.OpenAPI},
	"search":       {func() diary.HTTPFunction { return search.New() }, search.OpenAPI},
	"integrations": {func() diary.HTTPFunction { return integrations.New() }, integrations.OpenAPI},
	"archive":      {func() diary.HTTPFunction { return archive.New() }, archive.OpenAPI},
}

// groupFunctions returns a new function for each group, for the gateway to run in-process.
func groupFunctions() map[string]diary.HTTPFunction {
	fns := make(map[string]diary.HTTPFunction, len(groupTable))
	for name, g := range groupTable {
		fns[name] = g.newFunction()
	}
	return fns
}

// subscribers are the CloudEvents functions run in-process, by the Knative Service name
// the Triggers use (subscriber.ref.name).
func subscribers() map[string]any {
	return map[string]any{
		"janitor":  janitor.New(),
		"indexer":  indexer.New(),
		"fbsync":   fbsync.New(),
		"importer": importer.New(),
		"purge":    purge.New(),
	}
}
