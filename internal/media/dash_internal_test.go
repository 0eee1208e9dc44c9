package media

import (
	"bytes"
	"encoding/xml"
	"runtime"
	"strings"
	"testing"
)

// hostileMPD is a 5 MiB manifest (the metadata fetch's cap) of head, then
// unit repeated, then tail.
func hostileMPD(head, unit, tail string) []byte {
	var b bytes.Buffer
	b.WriteString(head)
	for b.Len() < 5<<20-len(tail)-len(unit) {
		b.WriteString(unit)
	}
	b.WriteString(tail)
	return b.Bytes()
}

const mpdHead = `<?xml version="1.0"?><MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT3S">`

// TestHostileMPDCostBounded: any guest may preview a DASH manifest, and
// decoding one whole (encoding/xml's Decode, used before) allocated 68 MB
// for 5 MiB of tiny representations. A manifest is now read token by
// token: one of many representations or adaptation sets is refused past
// 1,000 of them, one of long lists of other elements is read up to 20,000
// elements (its duration is still read), and one nesting without end is
// refused; each allocates at most 4 MiB. Bytes allocated are counted
// (not time, which the machine decides); the test is not parallel so that
// no other test's allocations are counted.
func TestHostileMPDCostBounded(t *testing.T) {
	for _, tc := range []struct {
		name    string
		body    []byte
		refused bool
	}{
		{"representations", hostileMPD(mpdHead+`<Period><AdaptationSet>`, `<Representation/>`, `</AdaptationSet></Period></MPD>`), true},
		{"adaptation sets", hostileMPD(mpdHead+`<Period>`, `<AdaptationSet/>`, `</Period></MPD>`), true},
		{"representations with attributes", hostileMPD(mpdHead+`<Period><AdaptationSet>`,
			`<Representation id="1" bandwidth="1" a="b" c="d" e="f"/>`, `</AdaptationSet></Period></MPD>`), true},
		{"segment timeline", hostileMPD(mpdHead+`<Period><AdaptationSet><Representation><SegmentTemplate><SegmentTimeline>`,
			`<S d="1"/>`, `</SegmentTimeline></SegmentTemplate></Representation></AdaptationSet></Period></MPD>`), false},
		{"nesting", hostileMPD(mpdHead, `<a>`, ``), true},
	} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		m, err := parseMPD(tc.body)
		runtime.ReadMemStats(&after)
		if tc.refused != (err != nil) {
			t.Errorf("%s: %v, want refused %v", tc.name, err, tc.refused)
		}
		if !tc.refused && (m.Duration != "PT3S" || m.Type != "static") {
			t.Errorf("%s: %+v, want the root's attributes", tc.name, m)
		}
		t.Logf("%s: %d KiB", tc.name, (after.TotalAlloc-before.TotalAlloc)>>10)
		if n := after.TotalAlloc - before.TotalAlloc; n > 4<<20 {
			t.Errorf("%s: a %d KiB manifest allocated %d KiB, want at most 4 MiB", tc.name, len(tc.body)>>10, n>>10)
		}
	}
}

// TestMPDReadAsDecodeDid: what parseMPD reads of ordinary manifests is
// what decoding them whole read: the root's type and duration,
// ProgramInformation's title (even after the periods), the first non-empty
// representation title, and a manifest that is not XML is refused.
func TestMPDReadAsDecodeDid(t *testing.T) {
	t.Parallel()
	type whole struct {
		Duration  string   `xml:"mediaPresentationDuration,attr"`
		Type      string   `xml:"type,attr"`
		Title     string   `xml:"ProgramInformation>Title"`
		RepTitles []string `xml:"Period>AdaptationSet>Representation>Title"`
	}
	for _, s := range []string{
		mpdHead + `<ProgramInformation><Title>Dash Film</Title></ProgramInformation></MPD>`,
		mpdHead + `<Period><AdaptationSet><Representation id="1"></Representation><Representation id="2"><Title>foo</Title></Representation></AdaptationSet></Period></MPD>`,
		mpdHead + `<Period><AdaptationSet><Representation><Title></Title></Representation><Representation><Title>second</Title></Representation></AdaptationSet></Period><ProgramInformation><Title>late</Title></ProgramInformation></MPD>`,
		`<MPD type="dynamic"><ProgramInformation><Title>a<![CDATA[ & b]]> &amp; c</Title></ProgramInformation></MPD>`,
		`<x:MPD xmlns:x="urn:mpeg:dash:schema:mpd:2011" mediaPresentationDuration="PT1H"><x:ProgramInformation><x:Title>ns</x:Title></x:ProgramInformation></x:MPD>`,
		`<MPD mediaPresentationDuration="PT1H"><Period><AdaptationSet><Representation><SegmentList>` +
			strings.Repeat(`<SegmentURL media="s.m4s"/>`, 30000) + `</SegmentList></Representation></AdaptationSet></Period></MPD>`,
	} {
		var w whole
		if err := xml.Unmarshal([]byte(s), &w); err != nil {
			t.Fatalf("%.80s: %v", s, err)
		}
		want := ""
		for _, r := range w.RepTitles {
			if r != "" {
				want = r
				break
			}
		}
		m, err := parseMPD([]byte(s))
		if err != nil || m.Duration != w.Duration || m.Type != w.Type || m.Title != w.Title || (w.Title == "" && m.RepTitle != want) {
			t.Errorf("%.80s: %+v %v, want %+v", s, m, err, w)
		}
	}
	for _, s := range []string{"", "not xml", "#EXTM3U\n", `<MPD><Period>`} {
		if m, err := parseMPD([]byte(s)); err == nil {
			t.Errorf("%q: %+v, want refused", s, m)
		}
	}
	// Tags that do not match, which decoding whole refused too: an end tag
	// naming another element (or another prefix), or one before the root.
	for _, s := range []string{
		`<MPD mediaPresentationDuration="PT1H"><ProgramInformation><Title>t</Wrong></ProgramInformation></MPD>`,
		`<MPD mediaPresentationDuration="PT1H"><Period></MPD></Period>`,
		`<MPD mediaPresentationDuration="PT1H"></Other>`,
		`<x:MPD mediaPresentationDuration="PT1H"></y:MPD>`,
		`<MPD mediaPresentationDuration="PT1H"><x:Period></y:Period></MPD>`,
		`</x><MPD mediaPresentationDuration="PT1H"></MPD>`,
	} {
		var w whole
		if err := xml.Unmarshal([]byte(s), &w); err == nil {
			t.Fatalf("%q: decoding whole read it", s)
		}
		if m, err := parseMPD([]byte(s)); err == nil || !strings.Contains(err.Error(), "closed by") && !strings.Contains(err.Error(), "before the root") {
			t.Errorf("%q: %+v %v, want refused for its tags", s, m, err)
		}
	}
}

// FuzzParseMPD: any bytes a remote host serves as a DASH manifest are read
// without a panic.
func FuzzParseMPD(f *testing.F) {
	for _, s := range []string{mpdHead + `<ProgramInformation><Title>t</Title></ProgramInformation></MPD>`, "", "<a>", "<MPD/>"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseMPD(b)
	})
}
