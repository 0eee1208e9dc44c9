package app_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/hearth-community/hearth/"

// knownExceptions are imports that break a layering rule today and are
// still to be removed; each names the issue that removes it. A rule broken
// anywhere else fails the test, and so does an exception that is no longer
// needed (so the list only shrinks).
var knownExceptions = map[string]string{}

// TestLayering checks DESIGN.md's layering on every non-test Go file:
// a domain or adapter package imports no surface and not app; store imports
// no surface and not config; a surface imports no other surface and not
// app; the protocol packages (rtmp, hls, transcode, rtc, rtcav) import no domain.
func TestLayering(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	imports := map[string][]string{} // package dir (module-relative) → imported module packages
	err = filepath.WalkDir(filepath.Join(root, "internal"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); n == "node_modules" || n == "testdata" || strings.HasPrefix(n, ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, filepath.Dir(path))
		if err != nil {
			return err
		}
		pkg := filepath.ToSlash(rel)
		for _, im := range f.Imports {
			p, err := strconv.Unquote(im.Path.Value)
			if err != nil {
				return err
			}
			if after, ok := strings.CutPrefix(p, module); ok && !slices.Contains(imports[pkg], after) {
				imports[pkg] = append(imports[pkg], after)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(imports) < 10 {
		t.Fatalf("found only %d packages under %s/internal", len(imports), root)
	}
	used := map[string]bool{}
	for pkg, deps := range imports {
		for _, dep := range deps {
			why := broken(pkg, dep)
			if why == "" {
				continue
			}
			edge := pkg + " -> " + dep
			if _, ok := knownExceptions[edge]; ok {
				used[edge] = true
				continue
			}
			t.Errorf("%s: %s", edge, why)
		}
	}
	for edge, issue := range knownExceptions {
		if !used[edge] {
			t.Errorf("known exception %s (%s) is gone: remove it from the list", edge, issue)
		}
	}
}

// surfaceOf returns the surface a package belongs to ("" if none). A
// surface's sub-packages (internal/surface/together/files, …) are that
// surface: they may import its parent and each other, and are held to the
// surface's rules towards everything else.
func surfaceOf(pkg string) string {
	rest, ok := strings.CutPrefix(pkg, "internal/surface/")
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(rest, "/")
	return name
}

// wiring packages may import anything: they put the others together.
func wiring(pkg string) bool {
	return pkg == "internal/app" || strings.HasPrefix(pkg, "internal/app/") ||
		pkg == "internal/cli" || strings.HasPrefix(pkg, "internal/cli/") || strings.HasPrefix(pkg, "cmd/")
}

func isProtocol(pkg string) bool {
	for _, p := range []string{"internal/rtmp", "internal/hls", "internal/transcode", "internal/rtc", "internal/rtcav"} {
		if pkg == p || strings.HasPrefix(pkg, p+"/") {
			return true
		}
	}
	return false
}

var domains = []string{"identity", "community", "messages", "watch", "live", "voice", "webhooks", "stagechat", "presence", "media", "webpush"}

// broken says which rule pkg importing dep breaks ("" for none).
func broken(pkg, dep string) string {
	depSurface := surfaceOf(dep)
	isApp := dep == "internal/app" || strings.HasPrefix(dep, "internal/app/")
	switch {
	case wiring(pkg):
		return ""
	case surfaceOf(pkg) != "":
		if depSurface != "" && depSurface != surfaceOf(pkg) {
			return "a surface imports another surface"
		}
		if isApp {
			return "a surface imports app"
		}
		return ""
	}
	if depSurface != "" {
		return "a domain or adapter package imports a surface"
	}
	if isApp {
		return "a domain or adapter package imports app"
	}
	if (pkg == "internal/store" || strings.HasPrefix(pkg, "internal/store/")) && dep == "internal/config" {
		return "store imports config"
	}
	if isProtocol(pkg) {
		for _, d := range domains {
			if dep == "internal/"+d || strings.HasPrefix(dep, "internal/"+d+"/") {
				return "a protocol package imports a domain package"
			}
		}
	}
	return ""
}

// TestLayeringRules: the rule function itself, on made-up edges.
func TestLayeringRules(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		pkg, dep string
		broken   bool
	}{
		{"internal/store", "internal/surface/together", true},
		{"internal/store", "internal/config", true},
		{"internal/store/storetest", "internal/surface/ott", true},
		{"internal/community", "internal/surface/together", true},
		{"internal/watch", "internal/app", true},
		{"internal/surface/together", "internal/surface/owncast", true},
		{"internal/surface/ott", "internal/app", true},
		{"internal/rtmp", "internal/live", true},
		{"internal/surface/together", "internal/community", false},
		{"internal/surface/web", "internal/surface/web/dist", false},
		{"internal/app", "internal/surface/together", false},
		{"internal/store", "internal/identity", false},
		{"internal/live", "internal/rtmp", false},
		// A surface's sub-packages are the surface.
		{"internal/surface/together/files", "internal/surface/together/rest", false},
		{"internal/surface/together/polls", "internal/surface/together", false},
		{"internal/surface/together", "internal/surface/together/admin", false},
		{"internal/surface/together/files", "internal/surface/owncast", true},
		{"internal/surface/together/hooks", "internal/surface/ott/wire", true},
		{"internal/surface/owncast", "internal/surface/together/rest", true},
		{"internal/surface/together/admin", "internal/app", true},
		{"internal/store", "internal/surface/together/files", true},
		{"internal/community", "internal/surface/together/rest", true},
	} {
		if got := broken(tc.pkg, tc.dep) != ""; got != tc.broken {
			t.Errorf("%s -> %s: broken %v, want %v", tc.pkg, tc.dep, got, tc.broken)
		}
	}
}
