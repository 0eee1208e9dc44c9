package watch

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestOldRowsLoad: a row as stored before the room model had its own
// types (video fields in the stored names hls_url, subtitleUrl, startAt…)
// loads with every field, and saving it again writes the same names, so
// rows written by either version read in the other.
func TestOldRowsLoad(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const settingsRow = `{"grants":[[0,113250303],[1,113250303],[2,113250303],[3,133173247],[4,134217727],[-1,134217727]],` +
		`"userRoles":{"u1":3},"bans":{"u2":true},"autoSkip":["intro"],"restoreQueueBehavior":2,"enableVoteSkip":true}`
	const stateRow = `{"queue":[{"service":"direct","id":"q1","title":"Q1","length":12,"mime":"video/mp4",` +
		`"hls_url":"https://h/x.m3u8","dash_url":"https://h/x.mpd","src_url":"https://h/x.mp4","subtitleUrl":"https://h/x.vtt",` +
		`"startAt":1.5,"endAt":9}],"current":{"service":"youtube","id":"abc","title":"Cur","thumbnail":"https://t","length":60,"highlight":true},` +
		`"position":7,"playing":false,"speed":1.25,"votes":{"directq1":["u1","u3"]}}`
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	e.st.rooms["oldrow"] = Record{Name: "oldrow", Title: "Old", Visibility: Public, QueueMode: QueueVote, OwnerID: "owner",
		Settings: []byte(settingsRow), State: []byte(stateRow), CreatedAt: now, UpdatedAt: now}
	r, err := e.svc.Get(context.Background(), "oldrow")
	if err != nil {
		t.Fatal(err)
	}
	s := r.Snapshot()
	if len(s.Queue) != 1 || s.Current == nil {
		t.Fatalf("loaded %+v", s)
	}
	q := s.Queue[0]
	if q.HLSURL != "https://h/x.m3u8" || q.DashURL != "https://h/x.mpd" || q.SrcURL != "https://h/x.mp4" ||
		q.SubtitleURL != "https://h/x.vtt" || q.StartAt == nil || *q.StartAt != 1.5 || q.EndAt == nil || *q.EndAt != 9 ||
		q.Length != 12 || q.Mime != "video/mp4" || q.Title != "Q1" {
		t.Fatalf("queue item %+v", q)
	}
	if c := s.Current; c.Service != "youtube" || c.Thumbnail != "https://t" || !c.Highlight || c.Length != 60 {
		t.Fatalf("current %+v", c)
	}
	if s.Restore != RestoreAlways || !s.VoteSkip || len(s.AutoSkip) != 1 || s.Grants != DefaultGrants() {
		t.Fatalf("settings %+v", s)
	}
	full := r.FullSync()
	if full.Position != 7 || full.Speed != 1.25 || len(full.VoteCounts) != 1 || full.VoteCounts[0].Count != 2 {
		t.Fatalf("state %+v", full)
	}
	r.mu.Lock()
	if r.userRoles["u1"] != RoleModerator || !r.bans["u2"] {
		t.Errorf("roles %v bans %v", r.userRoles, r.bans)
	}
	rec := r.recordLocked()
	r.mu.Unlock()
	for _, want := range []string{`"hls_url":"https://h/x.m3u8"`, `"dash_url":"https://h/x.mpd"`, `"src_url":"https://h/x.mp4"`,
		`"subtitleUrl":"https://h/x.vtt"`, `"startAt":1.5`, `"endAt":9`, `"current":{"service":"youtube","id":"abc"`, `"highlight":true`} {
		if !strings.Contains(string(rec.State), want) {
			t.Errorf("saved state lacks %s: %s", want, rec.State)
		}
	}
	if !strings.Contains(string(rec.Settings), `"grants":[[0,113250303],`) {
		t.Errorf("saved settings: %s", rec.Settings)
	}
}
