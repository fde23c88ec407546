package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/skiff-sh/skiff/internal/oci"
)

const imageUsage = `Usage:
  skiff image import [--data-dir DIR] FILE.tar...   store images from OCI-layout or docker-save archives
  skiff image ls [--data-dir DIR]                   list the stored images
  skiff image rm [--data-dir DIR] NAME...           remove images

Nodes pull stored images before trying any registry, so an imported
"httpd" (docker.io/library/httpd:latest) starts with no registry access.
`

// runImage manages the server's image store in its data dir, which the
// running server reads at every pull.
func runImage(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, imageUsage)
		return fmt.Errorf("an image command is required")
	}
	fs := flag.NewFlagSet("skiff image "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", "/var/lib/skiff", "the server's data dir")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	store, err := oci.NewStore(filepath.Join(*dataDir, "images"))
	if err != nil {
		return err
	}
	ctx := context.Background()
	switch args[0] {
	case "import":
		if fs.NArg() == 0 {
			return fmt.Errorf("image import: an archive is required")
		}
		for _, path := range fs.Args() {
			if err := importArchive(ctx, store, path, stdout); err != nil {
				return err
			}
		}
		return nil
	case "ls", "list":
		images, err := store.List()
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 8, 3, ' ', 0)
		fmt.Fprintln(tw, "NAME\tDIGEST\tSIZE")
		for _, img := range images {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", img.Name, img.Digest.Encoded()[:12], humanBytes(img.Size))
		}
		return tw.Flush()
	case "rm", "remove":
		if fs.NArg() == 0 {
			return fmt.Errorf("image rm: a name is required")
		}
		for _, name := range fs.Args() {
			ref, err := oci.ParseReference(name)
			if err != nil {
				return err
			}
			if err := store.Remove(ref.String()); err != nil {
				return fmt.Errorf("image rm %s: %w", name, err)
			}
			fmt.Fprintln(stdout, "Removed", ref.String())
		}
		return nil
	}
	fmt.Fprint(stderr, imageUsage)
	return fmt.Errorf("unknown image command %q", args[0])
}

func importArchive(ctx context.Context, store *oci.Store, path string, stdout io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	names, err := store.Import(ctx, f)
	if err != nil {
		return fmt.Errorf("image import %s: %w", path, err)
	}
	for _, n := range names {
		fmt.Fprintln(stdout, "Imported", n)
	}
	return nil
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGT"[exp])
}
