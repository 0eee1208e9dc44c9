package cli

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// shellWords splits a command line into words, honouring double quotes
// (all the Makefile and Containerfile build lines use).
func shellWords(s string) []string {
	var out []string
	var cur strings.Builder
	inQ, in := false, false
	for _, r := range s {
		switch {
		case r == '"':
			inQ, in = !inQ, true
		case (r == ' ' || r == '\t') && !inQ:
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}

// buildFlags returns the environment, the flags (without -o and its value)
// and the package of a `go build` command line.
func buildFlags(t *testing.T, line string) (env, flags []string, pkg string) {
	t.Helper()
	w := shellWords(line)
	i := slices.Index(w, "build")
	if i < 1 || !strings.HasSuffix(w[i-1], "go") && w[i-1] != "$(GO)" {
		t.Fatalf("not a go build line: %q", line)
	}
	for _, s := range w[:i-1] {
		if strings.Contains(s, "=") && !strings.HasPrefix(s, "GOOS=") && !strings.HasPrefix(s, "GOARCH=") {
			env = append(env, s)
		}
	}
	rest := w[i+1:]
	for j := 0; j < len(rest); j++ {
		switch {
		case rest[j] == "-o":
			j++
		case j == len(rest)-1:
			pkg = rest[j]
		default:
			flags = append(flags, rest[j])
		}
	}
	return env, flags, pkg
}

// TestContainerfileBuildsTheMakefileBinary checks that the Containerfile's
// go build line uses the Makefile's flags (so the image runs what `make
// build` and `make release` make), that its Go image matches go.mod, and that
// `make release` builds the four platforms.
func TestContainerfileBuildsTheMakefileBinary(t *testing.T) {
	t.Parallel()
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	mk, cf, mod := read("../../Makefile"), read("../../Containerfile"), read("../../go.mod")

	vars := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^([A-Z_]+) :?= (.*)$`).FindAllStringSubmatch(mk, -1) {
		vars[m[1]] = m[2]
	}
	expand := func(s string) string {
		for range 3 {
			for k, v := range vars {
				if k != "VERSION" {
					s = strings.ReplaceAll(s, "$("+k+")", v)
				}
			}
		}
		return strings.ReplaceAll(s, "$(VERSION)", "VERSION")
	}
	var mkBuild, mkRelease string
	for _, l := range strings.Split(mk, "\n") {
		l = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(l), "\\"))
		if strings.Contains(l, "$(GO) build") && strings.Contains(l, "-o hearth ") {
			mkBuild = expand(l)
		}
		if strings.Contains(l, "$(GO) build") && strings.Contains(l, "release/") {
			mkRelease = strings.TrimSuffix(strings.TrimSpace(expand(l)), "|| exit 1;")
		}
	}
	var cfBuild string
	for _, l := range strings.Split(cf, "\n") {
		if strings.HasPrefix(l, "RUN ") && strings.Contains(l, "go build") {
			cfBuild = strings.ReplaceAll(strings.TrimPrefix(l, "RUN "), "${VERSION}", "VERSION")
		}
	}
	if mkBuild == "" || mkRelease == "" || cfBuild == "" {
		t.Fatalf("build lines not found: make build %q, make release %q, Containerfile %q", mkBuild, mkRelease, cfBuild)
	}
	env, flags, pkg := buildFlags(t, mkBuild)
	for name, line := range map[string]string{"make release": mkRelease, "Containerfile": cfBuild} {
		e, f, p := buildFlags(t, line)
		if !slices.Equal(e, env) || !slices.Equal(f, flags) || p != pkg {
			t.Errorf("%s builds with env %q flags %q package %q; make build uses env %q flags %q package %q", name, e, f, p, env, flags, pkg)
		}
	}
	if !slices.Contains(env, "CGO_ENABLED=0") {
		t.Errorf("make build is not static: env %q", env)
	}

	goVer := regexp.MustCompile(`(?m)^go (\S+)$`).FindStringSubmatch(mod)
	img := regexp.MustCompile(`(?m)^ARG GO_VERSION=(\S+)$`).FindStringSubmatch(cf)
	if goVer == nil || img == nil || goVer[1] != img[1] {
		t.Errorf("Containerfile GO_VERSION %v, go.mod go %v: they must match", img, goVer)
	}
	plats := strings.Fields(vars["RELEASE_PLATFORMS"])
	for _, want := range []string{"linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64"} {
		if !slices.Contains(plats, want) {
			t.Errorf("RELEASE_PLATFORMS %q lacks %s", plats, want)
		}
	}
}
