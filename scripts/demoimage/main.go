// Command demoimage writes the demo httpd image as an OCI-layout archive for
// `skiff image import`: Debian's static busybox running its httpd on port
// 80 and serving the page the real httpd image serves, so that the seed's
// `image: httpd` runs on a machine with no registry access.
//
//	go run ./scripts/demoimage -o httpd.tar
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/skiff-sh/skiff/internal/oci"
)

func main() {
	out := flag.String("o", "httpd.tar", "archive to write")
	busybox := flag.String("busybox", "/bin/busybox", "static busybox binary")
	name := flag.String("name", "docker.io/library/httpd:latest", "image name")
	flag.Parse()
	if err := run(*out, *busybox, *name); err != nil {
		fmt.Fprintln(os.Stderr, "demoimage:", err)
		os.Exit(1)
	}
}

func run(out, busybox, name string) error {
	bb, err := os.ReadFile(busybox)
	if err != nil {
		return err
	}
	resolver, err := oci.HostResolverFiles()
	if err != nil {
		return err
	}
	img, err := oci.DemoHTTPD(bb, resolver...)
	if err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if err := img.WriteLayout(f, name); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
