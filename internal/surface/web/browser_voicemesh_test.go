package web_test

import (
	"strings"
	"testing"
	"time"
)

// meshScript speaks Together's voice the way its web client does
// (useWebRTC.ts, written here from its behaviour): REST join, an offer to
// each participant listed at join time, the fake microphone on every
// connection, trickled candidates as JSON, offers from others answered,
// candidates only for a connection it has. It runs in the page on its own
// gateway socket with the page's token, and resolves with the ids it
// offered to.
const meshScript = `(async () => {
	const token = localStorage.getItem("together_access_token");
	const h = { Authorization: "Bearer " + token, "Content-Type": "application/json" };
	const me = (await (await fetch("/api/users/@me", { headers: h })).json()).id;
	const mic = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
	const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws?token=" + encodeURIComponent(token));
	await new Promise((ok, fail) => { ws.onopen = ok; ws.onerror = fail; });
	const peers = new Map();
	window.__mesh = { peers, heard: {} };
	const send = (to, type, sdp, candidate) => ws.send(JSON.stringify({ op: "VOICE_SIGNAL", t: null, d: { to_user_id: to, type, sdp, candidate, stream_type: "voice" } }));
	const peer = (id) => {
		if (peers.has(id)) return peers.get(id);
		const pc = new RTCPeerConnection({ iceServers: [] });
		peers.set(id, pc);
		mic.getAudioTracks().forEach((t) => pc.addTrack(t, mic));
		pc.ontrack = (e) => { if (e.streams[0]) window.__mesh.heard[id] = e.streams[0]; };
		pc.onicecandidate = (e) => { if (e.candidate) send(id, "candidate", undefined, JSON.stringify(e.candidate)); };
		return pc;
	};
	ws.onmessage = async (m) => {
		const f = JSON.parse(m.data);
		if (f.t !== "VOICE_SIGNAL") return;
		const s = f.d;
		if (!s.from_user_id || s.from_user_id === me) return;
		if (s.type === "offer") {
			const pc = peer(s.from_user_id);
			await pc.setRemoteDescription({ type: "offer", sdp: s.sdp });
			const a = await pc.createAnswer();
			await pc.setLocalDescription(a);
			send(s.from_user_id, "answer", a.sdp);
		} else if (s.type === "answer") {
			const pc = peers.get(s.from_user_id);
			if (pc?.signalingState === "have-local-offer") await pc.setRemoteDescription({ type: "answer", sdp: s.sdp });
		} else if (s.type === "candidate") {
			const pc = peers.get(s.from_user_id);
			if (pc) await pc.addIceCandidate(JSON.parse(s.candidate)).catch(() => {});
		}
	};
	const cid = %q;
	await fetch("/api/channels/" + cid + "/voice", { method: "POST", headers: h });
	const list = await (await fetch("/api/channels/" + cid + "/voice", { headers: h })).json();
	const offered = [];
	for (const v of list) {
		if (v.user_id === me) continue;
		const pc = peer(v.user_id);
		const o = await pc.createOffer();
		await pc.setLocalDescription(o);
		send(v.user_id, "offer", o.sdp);
		offered.push(v.user_id);
	}
	return offered.join(",");
})()`

// TestBrowserVoiceMixedMesh: erin uses Hearth's web app, on the SFU; finn's
// tab speaks Together's browser mesh (meshScript) in the same channel. The
// server answers finn's offer on erin's behalf, and each hears the other:
// finn's connection for erin receives audio packets, erin's app plays a
// live remote microphone.
func TestBrowserVoiceMixedMesh(t *testing.T) {
	t.Parallel()
	needBrowser(t)
	_, base := startApp(t, nil) // the test config has a media plane
	erin, finn := voiceChannelPair(t, base)
	cid := eval[string](erin, "read the channel id", `location.pathname.split("/").filter(Boolean).pop()`)

	clickVoiceToggle(erin, "join voice")
	erin.waitFor("the SFU controls", `!!document.querySelector('[data-testid="voice-camera"]')`, 15*time.Second)
	offered := eval[string](finn, "join as a Together mesh client", strings.Replace(meshScript, "%q", `"`+cid+`"`, 1))
	if offered == "" || strings.Contains(offered, ",") {
		t.Fatalf("the mesh client offered to %q, want erin alone", offered)
	}
	finn.waitFor("audio packets from erin through the SFU", `await (async () => {
		const pc = window.__mesh.peers.get(`+"`"+offered+"`"+`);
		if (!pc || !window.__mesh.heard[`+"`"+offered+"`"+`]) return false;
		let n = 0;
		(await pc.getStats()).forEach((r) => { if (r.type === "inbound-rtp" && r.kind === "audio") n = r.packetsReceived; });
		return n > 10;
	})()`, 20*time.Second)
	erin.waitFor("finn's live microphone", `[...document.querySelectorAll('[data-testid="voice-audio"]')].some(a => a.srcObject && a.srcObject.getAudioTracks().some(t => t.readyState === "live"))`, 20*time.Second)
	erin.screenshot("voice-mixed-mesh")
}
