package owncast_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/openapitest"
)

// TestSchedule walks Owncast 0.2's scheduled-streams story over HTTP
// against the spec: disabled by default, the setters, a one-off and a
// weekly series, the public window, the .ics feed, /api/status's
// scheduledEvent, cancel and delete.
func TestSchedule(t *testing.T) {
	t.Parallel()
	doc := openapitest.Load(t, "owncast.yaml")
	tr := openapitest.NewTransport(t, doc, nil)
	cn := &ocClient{t: t, base: newNode(t, nodeOpts{}).url, http: tr.Client()}
	ln := &ocClient{t: t, base: newLiveNode(t, nil, 2).url, http: tr.Client()}

	for _, c := range []*ocClient{cn} {
		if sched := c.obj(200, "GET", "/api/config", "", nil)["schedule"]; !jsonEq(sched, map[string]any{"enabled": false, "showCountdown": false, "chatOpenMinutesBefore": 0}) {
			t.Fatalf("default schedule config %v", sched)
		}
		c.do(401, "GET", "/api/admin/schedule", "", nil)
		c.do(200, "POST", "/api/admin/config/schedule/enabled", "admin", map[string]any{"value": true})
		c.do(200, "POST", "/api/admin/config/schedule/showcountdown", "admin", map[string]any{"value": true})
		c.do(200, "POST", "/api/admin/config/schedule/chatopenminutes", "admin", map[string]any{"value": 30})
		if b := c.do(400, "POST", "/api/admin/config/schedule/chatopenminutes", "admin", map[string]any{"value": 15}); !strings.Contains(string(b), "0, 5, 10, 30, or 60") {
			t.Fatalf("chat open 15: %s", b)
		}
		c.do(200, "POST", "/api/admin/config/schedule/remindermessage", "admin", map[string]any{"value": "Soon!"})
		if sched := c.obj(200, "GET", "/api/config", "", nil)["schedule"]; !jsonEq(sched, map[string]any{"enabled": true, "showCountdown": true, "chatOpenMinutesBefore": 30}) {
			t.Fatalf("schedule config %v", sched)
		}
		// serverconfig carries the same plus the reminder message, as Owncast's newest spec.
		if sched := c.obj(200, "GET", "/api/admin/serverconfig", "admin", nil)["schedule"]; !jsonEq(sched, map[string]any{"enabled": true, "showCountdown": true, "chatOpenMinutesBefore": 30, "reminderMessage": "Soon!"}) {
			t.Fatalf("serverconfig schedule %v", sched)
		}
	}
	// The live node (status) has the feature off: no scheduledEvent.
	if _, ok := ln.obj(200, "GET", "/api/status", "", nil)["scheduledEvent"]; ok {
		t.Fatal("scheduledEvent while the feature is off")
	}

	start := time.Now().Add(24 * time.Hour).Truncate(time.Second).UTC()
	for _, c := range []*ocClient{cn, ln} {
		c.do(200, "POST", "/api/admin/config/schedule/enabled", "admin", map[string]any{"value": true})
		c.obj(200, "POST", "/api/admin/schedule/event", "admin", map[string]any{"name": "One; off, \\ show", "description": "d",
			"start": start.Format(time.RFC3339), "timezone": "America/New_York", "durationMinutes": 90})
	}
	st := ln.obj(200, "GET", "/api/status", "", nil)
	ev, _ := st["scheduledEvent"].(map[string]any)
	if ev["name"] != "One; off, \\ show" || ev["chatOpen"] != false || ev["durationMinutes"] != float64(90) || ev["startTime"] != start.Format(time.RFC3339) {
		t.Fatalf("status scheduledEvent %v", st)
	}

	anchor := time.Now().Add(48 * time.Hour).UTC()
	rec := "DTSTART;TZID=America/Los_Angeles:" + anchor.Format("20060102") + "T190000\nRRULE:FREQ=WEEKLY"
	all := cn.obj(200, "POST", "/api/admin/schedule/event", "admin", map[string]any{"name": "Weekly", "recurrence": rec, "durationMinutes": 120})
	series := all["series"].([]any)[0].(map[string]any)
	if series["recurrence"] != rec || series["active"] != true || series["timezone"] != "America/Los_Angeles" {
		t.Fatalf("series %v", series)
	}
	var occ []map[string]any
	for _, e := range all["events"].([]any) {
		if m := e.(map[string]any); m["seriesId"] == series["id"] {
			occ = append(occ, m)
		}
	}
	if len(occ) < 3 {
		t.Fatalf("occurrences %v", all["events"])
	}
	for _, tc := range []struct {
		body map[string]any
		want string
	}{
		{map[string]any{"name": "x", "start": start.Format(time.RFC3339), "recurrence": rec}, "mutually exclusive"},
		{map[string]any{"name": "x", "recurrence": "RRULE:FREQ=WEEKLY"}, "DTSTART"},
		{map[string]any{"start": start.Format(time.RFC3339)}, "name is required"},
		{map[string]any{"name": "x", "start": time.Now().Add(-time.Hour).Format(time.RFC3339)}, "start must be in the future"},
		{map[string]any{"name": "x", "start": start.Format(time.RFC3339), "timezone": "Mars/OlympusMons"}, "unknown timezone"},
		{map[string]any{"id": series["id"], "name": "x", "start": start.Format(time.RFC3339)}, "has no single start"},
	} {
		if b := cn.do(400, "POST", "/api/admin/schedule/event", "admin", tc.body); !strings.Contains(string(b), tc.want) {
			t.Errorf("%v: %s, want %q", tc.body, b, tc.want)
		}
	}
	// An occurrence moved onto the start of another of its series: a
	// conflict, in Owncast's error shape (it was a bare 500).
	if b := cn.do(400, "POST", "/api/admin/schedule/event", "admin", map[string]any{"id": occ[1]["id"], "start": occ[0]["startTime"]}); !strings.Contains(string(b), "another event of this series starts at the same time") {
		t.Errorf("occurrence moved onto another's start: %s", b)
	}
	cn.do(404, "POST", "/api/admin/schedule/event", "admin", map[string]any{"id": "nope", "name": "x"})
	cn.do(400, "POST", "/api/admin/schedule/event", "admin", "{not json")
	if p := cn.obj(200, "POST", "/api/admin/schedule/preview", "admin", map[string]any{"recurrence": rec}); len(p["occurrences"].([]any)) != 5 {
		t.Fatalf("preview %v", p)
	}
	cn.do(400, "POST", "/api/admin/schedule/preview", "admin", map[string]any{"recurrence": "RRULE:FREQ=WEEKLY"})

	pub := cn.list(200, "GET", "/api/schedule", "", nil)
	if len(pub) != len(occ)+1 || pub[0]["name"] != "One; off, \\ show" {
		t.Fatalf("public schedule %v", pub)
	}
	q := func(from, to time.Duration) string {
		return "/api/schedule?from=" + url.QueryEscape(time.Now().Add(from).Format(time.RFC3339)) + "&to=" + url.QueryEscape(time.Now().Add(to).Format(time.RFC3339))
	}
	if got := cn.list(200, "GET", q(200*24*time.Hour, 210*24*time.Hour), "", nil); len(got) != 0 {
		t.Fatalf("far window %v", got)
	}
	if b := cn.do(400, "GET", q(10*24*time.Hour, 5*24*time.Hour), "", nil); !strings.Contains(string(b), "to must be after from") {
		t.Fatalf("inverted %s", b)
	}
	if b := cn.do(400, "GET", q(0, 400*24*time.Hour), "", nil); !strings.Contains(string(b), "too large") {
		t.Fatalf("oversized %s", b)
	}
	cn.do(400, "GET", "/api/schedule?from=yesterday", "", nil)

	ics := string(cn.do(200, "GET", "/api/schedule.ics", "", nil))
	for _, want := range []string{"BEGIN:VCALENDAR\r\n", "UID:" + pub[0]["id"].(string) + "@owncast\r\n",
		"SUMMARY:One\\; off\\, \\\\ show\r\n", "DTSTART:" + start.Format("20060102T150405Z") + "\r\n", "END:VCALENDAR\r\n"} {
		if !strings.Contains(ics, want) {
			t.Fatalf("ics lacks %q:\n%s", want, ics)
		}
	}

	// Cancel one occurrence, then delete the series: the cancelled one stays.
	all = cn.obj(200, "POST", "/api/admin/schedule/event/delete", "admin", map[string]any{"id": occ[0]["id"], "cancel": true})
	all = cn.obj(200, "POST", "/api/admin/schedule/event/delete", "admin", map[string]any{"id": series["id"]})
	if len(all["series"].([]any)) != 0 || len(all["events"].([]any)) != 2 {
		t.Fatalf("after delete %v", all)
	}
	cn.do(404, "POST", "/api/admin/schedule/event/delete", "admin", map[string]any{"id": series["id"]})
	cn.do(200, "GET", "/api/admin/schedule", "admin", nil)

	cn.do(200, "POST", "/api/admin/config/schedule/enabled", "admin", map[string]any{"value": false})
	if got := cn.list(200, "GET", "/api/schedule", "", nil); len(got) != 0 {
		t.Fatalf("public while disabled %v", got)
	}
}

func jsonEq(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}
