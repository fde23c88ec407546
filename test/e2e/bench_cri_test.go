package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/skiff-sh/skiff/internal/containerd"
)

// rawCRIBurst starts n pods at once straight through CRI, on the node's
// containerd, the way any kubelet must: RunPodSandbox, CreateContainer and
// StartContainer, with nothing else. The time it takes is the floor under
// any agent's burst on this machine. The pods are removed afterwards.
func rawCRIBurst(b *testing.B, endpoint, logDir string, n int) time.Duration {
	b.Helper()
	ctx := context.Background()
	conn, err := containerd.Dial(ctx, endpoint)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	rt := runtimeapi.NewRuntimeServiceClient(conn)

	ids := make([]string, n)
	errs := make([]error, n)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { ids[i], errs[i] = rawPod(ctx, rt, logDir, fmt.Sprintf("raw-%d", i)) })
	}
	wg.Wait()
	took := time.Since(start)
	for i := range n {
		if errs[i] != nil {
			b.Errorf("raw pod %d: %v", i, errs[i])
		}
		if ids[i] == "" {
			continue
		}
		if _, err := rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: ids[i]}); err != nil {
			b.Errorf("stop raw pod %d: %v", i, err)
		}
		if _, err := rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: ids[i]}); err != nil {
			b.Errorf("remove raw pod %d: %v", i, err)
		}
	}
	return took
}

// rawPod runs one sandbox with one busybox container and returns the
// sandbox's id.
func rawPod(ctx context.Context, rt runtimeapi.RuntimeServiceClient, logDir, name string) (string, error) {
	sandbox := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: name, Namespace: "bench-raw", Uid: name},
		Hostname:     name,
		LogDirectory: filepath.Join(logDir, name),
		Linux:        &runtimeapi.LinuxPodSandboxConfig{},
	}
	sb, err := rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: sandbox})
	if err != nil {
		return "", fmt.Errorf("run sandbox: %w", err)
	}
	c, err := rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{
		PodSandboxId: sb.PodSandboxId,
		Config: &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: "main"},
			Image:    &runtimeapi.ImageSpec{Image: busyboxRef},
			Command:  []string{"sleep", "3600"},
			LogPath:  "main.log",
			Linux:    &runtimeapi.LinuxContainerConfig{},
		},
		SandboxConfig: sandbox,
	})
	if err != nil {
		return sb.PodSandboxId, fmt.Errorf("create container: %w", err)
	}
	if _, err := rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: c.ContainerId}); err != nil {
		return sb.PodSandboxId, fmt.Errorf("start container: %w", err)
	}
	return sb.PodSandboxId, nil
}
