package oci

import (
	"fmt"
	"regexp"
	"strings"

	digest "github.com/opencontainers/go-digest"
)

const (
	defaultDomain = "docker.io"
	// legacyDomain is how old Docker clients spell Docker Hub; containerd
	// and Docker store it as docker.io, so a name means one image only.
	legacyDomain    = "index.docker.io"
	officialRepoDir = "library"
	defaultTag      = "latest"
	maxNameLength   = 255
)

// The grammar of distribution/reference, in the parts Skiff needs.
var (
	pathComponentRE = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)
	domainRE        = regexp.MustCompile(`^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$`)
	tagRE           = regexp.MustCompile(`^[\w][\w.-]{0,127}$`)
	// A bare 64-hex string is an image ID to Docker, never a repository.
	imageIDRE = regexp.MustCompile(`^[a-f0-9]{64}$`)
)

// Reference is a normalized image reference: Docker Hub names gain the
// docker.io domain and the library/ prefix, and a reference with neither a
// tag nor a digest gets the latest tag, as Docker and containerd do.
type Reference struct {
	Domain string
	Path   string
	Tag    string
	Digest digest.Digest
}

// ParseReference parses and normalizes an image reference such as "httpd",
// "foo/bar:1" or "127.0.0.1:5000/x/y@sha256:...".
func ParseReference(s string) (Reference, error) {
	if s == "" {
		return Reference{}, invalidf("reference: empty")
	}
	if imageIDRE.MatchString(s) {
		return Reference{}, invalidf("reference %q: a 64-character hex string is an image ID, not a name", s)
	}
	var ref Reference
	name := s
	if i := strings.IndexByte(name, '@'); i >= 0 {
		d, err := parseDigest(name[i+1:])
		if err != nil {
			return Reference{}, invalidf("reference %q: %v", s, err)
		}
		ref.Digest = d
		name = name[:i]
	}
	// A colon after the last slash starts the tag; one before it belongs to
	// the domain's port.
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		ref.Tag = name[i+1:]
		if !tagRE.MatchString(ref.Tag) {
			return Reference{}, invalidf("reference %q: invalid tag %q", s, ref.Tag)
		}
		name = name[:i]
	}
	domain, path := splitDomain(name)
	var err error
	if ref.Domain, ref.Path, err = normalizeName(domain, path); err != nil {
		return Reference{}, invalidf("reference %q: %v", s, err)
	}
	if ref.Tag == "" && ref.Digest == "" {
		ref.Tag = defaultTag
	}
	return ref, nil
}

// Name is the repository: domain and path, without tag or digest.
func (r Reference) Name() string {
	return r.Domain + "/" + r.Path
}

// String is the full normalized form, the key images are stored under.
func (r Reference) String() string {
	s := r.Name()
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest.String()
	}
	return s
}

// splitDomain treats the first component as a registry host only when it
// cannot be a Docker Hub user: it has a dot or a port, or is localhost.
// Docker also takes an uppercase component for a host, because hostnames
// may be uppercase while repository names may not.
func splitDomain(name string) (domain, path string) {
	i := strings.IndexByte(name, '/')
	if i < 0 {
		return defaultDomain, name
	}
	first := name[:i]
	if !strings.ContainsAny(first, ".:") && first != "localhost" && strings.ToLower(first) == first {
		return defaultDomain, name
	}
	return first, name[i+1:]
}

// normalizeName validates a repository given as domain and path and returns
// its canonical spelling.
func normalizeName(domain, path string) (string, string, error) {
	if !domainRE.MatchString(domain) {
		return "", "", fmt.Errorf("invalid registry host %q", domain)
	}
	if domain == legacyDomain {
		domain = defaultDomain
	}
	if path == "" {
		return "", "", fmt.Errorf("empty repository path")
	}
	if domain == defaultDomain && !strings.Contains(path, "/") {
		path = officialRepoDir + "/" + path
	}
	for _, c := range strings.Split(path, "/") {
		if pathComponentRE.MatchString(c) {
			continue
		}
		if pathComponentRE.MatchString(strings.ToLower(c)) {
			return "", "", fmt.Errorf("repository name must be lowercase")
		}
		return "", "", fmt.Errorf("invalid repository path component %q", c)
	}
	if len(domain)+1+len(path) > maxNameLength {
		return "", "", fmt.Errorf("repository name longer than %d characters", maxNameLength)
	}
	return domain, path, nil
}

// parseDigest accepts only sha256 digests, the one algorithm the store
// keeps.
func parseDigest(s string) (digest.Digest, error) {
	d, err := digest.Parse(s)
	if err != nil {
		return "", fmt.Errorf("invalid digest %q: %w", s, err)
	}
	if d.Algorithm() != digest.SHA256 {
		return "", fmt.Errorf("unsupported digest algorithm %q", d.Algorithm())
	}
	return d, nil
}
