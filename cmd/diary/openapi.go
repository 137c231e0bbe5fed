package main

import (
	"fmt"
	"os"

	"github.com/xmojo/diary"
)

// mergedOpenAPI is the gateway's document with every group's fragment merged in.
func mergedOpenAPI() ([]byte, error) {
	fragments := make(map[string][]byte, len(groupTable))
	for name, g := range groupTable {
		fragments[name] = g.openAPI
	}
	return diary.MergeOpenAPI(fragments)
}

// writeOpenAPI writes the merged document to path: the committed openapi.json the gateway
// serves.
func writeOpenAPI(path string) error {
	raw, err := mergedOpenAPI()
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		return fmt.Errorf("write openapi: %w", err)
	}
	return nil
}
