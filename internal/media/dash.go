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
const (
	mpdMaxSets     = 1000
	mpdMaxElements = 20000
	mpdMaxDepth    = 64
)

// parseMPD reads a DASH manifest's root attributes and titles.
func parseMPD(b []byte) (mpd, error) {
	var m mpd
	dec := xml.NewDecoder(bytes.NewReader(b))
	var path []string // local names of the open elements below the root
	root := false
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
			if !root {
				root = true
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
			path = append(path, t.Name.Local)
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
			if len(path) == 0 { // the root's end: all of it is read
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
			path = path[:len(path)-1]
		}
	}
}
