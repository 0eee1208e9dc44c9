package app_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/hearth-community/hearth/internal/watch"
)

// TestWatchChannelChatFollowsAutomod: chat in a watch channel's room
// passes the community's automod as a message posted in the channel: a
// line with a filtered word is refused with a notice, reaches no one else
// in the room, and the configured action follows (here a timeout, with its
// automod log entry naming the channel); the owner is exempt, and a line
// without the word goes through.
func TestWatchChannelChatFollowsAutomod(t *testing.T) {
	t.Parallel()
	a, _ := start(t, testConfig(t), nil)
	base := a.HTTP.URL()
	alice, bob, carol := register(t, base, "modalice"), register(t, base, "modbob"), register(t, base, "modcarol")
	sid := newServer(t, base, alice.AccessToken)
	for _, l := range []login{bob, carol} {
		if code := call(t, "POST", base+"/servers/"+sid+"/join", l.AccessToken, nil, nil); code != 200 && code != 201 {
			t.Fatalf("join: %d", code)
		}
	}
	chID, name := newWatchChannel(t, base, alice.AccessToken, sid, "Movie night")
	var text struct{ ID string }
	if code := call(t, "POST", base+"/servers/"+sid+"/channels", alice.AccessToken, map[string]string{"name": "general", "type": "text"}, &text); code != 201 {
		t.Fatalf("text channel: %d", code)
	}
	if code := call(t, "PATCH", base+"/servers/"+sid+"/automod", alice.AccessToken, map[string]any{"enabled": true,
		"word_filter_enabled": true, "word_filter_action": "timeout", "timeout_minutes": 5}, nil); code != 200 {
		t.Fatalf("automod: %d", code)
	}
	if code := call(t, "POST", base+"/servers/"+sid+"/automod/words", alice.AccessToken, map[string]string{"word": "spoiler"}, nil); code != 200 && code != 201 {
		t.Fatalf("filtered word: %d", code)
	}
	bobTok, carolTok, aliceTok := ottLogin(t, base, "modbob"), ottLogin(t, base, "modcarol"), ottLogin(t, base, "modalice")
	poll(t, "the channel's room", 10*time.Second, func() bool { return call(t, "GET", base+"/api/room/"+name, bobTok, nil, nil) == 200 })

	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	bw, cw, aw := ottJoin(ctx, t, base, name, bobTok), ottJoin(ctx, t, base, name, carolTok), ottJoin(ctx, t, base, name, aliceTok)
	defer bw.CloseNow()
	defer cw.CloseNow()
	defer aw.CloseNow()
	say := func(ws *websocket.Conn, text string) {
		t.Helper()
		b, _ := json.Marshal(map[string]any{"action": "req", "request": map[string]any{"type": int(watch.ReqChat), "text": text}})
		if err := ws.Write(ctx, websocket.MessageText, b); err != nil {
			t.Fatal(err)
		}
	}
	// until reads ws until a message with one of actions, and returns
	// the action and its text.
	until := func(ws *websocket.Conn, actions ...string) (string, string) {
		t.Helper()
		for {
			_, b, err := ws.Read(ctx)
			if err != nil {
				t.Fatalf("waiting for %v: %v", actions, err)
			}
			var m struct{ Action, Text string }
			_ = json.Unmarshal(b, &m)
			for _, a := range actions {
				if m.Action == a {
					return m.Action, m.Text
				}
			}
		}
	}

	say(bw, "the ending is a SPOILER")
	if act, got := until(bw, "eventcustom", "chat"); act != "eventcustom" || got != "Permission denied: Message blocked by word filter" {
		t.Fatalf("bob's filtered line: %s %q, want the notice that the word filter blocked it", act, got)
	}
	// The owner's line passes the filter; carol sees it and, before it,
	// nothing of bob's.
	say(aw, "no spoiler from me")
	for {
		_, got := until(cw, "chat")
		if strings.Contains(got, "SPOILER") {
			t.Fatalf("carol got bob's filtered line: %q", got)
		}
		if got == "no spoiler from me" {
			break
		}
	}
	// The action: bob is timed out (the community says so on its own
	// route), and the automod log has the entry, with the channel.
	var e struct{ Error string }
	if code := call(t, "POST", base+"/channels/"+text.ID+"/messages", bob.AccessToken, map[string]string{"content": "hi"}, &e); code != 403 || e.Error != "User is timed out" {
		t.Fatalf("bob posting after the filtered line: %d %q, want 403 timed out", code, e.Error)
	}
	var logs []struct {
		ChannelID   *string `json:"channel_id"`
		UserID      *string `json:"user_id"`
		RuleType    string  `json:"rule_type"`
		ActionTaken string  `json:"action_taken"`
	}
	if code := call(t, "GET", base+"/servers/"+sid+"/automod/logs", alice.AccessToken, nil, &logs); code != 200 {
		t.Fatalf("automod logs: %d", code)
	}
	if len(logs) != 1 || logs[0].ChannelID == nil || *logs[0].ChannelID != chID || logs[0].UserID == nil || *logs[0].UserID != bob.User.ID ||
		logs[0].RuleType != "word_filter" || logs[0].ActionTaken != "timeout" {
		t.Fatalf("automod logs: %+v", logs)
	}
	// carol's clean line goes through.
	say(cw, "popcorn ready")
	if _, got := until(cw, "chat"); got != "popcorn ready" {
		t.Fatalf("carol's line: %q", got)
	}
}
