// Package version reports the build of tenantgen.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is set at build time with -ldflags "-X .../pkg/version.Version=v1.2.3".
var Version = ""

// Info describes the build, for `tenantgen version -o json|yaml`: scripts and
// bug reports read fields rather than parse the line String prints.
type Info struct {
	Version   string `json:"version"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
	// GitCommit and GitTreeState are what the Go toolchain stamped (empty for
	// builds outside a git checkout, such as go install of a module).
	GitCommit    string `json:"gitCommit,omitempty"`
	GitTreeState string `json:"gitTreeState,omitempty"`
}

// Get returns the build information.
func Get() Info {
	info := Info{Version: Version, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if info.Version == "" {
		info.Version = "(devel)"
		if ok && bi.Main.Version != "" {
			info.Version = bi.Main.Version
		}
	}
	if ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				info.GitCommit = s.Value
			case "vcs.modified":
				info.GitTreeState = map[string]string{"true": "dirty", "false": "clean"}[s.Value]
			}
		}
	}
	return info
}

// String is the version line printed by `tenantgen version`.
func String() string {
	i := Get()
	return fmt.Sprintf("tenantgen %s (%s, %s)", i.Version, i.GoVersion, i.Platform)
}
