package media

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// mpd is what dashInfo reads of a DASH manifest: the root's type and
// mediaPresentationDuration, ProgramInformation's Title, and the first
// title given on a representation (Period>AdaptationSet>Representation>Title,
// OTT's second place to look).
type mpd struct {
	Duration string
	Type     string
	Title    string
	RepTitle string
}

// A manifest is read token by token, not decoded whole: encoding/xml's
// Decode built every element of the document, 0.54 s of CPU and 68 MB
// allocated for 5 MiB of tiny representations, and any guest may preview
// one. Reading stops once ProgramInformation's title is found; past
// mpdMaxSets adaptation sets or past mpdMaxSets representations the
// manifest is refused (a real one has tens), and past mpdMaxElements
// elements of any kind (long segment lists) reading stops with what was
// found by then (the root's duration comes first).
//
// encoding/xml's RawToken checks each tag alone, not that an end tag closes
// the element open, so parseMPD does: a manifest whose tags do not match is
// refused, as decoding it whole refused it. Nothing
// rests on that for safety: the manifest's host chooses its title, type and
// duration whatever it writes, and the bounds above count start tags. What
// follows a found title, or the 20,000th element, is not read, so a manifest
// broken only there is taken.
const (
	mpdMaxSets     = 1000
	mpdMaxElements = 20000
	mpdMaxDepth    = 64
)

// parseMPD reads a DASH manifest's root attributes and titles.
func parseMPD(b []byte) (mpd, error) {
	var m mpd
	dec := xml.NewDecoder(bytes.NewReader(b))
	var path []string    // local names of the open elements below the root
	var names []xml.Name // their names as written (prefix and local name)
	var root *xml.Name
	inTitle := 0 // depth of the Title being read (0: none)
	var title strings.Builder
	sets, reps, elements := 0, 0, 0
	for {
		tok, err := dec.RawToken()
		if err != nil {
			return m, fmt.Errorf("dash manifest: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root == nil {
				root = &t.Name
				for _, a := range t.Attr {
					switch a.Name.Local {
					case "mediaPresentationDuration":
						m.Duration = a.Value
					case "type":
						m.Type = a.Value
					}
				}
				continue
			}
			if elements++; elements > mpdMaxElements {
				return m, nil
			}
			switch t.Name.Local {
			case "AdaptationSet":
				sets++
			case "Representation":
				reps++
			}
			if sets > mpdMaxSets || reps > mpdMaxSets {
				return m, fmt.Errorf("dash manifest: more than %d adaptation sets or representations", mpdMaxSets)
			}
			if len(path) >= mpdMaxDepth {
				return m, errors.New("dash manifest: elements nest too deeply")
			}
			path, names = append(path, t.Name.Local), append(names, t.Name)
			if inTitle == 0 && (slices.Equal(path, []string{"ProgramInformation", "Title"}) ||
				(m.RepTitle == "" && slices.Equal(path, []string{"Period", "AdaptationSet", "Representation", "Title"}))) {
				inTitle = len(path)
				title.Reset()
			}
		case xml.CharData:
			if inTitle > 0 {
				title.Write(t)
			}
		case xml.EndElement:
			open := root
			if len(names) > 0 {
				open = &names[len(names)-1]
			}
			switch {
			case open == nil:
				return m, fmt.Errorf("dash manifest: end tag </%s> before the root", tagName(t.Name))
			case t.Name != *open:
				return m, fmt.Errorf("dash manifest: element <%s> closed by </%s>", tagName(*open), tagName(t.Name))
			case len(path) == 0: // the root's end: all of it is read
				return m, nil
			}
			if inTitle == len(path) {
				inTitle = 0
				if path[0] == "ProgramInformation" {
					if m.Title = title.String(); m.Title != "" {
						return m, nil // nothing more is needed
					}
				} else {
					m.RepTitle = title.String()
				}
			}
			path, names = path[:len(path)-1], names[:len(names)-1]
		}
	}
}

// tagName is n as written in a tag: prefix:local (RawToken's Space is the
// prefix, not a namespace URL).
func tagName(n xml.Name) string {
	if n.Space != "" {
		return n.Space + ":" + n.Local
	}
	return n.Local
}
