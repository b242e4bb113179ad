package main

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/spf13/pflag"
)

func init() {
	addVerb(verb{name: "version", usage: "version", summary: "print the module version and the VCS revision this binary was built from", flags: versionFlags,
		help: "Prints the version of the techledger module, the VCS revision and time of the build (\"modified\"\nif the working tree had changes) and the Go version, as the binary records them."})
}

func versionFlags(*pflag.FlagSet) action {
	return func(_ context.Context, c *call) int {
		info, ok := debug.ReadBuildInfo()
		if !ok {
			fmt.Fprintln(c.stderr, "techledger: this binary carries no build information")
			return exitFailure
		}
		fmt.Fprintln(c.stdout, versionLine(info))
		return exitOK
	}
}

// versionLine describes a build: "techledger v1.2.3 (revision 0123abcd…, 2026-11-30T10:00:00Z, modified; go1.26.0)".
func versionLine(info *debug.BuildInfo) string {
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	version := info.Main.Version
	if version == "" {
		version = "(unknown version)"
	}
	var vcs []string
	if rev := settings["vcs.revision"]; rev != "" {
		vcs = append(vcs, "revision "+rev)
	} else {
		vcs = append(vcs, "revision unknown")
	}
	if t := settings["vcs.time"]; t != "" {
		vcs = append(vcs, t)
	}
	if settings["vcs.modified"] == "true" {
		vcs = append(vcs, "modified")
	}
	return fmt.Sprintf("techledger %s (%s; %s)", version, strings.Join(vcs, ", "), info.GoVersion)
}
