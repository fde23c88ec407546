// Package version reports the Kubernetes API level Skiff serves and its own
// build.
package version

import (
	"runtime"

	"k8s.io/apimachinery/pkg/version"
)

// gitVersion is set at build time with -ldflags "-X .../version.gitVersion=...".
var gitVersion = "v1.37.0-skiff"

// Get returns the version /version serves. Major and minor are the
// Kubernetes API level of the k8s.io/api types Skiff is built with.
func Get() version.Info {
	return version.Info{
		Major:      "1",
		Minor:      "37",
		GitVersion: gitVersion,
		GoVersion:  runtime.Version(),
		Compiler:   runtime.Compiler,
		Platform:   runtime.GOOS + "/" + runtime.GOARCH,
	}
}
