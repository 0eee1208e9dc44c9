package web

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkServe measures the app's static serving from the embedded
// build: the SPA fallback (index.html for a client route) and the largest
// hashed asset.
func BenchmarkServe(b *testing.B) {
	s, err := New(Deps{})
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	s.Register(mux)
	var asset string
	_ = fs.WalkDir(s.files, "assets", func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), "index-") && strings.HasSuffix(p, ".js") {
			asset = "/" + p
		}
		return nil
	})
	if asset == "" {
		b.Fatal("no index-*.js asset in the build")
	}
	for _, bc := range []struct{ name, path, enc string }{{"index-fallback", "/c/some/channel", ""}, {"main-js", asset, ""}, {"main-js-gzip", asset, "gzip"}} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", bc.path, nil)
			if bc.enc != "" {
				req.Header.Set("Accept-Encoding", bc.enc)
			}
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				mux.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
	}
}
