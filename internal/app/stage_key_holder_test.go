package app_test

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/hearth-community/hearth/internal/community"
	"github.com/hearth-community/hearth/internal/live"
)

// TestStageChannelKeyFollowsItsHolder: each manager of a stage channel is
// issued a stream key of their own, and it streams only while they manage
// the channel. Bob, given MANAGE_CHANNELS, streams with his key; when the
// role is taken from him his broadcast ends and his key no longer
// publishes (RTMP or WHIP), while the owner's key still does. Before, the channel had one
// shared key: a manager who was demoted or kicked went on streaming to the
// community with the key they had read.
func TestStageChannelKeyFollowsItsHolder(t *testing.T) {
	t.Parallel()
	a, base := liveNode(t, nil) // RTMP and WHIP
	alice, bob := register(t, base, "alice"), register(t, base, "bob")
	sid := newServer(t, base, alice.AccessToken)
	if code := call(t, "POST", base+"/servers/"+sid+"/join", bob.AccessToken, nil, nil); code != 200 && code != 201 {
		t.Fatalf("join: %d", code)
	}
	var ch, role struct{ ID string }
	if code := call(t, "POST", base+"/servers/"+sid+"/channels", alice.AccessToken, map[string]string{"name": "Concerts", "type": "stage"}, &ch); code != 201 {
		t.Fatalf("create stage channel: %d", code)
	}
	if code := call(t, "POST", base+"/servers/"+sid+"/roles", alice.AccessToken, map[string]any{"name": "stagehand", "permissions": community.PermManageChannels}, &role); code != 201 {
		t.Fatalf("create role: %d", code)
	}
	grant := base + "/servers/" + sid + "/members/" + bob.User.ID + "/roles/" + role.ID
	if code := call(t, "PUT", grant, alice.AccessToken, nil, nil); code != 204 {
		t.Fatalf("grant the role: %d", code)
	}
	api := base + "/api/stages/" + ch.ID
	var aliceKey, bobKey, again struct{ RTMPURL, StreamKey string }
	if code := call(t, "GET", api+"/key", bob.AccessToken, nil, &bobKey); code != 200 || bobKey.StreamKey == "" {
		t.Fatalf("bob's key: %d %+v", code, bobKey)
	}
	if code := call(t, "GET", api+"/key", alice.AccessToken, nil, &aliceKey); code != 200 || aliceKey.StreamKey == "" || aliceKey.StreamKey == bobKey.StreamKey {
		t.Fatalf("alice's key: %d %+v (bob's %q)", code, aliceKey, bobKey.StreamKey)
	}
	// Each reads their own key again; alice's rotation leaves bob's.
	if call(t, "GET", api+"/key", bob.AccessToken, nil, &again); again.StreamKey != bobKey.StreamKey {
		t.Fatalf("bob's key changed on a read: %q, was %q", again.StreamKey, bobKey.StreamKey)
	}
	if code := call(t, "POST", api+"/key", alice.AccessToken, nil, &aliceKey); code != 200 || aliceKey.StreamKey == "" {
		t.Fatalf("alice rotates: %d", code)
	}
	if err := a.Live.SetVariants(context.Background(), ch.ID, []live.Variant{{VideoPassthrough: true}}); err != nil {
		t.Fatal(err)
	}

	// publish streams until it is stopped (seconds "": until killed).
	publish := func(key string, seconds string) *exec.Cmd {
		args := []string{"-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=10"}
		if seconds != "" {
			args = append(args, "-t", seconds)
		}
		args = append(args, "-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-pix_fmt", "yuv420p", "-f", "flv", bobKey.RTMPURL+"/"+key)
		return exec.Command("ffmpeg", args...)
	}
	online := func() bool {
		var st stageStatus
		return call(t, "GET", api+"/status", alice.AccessToken, nil, &st) == 200 && st.Online
	}
	pub := publish(bobKey.StreamKey, "")
	if err := pub.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = pub.Wait(); close(exited) }()
	t.Cleanup(func() { _ = pub.Process.Kill(); <-exited })
	poll(t, "bob's stream online", 30*time.Second, online)

	// The role is taken from bob: his broadcast ends, and his key is
	// refused from then on.
	if code := call(t, "DELETE", grant, alice.AccessToken, nil, nil); code != 204 {
		t.Fatalf("take the role: %d", code)
	}
	select {
	case <-exited:
	case <-time.After(hangGuard):
		t.Fatal("bob's broadcast went on after he stopped managing the channel")
	}
	poll(t, "the stage offline", 30*time.Second, func() bool { return !online() })
	if err := publish(bobKey.StreamKey, "1").Run(); err == nil {
		t.Fatal("bob's key published after he stopped managing the channel")
	}
	pc, _, _ := publisher(t, true)
	if code, _, body := postSDP(t, "POST", base+"/api/whip/"+ch.ID, bobKey.StreamKey, "application/sdp", offerSDP(t, pc)); code != 403 {
		t.Fatalf("bob's key over WHIP after the role was taken: %d %s, want 403", code, body)
	}
	if code := call(t, "GET", api+"/key", bob.AccessToken, nil, nil); code != 403 {
		t.Fatalf("bob reads a key after the role was taken: %d, want 403", code)
	}
	// The owner's key still streams.
	own := publish(aliceKey.StreamKey, "")
	if err := own.Start(); err != nil {
		t.Fatal(err)
	}
	ownExited := make(chan struct{})
	go func() { _ = own.Wait(); close(ownExited) }()
	t.Cleanup(func() { _ = own.Process.Kill(); <-ownExited })
	poll(t, "alice's stream online", 30*time.Second, online)
}
