package kubelet

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"path"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// dockerCredential is one registry's entry in a .dockerconfigjson or
// .dockercfg secret.
type dockerCredential struct {
	Username      string `json:"username,omitempty"`
	Password      string `json:"password,omitempty"`
	Auth          string `json:"auth,omitempty"`
	IdentityToken string `json:"identitytoken,omitempty"`
	RegistryToken string `json:"registrytoken,omitempty"`
}

// pullCredentials returns the credentials in the pod's imagePullSecrets
// whose registry key matches image, the most specific key first. Secrets
// that are missing or unreadable are reported in an event and skipped.
func (k *Kubelet) pullCredentials(pod *corev1.Pod, image string, src *objectSource) []*runtimeapi.AuthConfig {
	type match struct {
		auth *runtimeapi.AuthConfig
		path int
		glob bool
	}
	host, repo := imageRegistry(image)
	var matches []match
	var missing []string
	for _, ref := range pod.Spec.ImagePullSecrets {
		s, err := src.secret(ref.Name)
		if err != nil || s == nil {
			missing = append(missing, pod.Namespace+"/"+ref.Name)
			continue
		}
		for key, cred := range dockerCredentials(s) {
			keyHost, keyPath := registryKey(key)
			if !hostMatches(keyHost, host) || (keyPath != "" && repo != keyPath && !strings.HasPrefix(repo, keyPath+"/")) {
				continue
			}
			matches = append(matches, match{auth: cred.authConfig(key), path: len(keyPath), glob: strings.Contains(keyHost, "*")})
		}
	}
	if len(missing) > 0 {
		k.recorder.Eventf(pod, corev1.EventTypeWarning, "FailedToRetrieveImagePullSecret",
			"Unable to retrieve some image pull secrets (%s); attempting to pull the image may not succeed.", strings.Join(missing, ", "))
	}
	slices.SortStableFunc(matches, func(a, b match) int {
		if a.glob != b.glob {
			if a.glob {
				return 1
			}
			return -1
		}
		return cmp.Compare(b.path, a.path)
	})
	out := make([]*runtimeapi.AuthConfig, len(matches))
	for i, m := range matches {
		out[i] = m.auth
	}
	return out
}

// dockerCredentials parses a pull secret of either docker format.
func dockerCredentials(s *corev1.Secret) map[string]dockerCredential {
	switch s.Type {
	case corev1.SecretTypeDockerConfigJson:
		var cfg struct {
			Auths map[string]dockerCredential `json:"auths"`
		}
		if json.Unmarshal(s.Data[corev1.DockerConfigJsonKey], &cfg) == nil {
			return cfg.Auths
		}
	case corev1.SecretTypeDockercfg:
		var cfg map[string]dockerCredential
		if json.Unmarshal(s.Data[corev1.DockerConfigKey], &cfg) == nil {
			return cfg
		}
	}
	return nil
}

func (c dockerCredential) authConfig(server string) *runtimeapi.AuthConfig {
	a := &runtimeapi.AuthConfig{
		Username:      c.Username,
		Password:      c.Password,
		Auth:          c.Auth,
		ServerAddress: server,
		IdentityToken: c.IdentityToken,
		RegistryToken: c.RegistryToken,
	}
	if a.Username == "" && c.Auth != "" {
		if raw, err := base64.StdEncoding.DecodeString(c.Auth); err == nil {
			a.Username, a.Password, _ = strings.Cut(string(raw), ":")
		}
	}
	return a
}

// imageRegistry returns the registry host of an image reference and its
// repository path there, with Docker Hub's implicit names made explicit.
func imageRegistry(image string) (host, repo string) {
	name, _, _ := splitImage(image)
	first, rest, found := strings.Cut(name, "/")
	if !found || (!strings.ContainsAny(first, ".:") && first != "localhost") {
		host, repo = "docker.io", name
		if !strings.Contains(repo, "/") {
			repo = "library/" + repo
		}
		return host, repo
	}
	return canonicalHost(first), rest
}

// registryKey splits a docker config key (a host with an optional scheme
// and path) into host and path.
func registryKey(key string) (host, p string) {
	key = strings.TrimPrefix(strings.TrimPrefix(key, "https://"), "http://")
	host, p, _ = strings.Cut(key, "/")
	host = canonicalHost(host)
	p = strings.Trim(p, "/")
	if host == "docker.io" && (p == "v1" || p == "v2") {
		// Docker Hub's historical key names its API, not a repository.
		p = ""
	}
	return host, p
}

func canonicalHost(h string) string {
	switch h {
	case "index.docker.io", "registry-1.docker.io":
		return "docker.io"
	}
	return h
}

// hostMatches matches a registry host, whose labels may be globs such as
// "*.example.com", against an image's host; ports must be equal.
func hostMatches(pattern, host string) bool {
	pHost, pPort, _ := strings.Cut(pattern, ":")
	hHost, hPort, _ := strings.Cut(host, ":")
	if pPort != hPort {
		return false
	}
	pl, hl := strings.Split(pHost, "."), strings.Split(hHost, ".")
	if len(pl) != len(hl) {
		return false
	}
	for i := range pl {
		if ok, err := path.Match(pl[i], hl[i]); err != nil || !ok {
			return false
		}
	}
	return true
}
