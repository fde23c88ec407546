package kubelet

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// volume is a pod volume ready to be bind-mounted.
type volume struct {
	path string
	// readOnly forces every mount of the volume read-only (the API-data
	// volumes, which the kubelet owns).
	readOnly bool
}

// Volume plugin directory names, upstream's, under <pod dir>/volumes.
const (
	pluginEmptyDir  = "kubernetes.io~empty-dir"
	pluginConfigMap = "kubernetes.io~configmap"
	pluginSecret    = "kubernetes.io~secret"
	pluginDownward  = "kubernetes.io~downward-api"
	pluginProjected = "kubernetes.io~projected"
)

// setupVolumes prepares every volume of the pod on the host: emptyDir
// directories (a tmpfs for medium Memory), checked or created hostPaths, and ConfigMap, Secret, downward-API and
// projected files, rewritten when their source changed.
func (k *Kubelet) setupVolumes(pod *corev1.Pod, src *objectSource) (map[string]volume, error) {
	vols := make(map[string]volume, len(pod.Spec.Volumes))
	for _, v := range pod.Spec.Volumes {
		vol, err := k.setupVolume(pod, v, src)
		if err != nil {
			return nil, fmt.Errorf("volume %q: %w", v.Name, err)
		}
		vols[v.Name] = vol
	}
	return vols, nil
}

func (k *Kubelet) setupVolume(pod *corev1.Pod, v corev1.Volume, src *objectSource) (volume, error) {
	dir := func(plugin string) string {
		return filepath.Join(k.podDir(pod), "volumes", plugin, v.Name)
	}
	switch {
	case v.EmptyDir != nil:
		path := dir(pluginEmptyDir)
		if err := os.MkdirAll(path, 0o750); err != nil {
			return volume{}, err
		}
		if v.EmptyDir.Medium == corev1.StorageMediumMemory {
			return volume{path: path}, mountTmpfs(path, k.memoryVolumeSize(pod, v.EmptyDir))
		}
		// World-writable like upstream's, so non-root containers can use it.
		return volume{path: path}, os.Chmod(path, 0o777)
	case v.HostPath != nil:
		return volume{path: v.HostPath.Path}, checkHostPath(v.HostPath)
	case v.ConfigMap != nil:
		files, err := configMapFiles(v.ConfigMap.Name, v.ConfigMap.Items, v.ConfigMap.DefaultMode, v.ConfigMap.Optional, src)
		if err != nil {
			return volume{}, err
		}
		path := dir(pluginConfigMap)
		return volume{path: path, readOnly: true}, writeProjection(path, files)
	case v.Secret != nil:
		files, err := secretFiles(v.Secret.SecretName, v.Secret.Items, v.Secret.DefaultMode, v.Secret.Optional, src)
		if err != nil {
			return volume{}, err
		}
		path := dir(pluginSecret)
		return volume{path: path, readOnly: true}, writeProjection(path, files)
	case v.DownwardAPI != nil:
		files, err := k.downwardFiles(pod, v.DownwardAPI.Items, v.DownwardAPI.DefaultMode)
		if err != nil {
			return volume{}, err
		}
		path := dir(pluginDownward)
		return volume{path: path, readOnly: true}, writeProjection(path, files)
	case v.Projected != nil:
		files, err := k.projectedFiles(pod, v.Projected, src)
		if err != nil {
			return volume{}, err
		}
		path := dir(pluginProjected)
		return volume{path: path, readOnly: true}, writeProjection(path, files)
	}
	return volume{}, fmt.Errorf("unsupported volume source")
}

// memoryVolumeSize is the size of a memory-backed emptyDir, as upstream
// sizes it: its sizeLimit, at most the pod's memory limit, or the node's
// allocatable memory for a pod without one. Its pages count against the
// pod's memory either way.
func (k *Kubelet) memoryVolumeSize(pod *corev1.Pod, ed *corev1.EmptyDirVolumeSource) int64 {
	var limit int64
	for _, c := range pod.Spec.Containers {
		if m, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
			limit += m.Value()
		}
	}
	if limit == 0 {
		if m, ok := k.cfg.NodeAllocatable[corev1.ResourceMemory]; ok {
			limit = m.Value()
		}
	}
	if ed.SizeLimit != nil && ed.SizeLimit.Value() > 0 && (limit == 0 || ed.SizeLimit.Value() < limit) {
		return ed.SizeLimit.Value()
	}
	return limit
}

