package e2e

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/skiff-sh/skiff/internal/agent"
	"github.com/skiff-sh/skiff/internal/oci"
)

// A pod's image comes from a registry of its own on 127.0.0.1, not from
// the server's store: the ordinary pull path through CRI; another comes
// through a mirror the node's registries configuration names.
func TestPullFromRegistry(t *testing.T) {
	requireNode(t)
	store, err := oci.NewStore(filepath.Join(t.TempDir(), "registry"))
	if err != nil {
		t.Fatal(err)
	}
	reg := httptest.NewServer(oci.NewRegistry(nil, store))
	defer reg.Close()
	host := strings.TrimPrefix(reg.URL, "http://")
	image := host + "/e2e/busybox:1"
	// The registry serves names without a mirror's ns parameter as Docker
	// resolves them, so what is pulled as HOST/e2e/busybox is stored as
	// docker.io/e2e/busybox.
	if err := store.Add(context.Background(), "docker.io/e2e/busybox:1", busyboxImage(t)); err != nil {
		t.Fatal(err)
	}

	// A registry that answers nowhere (port 1 on loopback), mirrored by
	// the test's registry through the node's registries configuration.
	const unreachable = "127.0.0.1:1"
	if err := store.Add(context.Background(), unreachable+"/e2e/busybox:1", busyboxImage(t)); err != nil {
		t.Fatal(err)
	}
	c := startClusterWith(t, nil, func(c *cluster) {
		c.cfg.Agent.Registries = &agent.Registries{Mirrors: map[string]agent.RegistryMirror{
			unreachable: {Endpoints: []string{reg.URL}},
		}}
	})
	pod := shPod("pulled", "echo pulled from the registry; sleep 3600")
	pod.Spec.Containers[0].Image = image
	pod.Spec.Containers[0].ImagePullPolicy = "Always"
	c.create(t, pod)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("events:\n%s", c.events(t, "pulled"))
		}
	})
	p := c.waitPod(t, "pulled", "Running", running)
	if got := p.Status.ContainerStatuses[0].ImageID; !strings.HasPrefix(got, host+"/e2e/busybox@sha256:") {
		t.Errorf("imageID %q, want the registry's digest", got)
	}
	if ev := c.events(t, "pulled"); !strings.Contains(ev, "Successfully pulled image \""+image+"\"") {
		t.Errorf("events:\n%s", ev)
	}

	mirrored := shPod("mirrored", "sleep 3600")
	mirrored.Spec.Containers[0].Image = unreachable + "/e2e/busybox:1"
	mirrored.Spec.Containers[0].ImagePullPolicy = "Always"
	c.create(t, mirrored)
	c.waitPod(t, "mirrored", "Running from the mirror", running)
}
