package e2e

import (
	"os"
	"testing"

	"github.com/skiff-sh/skiff/internal/oci"
)

// httpdImage stands in for docker.io/library/httpd, as on a machine with
// no registry access.
func httpdImage(t *testing.T) *oci.Image {
	t.Helper()
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	img, err := oci.DemoHTTPD(bb, resolverFiles(t)...)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// busyboxRef names the test's busybox image.
const busyboxRef = "docker.io/library/busybox:latest"

// busyboxImage is Debian's static busybox with the applets the tests use.
func busyboxImage(t *testing.T) *oci.Image {
	t.Helper()
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	img, err := oci.Busybox(bb, []string{"sh", "sleep", "cat", "echo", "ls", "date", "tail", "cp", "mkdir", "hostname", "kill", "touch", "rm", "true", "false", "env", "httpd", "wget", "nslookup"}, oci.Config{Cmd: []string{"sh"}}, resolverFiles(t)...)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// resolverFiles let the images' static busybox resolve names in DNS.
func resolverFiles(t *testing.T) []oci.File {
	t.Helper()
	files, err := oci.HostResolverFiles()
	if err != nil {
		t.Fatal(err)
	}
	return files
}
