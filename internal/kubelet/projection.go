package kubelet

import (
	"bytes"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// projectedFile is one file of a ConfigMap, Secret or downward-API volume.
type projectedFile struct {
	data []byte
	mode fs.FileMode
}

const (
	defaultVolumeMode = 0o644
	dataLink          = "..data"
)

// configMapFiles lists a ConfigMap's files for a volume or projection:
// every key, or the items chosen, with their modes.
func configMapFiles(name string, items []corev1.KeyToPath, mode *int32, opt *bool, src *objectSource) (map[string]projectedFile, error) {
	cm, err := src.configMap(name)
	if err != nil {
		return nil, err
	}
	if cm == nil {
		if optional(opt) {
			return map[string]projectedFile{}, nil
		}
		return nil, fmt.Errorf("configmap %q not found", name)
	}
	data := make(map[string][]byte, len(cm.Data)+len(cm.BinaryData))
	for key, val := range cm.Data {
		data[key] = []byte(val)
	}
	maps.Copy(data, cm.BinaryData)
	return keyFiles(data, items, mode, optional(opt), "configmap")
}

// secretFiles lists a Secret's files, as configMapFiles does.
func secretFiles(name string, items []corev1.KeyToPath, mode *int32, opt *bool, src *objectSource) (map[string]projectedFile, error) {
	s, err := src.secret(name)
	if err != nil {
		return nil, err
	}
	if s == nil {
		if optional(opt) {
			return map[string]projectedFile{}, nil
		}
		return nil, fmt.Errorf("secret %q not found", name)
	}
	return keyFiles(s.Data, items, mode, optional(opt), "secret")
}

// projectedFiles merges the files of a projected volume's sources.
// Service account tokens need the TokenRequest API, which Skiff's API
// server does not serve yet.
func (k *Kubelet) projectedFiles(pod *corev1.Pod, v *corev1.ProjectedVolumeSource, src *objectSource) (map[string]projectedFile, error) {
	files := map[string]projectedFile{}
	for _, p := range v.Sources {
		var part map[string]projectedFile
		var err error
		switch {
		case p.ConfigMap != nil:
			part, err = configMapFiles(p.ConfigMap.Name, p.ConfigMap.Items, v.DefaultMode, p.ConfigMap.Optional, src)
		case p.Secret != nil:
			part, err = secretFiles(p.Secret.Name, p.Secret.Items, v.DefaultMode, p.Secret.Optional, src)
		case p.DownwardAPI != nil:
			part, err = k.downwardFiles(pod, p.DownwardAPI.Items, v.DefaultMode)
		default:
			err = fmt.Errorf("projected volume source %s is not supported", projectionKind(p))
		}
		if err != nil {
			return nil, err
		}
		maps.Copy(files, part)
	}
	return files, nil
}

func projectionKind(p corev1.VolumeProjection) string {
	switch {
	case p.ServiceAccountToken != nil:
		return "serviceAccountToken"
	case p.ClusterTrustBundle != nil:
		return "clusterTrustBundle"
	case p.PodCertificate != nil:
		return "podCertificate"
	}
	return "(unknown)"
}

func keyFiles(data map[string][]byte, items []corev1.KeyToPath, defaultMode *int32, opt bool, kind string) (map[string]projectedFile, error) {
	mode := fs.FileMode(defaultVolumeMode)
	if defaultMode != nil {
		mode = fs.FileMode(*defaultMode)
	}
	files := map[string]projectedFile{}
	if len(items) == 0 {
		for key, val := range data {
			files[key] = projectedFile{data: val, mode: mode}
		}
		return files, nil
	}
	for _, it := range items {
		val, ok := data[it.Key]
		if !ok {
			if opt {
				continue
			}
			return nil, fmt.Errorf("%s references non-existent config key: %s", kind, it.Key)
		}
		m := mode
		if it.Mode != nil {
			m = fs.FileMode(*it.Mode)
		}
		files[it.Path] = projectedFile{data: val, mode: m}
	}
	return files, nil
}

// downwardFiles lists a downward-API volume's or projection's files.
func (k *Kubelet) downwardFiles(pod *corev1.Pod, items []corev1.DownwardAPIVolumeFile, defaultMode *int32) (map[string]projectedFile, error) {
	mode := fs.FileMode(defaultVolumeMode)
	if defaultMode != nil {
		mode = fs.FileMode(*defaultMode)
	}
	files := map[string]projectedFile{}
	for _, it := range items {
		var val string
		var err error
		switch {
		case it.FieldRef != nil:
			val, err = k.podFieldValue(pod, it.FieldRef.FieldPath, nil)
		case it.ResourceFieldRef != nil:
			c := findContainer(pod, it.ResourceFieldRef.ContainerName)
			if c == nil {
				return nil, fmt.Errorf("downward API item %q: no container %q", it.Path, it.ResourceFieldRef.ContainerName)
			}
			val, err = resourceFieldValue(c, it.ResourceFieldRef, k.cfg.NodeAllocatable)
		}
		if err != nil {
			return nil, fmt.Errorf("downward API item %q: %w", it.Path, err)
		}
		m := mode
		if it.Mode != nil {
			m = fs.FileMode(*it.Mode)
		}
		files[it.Path] = projectedFile{data: []byte(val), mode: m}
	}
	return files, nil
}

func findContainer(pod *corev1.Pod, name string) *corev1.Container {
	for _, cs := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for i := range cs {
			if cs[i].Name == name {
				return &cs[i]
			}
		}
	}
	return nil
}

