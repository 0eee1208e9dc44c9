package together_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/hearth-community/hearth/internal/store/storetest"
	"github.com/hearth-community/hearth/internal/surface/together"
)

// racers is how many requests each concurrency test sends at once: enough
// that, released together, they overlap on a two-core machine.
const racers = 64

// answer is one response of a request sent side by side with others.
type answer struct {
	code int
	body string
}

// fire sends n requests at once (each built by req(i) before any is sent,
// all released together) and returns their answers. A transport error is
// answered as code 0, so the test reports it rather than hanging.
func fire(t *testing.T, n int, req func(i int) *http.Request) []answer {
	t.Helper()
	reqs := make([]*http.Request, n)
	for i := range n {
		reqs[i] = req(i)
	}
	out := make([]answer, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, err := http.DefaultClient.Do(reqs[i])
			if err != nil {
				out[i] = answer{body: err.Error()}
				return
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			out[i] = answer{code: resp.StatusCode, body: string(raw)}
		}()
	}
	close(start)
	wg.Wait()
	return out
}

// jsonReq builds a JSON request to the env.
func (e *env) jsonReq(method, path, token string, body any) *http.Request {
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req
}

// uploadReq builds a multipart request to the env.
func (e *env) uploadReq(path, token string, parts []part) *http.Request {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, p := range parts {
		var w io.Writer
		if p.name == "" {
			w, _ = mw.CreateFormField(p.field)
		} else {
			w, _ = mw.CreateFormFile(p.field, p.name)
		}
		_, _ = w.Write(p.data)
	}
	_ = mw.Close()
	req, err := http.NewRequest("POST", e.url+path, &body)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	return req
}

// tally counts answers by status, failing the test on any status outside
// want (a 500, a transport error) or an error body without Together's
// {"error": …} shape.
func tally(t *testing.T, what string, as []answer, want ...int) map[int]int {
	t.Helper()
	n := map[int]int{}
	for _, a := range as {
		n[a.code]++
		ok := false
		for _, w := range want {
			ok = ok || a.code == w
		}
		if !ok {
			t.Errorf("%s: status %d (%s), want one of %v", what, a.code, a.body, want)
			continue
		}
		if a.code >= 400 {
			var obj map[string]any
			if err := json.Unmarshal([]byte(a.body), &obj); err != nil || obj["error"] == nil {
				t.Errorf("%s: %d without Together's error shape: %s", what, a.code, a.body)
			}
		}
	}
	return n
}

// TestUploadQuotaHoldsConcurrently: uploads sent all at once by one account
// keep no more than its --upload-quota-bytes in all, attachments and
// custom emoji alike; every refused one is a 507 with the quota's message.
// The quota was read when each request started, so every one of them
// passed it before.
func TestUploadQuotaHoldsConcurrently(t *testing.T) {
	t.Parallel()
	for _, eng := range storetest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			img := pngBytes(t, 2, 2)
			const fit = 3
			quota := int64(fit*len(img) + len(img)/2)
			e := newEnv(t, eng, func(d *together.Deps) { d.UploadQuota = quota })
			ann := e.register("ann")
			sid, cid := e.serverWithChannel(ann, "files")
			mids := make([]string, racers)
			for i := range mids {
				m, _ := e.must(201, "POST", "/channels/"+cid+"/messages", ann.access, map[string]any{"content": "with a file"})
				mids[i] = m["id"].(string)
			}
			as := fire(t, racers, func(i int) *http.Request {
				if i%4 == 3 {
					return e.uploadReq("/servers/"+sid+"/emojis", ann.access,
						[]part{{"name", "", []byte(fmt.Sprintf("e%d", i))}, {"image", "e.png", img}})
				}
				return e.uploadReq("/messages/"+mids[i]+"/attachments", ann.access, []part{{"files", "a.png", img}})
			})
			n := tally(t, "upload", as, 201, 507)
			for _, a := range as {
				if a.code == 507 && !strings.Contains(a.body, "Upload quota") {
					t.Errorf("refused without the quota's message: %s", a.body)
				}
			}
			kept := 0
			for _, mid := range mids {
				_, list := e.must(200, "GET", "/messages/"+mid+"/attachments", ann.access, nil)
				kept += len(list)
			}
			_, emoji := e.must(200, "GET", "/servers/"+sid+"/emojis", ann.access, nil)
			kept += len(emoji)
			if kept > fit || kept != n[201] {
				t.Errorf("kept %d files (%d answered 201), quota fits %d", kept, n[201], fit)
			}
			if kept == 0 {
				t.Errorf("nothing kept: %v", n)
			}
		})
	}
}