// checkHostPath applies a hostPath's type: the *OrCreate types create what
// is missing, the others require the right kind of file.
func checkHostPath(h *corev1.HostPathVolumeSource) error {
	typ := corev1.HostPathUnset
	if h.Type != nil {
		typ = *h.Type
	}
	path := h.Path
	fi, err := os.Stat(path)
	exists := err == nil
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("hostPath type check failed: %w", err)
	}
	switch typ {
	case corev1.HostPathUnset:
		return nil
	case corev1.HostPathDirectoryOrCreate:
		if !exists {
			return os.MkdirAll(path, 0o755)
		}
	case corev1.HostPathFileOrCreate:
		if !exists {
			f, err := os.OpenFile(path, os.O_CREATE|os.O_RDONLY, 0o644)
			if err != nil {
				return fmt.Errorf("hostPath type check failed: %w", err)
			}
			return f.Close()
		}
	}
	if !exists {
		return fmt.Errorf("hostPath type check failed: %s does not exist", path)
	}
	mode := fi.Mode()
	switch typ {
	case corev1.HostPathDirectory, corev1.HostPathDirectoryOrCreate:
		if !mode.IsDir() {
			return fmt.Errorf("hostPath type check failed: %s is not a directory", path)
		}
	case corev1.HostPathFile, corev1.HostPathFileOrCreate:
		if !mode.IsRegular() {
			return fmt.Errorf("hostPath type check failed: %s is not a file", path)
		}
	case corev1.HostPathSocket:
		if mode&os.ModeSocket == 0 {
			return fmt.Errorf("hostPath type check failed: %s is not a socket file", path)
		}
	case corev1.HostPathCharDev:
		if mode&os.ModeCharDevice == 0 {
			return fmt.Errorf("hostPath type check failed: %s is not a character device", path)
		}
	case corev1.HostPathBlockDev:
		if mode&os.ModeDevice == 0 || mode&os.ModeCharDevice != 0 {
			return fmt.Errorf("hostPath type check failed: %s is not a block device", path)
		}
	default:
		return fmt.Errorf("hostPath type %q is not supported", typ)
	}
	return nil
}

// makeMounts returns a container's mounts: its volumeMounts, then the
// managed /etc/hosts and the termination-message file.
func (k *Kubelet) makeMounts(pod *corev1.Pod, c *corev1.Container, vols map[string]volume, env *envList, restarts int32, podIPs []string) ([]*runtimeapi.Mount, error) {
	var mounts []*runtimeapi.Mount
	ownHosts := false
	for _, m := range c.VolumeMounts {
		vol, ok := vols[m.Name]
		if !ok {
			return nil, fmt.Errorf("cannot find volume %q to mount into container %q", m.Name, c.Name)
		}
		host, err := subPathHost(vol.path, m, env)
		if err != nil {
			return nil, err
		}
		if m.MountPath == etcHostsPath {
			ownHosts = true
		}
		mounts = append(mounts, &runtimeapi.Mount{
			ContainerPath: m.MountPath,
			HostPath:      host,
			Readonly:      m.ReadOnly || vol.readOnly,
			Propagation:   propagation(m.MountPropagation),
		})
	}
	if !ownHosts && len(podIPs) > 0 {
		path, err := k.writeHostsFile(pod, podIPs)
		if err != nil {
			return nil, err
		}
		mounts = append(mounts, &runtimeapi.Mount{ContainerPath: etcHostsPath, HostPath: path})
	}
	if c.TerminationMessagePath != "" {
		path, err := k.terminationLogFile(pod, c, restarts)
		if err != nil {
			return nil, err
		}
		mounts = append(mounts, &runtimeapi.Mount{ContainerPath: c.TerminationMessagePath, HostPath: path})
	}
	return mounts, nil
}

// subPathHost resolves a mount's subPath (or expanded subPathExpr) inside
// the volume, creating it as a directory if missing, as upstream does.
func subPathHost(volPath string, m corev1.VolumeMount, env *envList) (string, error) {
	sub := m.SubPath
	if m.SubPathExpr != "" {
		sub = expand(m.SubPathExpr, env.lookup)
	}
	if sub == "" {
		return volPath, nil
	}
	if filepath.IsAbs(sub) || strings.Contains("/"+filepath.ToSlash(sub)+"/", "/../") {
		return "", fmt.Errorf("subPath %q must be a relative path inside the volume", sub)
	}
	host := filepath.Join(volPath, sub)
	if _, err := os.Lstat(host); os.IsNotExist(err) {
		if err := os.MkdirAll(host, 0o750); err != nil {
			return "", fmt.Errorf("create subPath %q: %w", sub, err)
		}
	}
	return host, nil
}

func propagation(p *corev1.MountPropagationMode) runtimeapi.MountPropagation {
	if p == nil {
		return runtimeapi.MountPropagation_PROPAGATION_PRIVATE
	}
	switch *p {
	case corev1.MountPropagationHostToContainer:
		return runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER
	case corev1.MountPropagationBidirectional:
		return runtimeapi.MountPropagation_PROPAGATION_BIDIRECTIONAL
	}
	return runtimeapi.MountPropagation_PROPAGATION_PRIVATE
}

// terminationLogFile creates the empty file a container writes its
// termination message to; one per restart, so each instance's message is
// its own.
func (k *Kubelet) terminationLogFile(pod *corev1.Pod, c *corev1.Container, restarts int32) (string, error) {
	dir := filepath.Join(k.podDir(pod), "containers", c.Name)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", fmt.Errorf("create termination log directory: %w", err)
	}
	path := filepath.Join(dir, strconv.Itoa(int(restarts)))
	f, err := os.Create(path)
	if err != nil {
		return "", fmt.Errorf("create termination log: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	// Writable by whatever user the container runs as.
	return path, os.Chmod(path, 0o666)
}
