// Voice channels the way Together's clients do them: join with
// POST /channels/:id/voice, then a full mesh of browser-to-browser WebRTC
// connections, signalled through the gateway's VOICE_SIGNAL relay (the
// newcomer offers to everyone already there). ICE servers come from
// /ice-servers (STUN, and Hearth's TURN when configured).
import { api, session } from "./together.svelte";
import { gateway } from "./gateway.svelte";

export interface VoiceState {
  user_id: string;
  channel_id: string | null;
  username?: string;
  self_mute: boolean;
  self_deaf: boolean;
}

interface Signal {
  from_user_id: string;
  type: "offer" | "answer" | "candidate";
  sdp: string | null;
  candidate: string | null;
  stream_type?: string | null;
}

export class VoiceCall {
  participants = $state<VoiceState[]>([]);
  joined = $state(false);
  muted = $state(false);
  error = $state<unknown>(null);
  peerStates = $state<Record<string, string>>({});
  remote = $state.raw<Record<string, MediaStream>>({});
  private peers = new Map<string, RTCPeerConnection>();
  private local: MediaStream | null = null;
  private ice: RTCIceServer[] = [];
  private offs: (() => void)[] = [];

  constructor(private readonly channelId: string) {}

  async load() {
    try {
      this.participants = await api<VoiceState[]>("Loading who is in voice", `/channels/${encodeURIComponent(this.channelId)}/voice`);
    } catch (e) {
      this.error = e;
    }
    this.offs.push(
      gateway.on("VOICE_STATE_UPDATE", (v: VoiceState) => this.onState(v)),
      gateway.on("VOICE_SIGNAL", (s: Signal) => void this.onSignal(s)),
    );
  }

  async join() {
    this.error = null;
    try {
      this.local = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
    } catch (e) {
      this.error = new Error(`Joining voice needs your microphone: ${(e as Error).message}`);
      return;
    }
    try {
      const ice = await api<{ iceServers: RTCIceServer[] }>("Loading ICE servers", "/ice-servers");
      this.ice = ice.iceServers ?? [];
      await api("Joining the voice channel", `/channels/${encodeURIComponent(this.channelId)}/voice`, { method: "POST" });
      this.joined = true;
      const list = await api<VoiceState[]>("Loading who is in voice", `/channels/${encodeURIComponent(this.channelId)}/voice`);
      this.participants = list;
      for (const p of list) if (p.user_id !== session.user?.id) await this.offer(p.user_id);
    } catch (e) {
      this.error = e;
      this.hangUp();
    }
  }

  async leave() {
    try {
      await api("Leaving the voice channel", `/channels/${encodeURIComponent(this.channelId)}/voice`, { method: "DELETE" });
    } catch (e) {
      this.error = e;
    }
    this.hangUp();
  }

  toggleMute() {
    this.muted = !this.muted;
    for (const t of this.local?.getAudioTracks() ?? []) t.enabled = !this.muted;
    void api("Updating mute", `/channels/${encodeURIComponent(this.channelId)}/voice`, { method: "PATCH", body: { self_mute: this.muted } }).catch(() => null);
  }

  dispose() {
    if (this.joined) void this.leave();
    this.offs.forEach((f) => f());
    this.offs = [];
  }

  private hangUp() {
    for (const pc of this.peers.values()) pc.close();
    this.peers.clear();
    this.peerStates = {};
    this.remote = {};
    for (const t of this.local?.getTracks() ?? []) t.stop();
    this.local = null;
    this.joined = false;
  }

  private onState(v: VoiceState) {
    const others = this.participants.filter((p) => p.user_id !== v.user_id);
    this.participants = v.channel_id === this.channelId ? [...others, v] : others;
    if (v.channel_id !== this.channelId) this.closePeer(v.user_id);
  }

  private closePeer(id: string) {
    this.peers.get(id)?.close();
    this.peers.delete(id);
    delete this.peerStates[id];
    const { [id]: _gone, ...rest } = this.remote;
    this.remote = rest;
  }

  private peer(id: string): RTCPeerConnection {
    let pc = this.peers.get(id);
    if (pc) return pc;
    pc = new RTCPeerConnection({ iceServers: this.ice });
    const conn = pc;
    this.peers.set(id, conn);
    for (const t of this.local?.getTracks() ?? []) conn.addTrack(t, this.local!);
    conn.onicecandidate = (e) => {
      if (e.candidate) this.send(id, "candidate", null, JSON.stringify(e.candidate.toJSON()));
    };
    conn.onconnectionstatechange = () => {
      this.peerStates[id] = conn.connectionState;
    };
    conn.ontrack = (e) => {
      this.remote = { ...this.remote, [id]: e.streams[0] ?? new MediaStream([e.track]) };
    };
    this.peerStates[id] = conn.connectionState;
    return conn;
  }

  private async offer(id: string) {
    const pc = this.peer(id);
    const o = await pc.createOffer();
    await pc.setLocalDescription(o);
    this.send(id, "offer", o.sdp ?? null, null);
  }

  private async onSignal(s: Signal) {
    if (!this.joined || (s.stream_type && s.stream_type !== "voice")) return;
    try {
      if (s.type === "offer" && s.sdp) {
        const pc = this.peer(s.from_user_id);
        await pc.setRemoteDescription({ type: "offer", sdp: s.sdp });
        const a = await pc.createAnswer();
        await pc.setLocalDescription(a);
        this.send(s.from_user_id, "answer", a.sdp ?? null, null);
      } else if (s.type === "answer" && s.sdp) {
        await this.peers.get(s.from_user_id)?.setRemoteDescription({ type: "answer", sdp: s.sdp });
      } else if (s.type === "candidate" && s.candidate) {
        await this.peers.get(s.from_user_id)?.addIceCandidate(JSON.parse(s.candidate));
      }
    } catch (e) {
      this.error = new Error(`Voice connection to a participant failed: ${(e as Error).message}`);
    }
  }

  private send(to: string, type: Signal["type"], sdp: string | null, candidate: string | null) {
    gateway.send("VOICE_SIGNAL", { to_user_id: to, type, sdp, candidate, stream_type: "voice" });
  }
}
