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
	img, err := oci.DemoHTTPD(bb)
	if err != nil {
		t.Fatal(err)
	}
	return img
}
