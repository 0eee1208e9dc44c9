package stagechat

import (
	"strings"
	"testing"
)

// TestAuthEndpointInPage: the profile page's last <link
// rel="authorization_endpoint"> is found wherever it is (head or body,
// rel among other values, attributes in any case, entities decoded; not in
// a script or a comment).
func TestAuthEndpointInPage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ page, want string }{
		{`<html><head><link rel="authorization_endpoint" href="https://auth.example/a"></head></html>`, "https://auth.example/a"},
		{`<link REL="me authorization_endpoint" HREF="/auth?x=1&amp;y=2"><body><link rel="authorization_endpoint" href="/last">`, "/last"},
		{`<link rel="authorization_endpoint"><link rel="stylesheet" href="/s.css">`, ""},
		{`<script>"<link rel=authorization_endpoint href=/no>"</script><!-- <link rel="authorization_endpoint" href="/c"> -->`, ""},
		{`<link rel="me authorization_endpoint" href="/auth?x=1&amp;y=2">`, "/auth?x=1&y=2"},
	} {
		got, err := authEndpointInPage(strings.NewReader(tc.page))
		if err != nil || got != tc.want {
			t.Errorf("%q: %q, %v; want %q", tc.page, got, err, tc.want)
		}
	}
}

// TestAuthEndpointInPageAllocations: the page is read as tokens: a 1 MiB
// page of 300,000 tiny elements, which as a parsed document is several
// hundred thousand nodes, costs a handful of allocations (counted, so the
// machine's speed cannot change the verdict). Not parallel: AllocsPerRun
// refuses to run beside other tests, whose allocations it would count.
func TestAuthEndpointInPageAllocations(t *testing.T) {
	big := strings.Repeat("<i>", 300_000) + `<link rel="authorization_endpoint" href="/deep">`
	var got string
	allocs := testing.AllocsPerRun(3, func() { got, _ = authEndpointInPage(strings.NewReader(big)) })
	if got != "/deep" || allocs > 1000 {
		t.Fatalf("1 MiB of tiny elements: %q in %.0f allocations, want /deep in at most 1,000", got, allocs)
	}
}
