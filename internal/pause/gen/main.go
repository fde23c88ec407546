// Command gen rebuilds pause.gz, the embedded infra program, from
// cmd/skiff-pause. Every input of the build is pinned (target, flags, no VCS
// stamp, no build ID, no gzip name or mtime) so that the same toolchain always
// produces the same bytes and a test can prove the artifact matches its source.
package main

import (
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

const pkg = "github.com/skiff-sh/skiff/cmd/skiff-pause"

func main() {
	out := flag.String("o", "pause.gz", "file to write the gzip'd program to")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	tmp, err := os.MkdirTemp("", "skiff-pause-gen-")
	if err != nil {
		return fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(tmp)

	bin := filepath.Join(tmp, "skiff-pause")
	build := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid=", "-o", bin, pkg)
	// Later entries win, so these override whatever the caller's environment
	// says; GOFLAGS is cleared so that no stray flag (-race, -cover) leaks in.
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOAMD64=v1", "GOFLAGS=")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build %s: %w", pkg, err)
	}
	program, err := os.ReadFile(bin)
	if err != nil {
		return fmt.Errorf("read program: %w", err)
	}

	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return fmt.Errorf("gzip: %w", err)
	}
	// The zero header has no name and no mtime: nothing time- or path-dependent.
	if _, err := zw.Write(program); err != nil {
		return fmt.Errorf("gzip: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("gzip: %w", err)
	}

	partial := out + ".tmp"
	if err := os.WriteFile(partial, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", partial, err)
	}
	if err := os.Rename(partial, out); err != nil {
		return fmt.Errorf("replace %s: %w", out, err)
	}
	return nil
}
