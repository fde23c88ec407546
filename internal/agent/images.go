package agent

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/skiff-sh/skiff/internal/containerd"
	"github.com/skiff-sh/skiff/internal/oci"
	"github.com/skiff-sh/skiff/internal/pause"
)

// infraRegistry names the infra image. The name is never resolved: the
// registry configuration sends every pull of it to the agent's own
// endpoint on loopback.
const infraRegistry = "skiff.internal"

// prepareImages puts the infra image in the agent's store, serves the store
// to containerd on loopback, and points containerd at it: for the infra
// image's registry alone, and as the first mirror of every other registry
// (then RegistryMirrors, then those Registries names), so that an image
// imported with `skiff image import` starts on a machine with no registry
// access while a pull of anything else still reaches its registry. It
// returns the infra image's name.
func (a *Agent) prepareImages(ctx context.Context, g *errgroup.Group) (string, error) {
	program, err := pause.Binary()
	if err != nil {
		return "", err
	}
	img, err := oci.Build(oci.Config{Entrypoint: []string{"/pause"}}, []oci.File{{Path: "pause", Mode: 0o755, Data: program}})
	if err != nil {
		return "", fmt.Errorf("agent: build infra image: %w", err)
	}
	version := a.cfg.Version
	if version == "" {
		version = "latest"
	}
	name := infraRegistry + "/pause:" + tagSafe(version)
	if err := a.cfg.Images.Add(ctx, name, img); err != nil {
		return "", fmt.Errorf("agent: store infra image: %w", err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("agent: image endpoint: %w", err)
	}
	srv := &http.Server{Handler: oci.NewRegistry(a.log.With("component", "images"), a.cfg.Images), ReadHeaderTimeout: 30 * time.Second}
	g.Go(func() error {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("agent: image endpoint: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(shutdown)
	})

	local := containerd.Endpoint{URL: "http://" + ln.Addr().String()}
	if err := containerd.WriteHosts(a.registryConfigDir(), infraRegistry, containerd.Hosts{Server: local}); err != nil {
		return "", err
	}
	mirrors := append([]containerd.Endpoint{local}, a.cfg.RegistryMirrors...)
	files, err := a.cfg.Registries.hostsFiles(mirrors)
	if err != nil {
		return "", err
	}
	for _, host := range slices.Sorted(maps.Keys(files)) {
		if err := containerd.WriteHosts(a.registryConfigDir(), host, files[host]); err != nil {
			return "", err
		}
	}
	return name, nil
}

// tagSafe turns a version like "v0.3.0+dirty" into a valid image tag.
func tagSafe(v string) string {
	out := []byte(v)
	for i, c := range out {
		ok := c == '_' || c == '.' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !ok {
			out[i] = '-'
		}
	}
	if len(out) > 128 {
		out = out[:128]
	}
	return string(out)
}