// writeProjection makes dir hold exactly files, switching atomically as
// upstream's volumes do: the files live in a fresh hidden directory that
// the ..data symlink names, and each top-level name is a symlink through
// ..data, so a reader sees either the old set or the new one. An unchanged
// set is left alone.
func writeProjection(dir string, files map[string]projectedFile) error {
	for p := range files {
		if filepath.IsAbs(p) || strings.Contains("/"+filepath.ToSlash(p)+"/", "/../") || strings.HasPrefix(p, "..") {
			return fmt.Errorf("invalid file path %q", p)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if sameProjection(filepath.Join(dir, dataLink), files) {
		return nil
	}
	old, _ := os.Readlink(filepath.Join(dir, dataLink))
	tsDir, err := os.MkdirTemp(dir, "..data-")
	if err != nil {
		return err
	}
	if err := os.Chmod(tsDir, 0o755); err != nil {
		return err
	}
	for p, f := range files {
		path := filepath.Join(tsDir, p)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, f.data, f.mode.Perm()); err != nil {
			return err
		}
		// WriteFile's mode is filtered by the umask.
		if err := os.Chmod(path, f.mode.Perm()); err != nil {
			return err
		}
	}
	tmpLink := filepath.Join(dir, "..data_tmp")
	_ = os.Remove(tmpLink)
	if err := os.Symlink(filepath.Base(tsDir), tmpLink); err != nil {
		return err
	}
	if err := os.Rename(tmpLink, filepath.Join(dir, dataLink)); err != nil {
		return err
	}
	top := map[string]bool{}
	for p := range files {
		top[strings.SplitN(filepath.ToSlash(p), "/", 2)[0]] = true
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, "..") || top[name] {
			continue
		}
		if e.Type()&fs.ModeSymlink != 0 {
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				return err
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(top)) {
		link := filepath.Join(dir, name)
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		if err := os.Symlink(filepath.Join(dataLink, name), link); err != nil {
			return err
		}
	}
	if old != "" && old != filepath.Base(tsDir) {
		return os.RemoveAll(filepath.Join(dir, old))
	}
	return nil
}

// sameProjection reports whether the directory behind link already holds
// exactly files.
func sameProjection(link string, files map[string]projectedFile) bool {
	if _, err := os.Stat(link); err != nil {
		return false
	}
	n := 0
	err := filepath.WalkDir(link+"/", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		n++
		return nil
	})
	if err != nil || n != len(files) {
		return false
	}
	for p, f := range files {
		path := filepath.Join(link, p)
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != f.mode.Perm() {
			return false
		}
		data, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(data, f.data) {
			return false
		}
	}
	return true
}
