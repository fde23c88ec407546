package oci

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// ItWorks is the page the demo httpd image serves: the one the real httpd
// image serves.
const ItWorks = "<html><body><h1>It works!</h1></body></html>\n"

// Busybox builds an image of a static busybox binary at /bin/busybox with
// the given applets linked beside it, plus files. An empty Env gets
// PATH=/bin.
func Busybox(busybox []byte, applets []string, cfg Config, files ...File) (*Image, error) {
	layer := []File{{Path: "bin/busybox", Mode: 0o755, Data: busybox}}
	for _, a := range applets {
		layer = append(layer, File{Path: "bin/" + a, Mode: os.ModeSymlink | 0o777, Linkname: "busybox"})
	}
	layer = append(layer, files...)
	if len(cfg.Env) == 0 {
		cfg.Env = []string{"PATH=/bin"}
	}
	return Build(cfg, layer)
}

// DemoHTTPD is the image that stands in for docker.io/library/httpd on a
// machine with no registry: busybox's httpd serving ItWorks on port 80,
// from the document root the real image uses. A shell runs it so that the
// container stops on SIGTERM, as the real one does: httpd as PID 1 would
// ignore the signal and wait out the pod's grace period.
func DemoHTTPD(busybox []byte, files ...File) (*Image, error) {
	files = append(files, File{Path: "usr/local/apache2/htdocs/index.html", Mode: 0o644, Data: []byte(ItWorks)})
	return Busybox(busybox,
		[]string{"sh", "httpd", "ls", "cat", "echo", "wget", "nslookup", "sleep", "hostname", "true", "false", "env"},
		Config{
			Cmd:          []string{"sh", "-c", "trap 'exit 0' TERM; httpd -f -v -p 80 -h /usr/local/apache2/htdocs & wait"},
			WorkingDir:   "/usr/local/apache2",
			ExposedPorts: []string{"80/tcp"},
		},
		files...,
	)
}

// libcPaths are where Debian-style systems keep the C library, by
// architecture.
var libcPaths = []string{
	"lib/x86_64-linux-gnu/libc.so.6",
	"lib/aarch64-linux-gnu/libc.so.6",
	"lib64/libc.so.6",
	"lib/libc.so.6",
}

// HostResolverFiles are what a static glibc program such as Debian's
// busybox needs to look up host names (wget http://my-service): glibc
// loads its DNS and files lookups from the shared libc.so.6 at run time,
// as told by nsswitch.conf, and without them every name is a "bad
// address". It copies the host's libc to the same path in the image.
func HostResolverFiles() ([]File, error) {
	files := []File{{Path: "etc/nsswitch.conf", Mode: 0o644, Data: []byte("hosts: files dns\n")}}
	for _, p := range libcPaths {
		data, err := os.ReadFile("/" + p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("oci: resolver files: %w", err)
		}
		return append(files, File{Path: p, Mode: 0o755, Data: data}), nil
	}
	return nil, errors.New("oci: resolver files: no libc.so.6 on this machine")
}
