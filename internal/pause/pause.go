// Package pause carries the pod infra program (cmd/skiff-pause) inside the
// skiff binary, so that a node can build its sandbox image without a registry.
//
// pause.gz is generated (see gen.go) and committed; TestEmbeddedMatchesSource
// fails when it no longer matches a fresh build of its source.
package pause

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"io"
)

//go:embed pause.gz
var pauseGz []byte

// Binary returns the infra program: a static linux/amd64 executable.
func Binary() ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(pauseGz))
	if err != nil {
		return nil, fmt.Errorf("pause: open embedded program: %w", err)
	}
	program, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("pause: read embedded program: %w", err)
	}
	if err := zr.Close(); err != nil {
		return nil, fmt.Errorf("pause: read embedded program: %w", err)
	}
	return program, nil
}
