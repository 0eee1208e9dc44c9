// Voice channels. When the server runs Hearth's SFU (VOICE_SFU on the
// gateway), each of us sends audio, camera (simulcast: three layers) and
// screen share once, on a publish connection we offer, and receives
// everyone else's on a subscribe connection the server offers; the server
// says who speaks. Without the SFU (the op answers 503) it falls back to
// what Together's clients do: join with POST /channels/:id/voice, then a
// full mesh of browser-to-browser connections signalled through the
// gateway's VOICE_SIGNAL relay (the newcomer offers to everyone already
// there). ICE servers come from /ice-servers (STUN, and Hearth's TURN).
import { api, session } from "./together.svelte";
import { gateway } from "./gateway.svelte";
import { gathered } from "./ice";

export interface VoiceState {
  user_id: string;
  channel_id: string | null;
  username?: string;
  self_mute: boolean;
  self_deaf: boolean;
  self_video?: boolean;
  self_screen?: boolean;
  server_mute?: boolean;
}

export interface SFUTrack {
  user_id: string;
  track_id: string;
  kind: "audio" | "video";
  source: "mic" | "camera" | "screen";
  layers: number;
  muted: boolean;
}

/** One received video: whose, which source, the stream to show. */
export interface Tile {
  key: string;
  user_id: string;
  source: string;
  stream: MediaStream;
}

interface SFUMsg {
  type: string;
  /** The session (the socket's join, numbered from 1) a notice or a
   * join's reply is for. */
  session?: number;
  sdp?: string;
  status?: number;
  message?: string;
  op?: string;
  tracks?: SFUTrack[];
  user_id?: string;
  speaking?: boolean;
  reason?: string;
  participants?: { user_id: string; server_mute: boolean; speaking?: boolean }[];
}

interface Signal {
  from_user_id: string;
  type: "offer" | "answer" | "candidate";
  sdp: string | null;
  candidate: string | null;
  stream_type?: string | null;
}

/** The VOICE_SFU joins sent on the gateway's socket (whichever call sent
 * them): the server numbers each socket's joins from 1, and tags each
 * session's notices with its number. */
const joins = { socket: -1, sent: 0 };

export class VoiceCall {
  participants = $state<VoiceState[]>([]);
  joined = $state(false);
  muted = $state(false);
  /** In the call to listen only: the server refused our microphone (no
   * SPEAK in this channel), so we send nothing and show as muted. */
  listenOnly = $state(false);
  error = $state<unknown>(null);
  peerStates = $state<Record<string, string>>({});
  remote = $state.raw<Record<string, MediaStream>>({});
  /** "sfu" once the server's SFU took us; "mesh" on the fallback. */
  mode = $state<"" | "sfu" | "mesh">("");
  deafened = $state(false);
  camera = $state(false);
  screen = $state(false);
  speaking = $state<Record<string, boolean>>({});
  tiles = $state.raw<Tile[]>([]);
  localVideo = $state.raw<MediaStream | null>(null);
  private tracks: SFUTrack[] = [];
  private pub: RTCPeerConnection | null = null;
  private sub: RTCPeerConnection | null = null;
  private camTrack: MediaStreamTrack | null = null;
  private screenTrack: MediaStreamTrack | null = null;
  private sources: Record<string, string> = {};
  /** Requests waiting for their reply, oldest first: a reply goes to the
   * oldest request it answers, so two at once (the microphone's publish
   * and the camera's) each get their own. A hang-up rejects them all
   * (hangUp). */
  private waiting: { take: (m: SFUMsg) => boolean; cancel: () => void }[] = [];
  /** Publishes run one after another: each is an offer on the same
   * connection, answered before the next is made. */
  private publishing: Promise<void> = Promise.resolve();
  private received = new Map<string, { track: MediaStreamTrack; stream: MediaStream; user: string }>();
  private peers = new Map<string, RTCPeerConnection>();
  private local: MediaStream | null = null;
  private ice: RTCIceServer[] = [];
  private offs: (() => void)[] = [];
  /** Counts hang-ups: a join still in flight when one happens (a leave
   * during a rejoin after a reconnect) must not take us back in. */
  private hungUp = 0;
  /** The SFU session of the latest join (joins.sent when it was sent):
   * notices of another (a call left, whose late "closed" or offer comes
   * after this join was sent) are not ours. */
  private session = 0;
  /** The VOICE_STATE_UPDATEs received while the latest read of the voice
   * states is in flight, replayed on its answer; null when none is. */
  private since: VoiceState[] | null = null;
  private reads = 0;

  /** camLayer caps the simulcast layer asked for each camera (0: the
   * quarter-size layer, for a strip of small tiles); unset, the layer
   * follows how many cameras share the grid. */
  constructor(
    private readonly channelId: string,
    private readonly opts: { camLayer?: number } = {},
  ) {}

  async load() {
    // Listen first: an update sent while the states are read is kept and
    // replayed on them, never lost.
    this.offs.push(
      gateway.on("VOICE_STATE_UPDATE", (v: VoiceState) => this.onState(v)),
      gateway.on("VOICE_SIGNAL", (s: Signal) => void this.onSignal(s)),
      gateway.on("VOICE_SFU", (m: SFUMsg) => void this.onSFU(m)),
      // A new READY is a new socket (a reconnect, perhaps to another node):
      // the server ended our SFU session with the old one, so join again.
      // Its VOICE_STATE_UPDATEs missed while the socket was down (a
      // member who left then) are read again from the server.
      gateway.on("READY", () => {
        void this.reload();
        if (this.mode === "sfu" && this.joined) void this.rejoin();
      }),
    );
    await this.reload();
  }

  /** reload reads who is in the channel's voice now. The answer may be
   * older than an update received while it was on its way (a leave): the
   * updates received meanwhile are applied again on top of it, and only
   * the latest read is used. */
  private async reload() {
    const n = ++this.reads;
    const since: VoiceState[] = [];
    this.since = since;
    try {
      const list = await api<VoiceState[]>("Loading who is in voice", `/channels/${encodeURIComponent(this.channelId)}/voice`);
      if (n !== this.reads) return;
      this.participants = list;
      for (const v of since) this.applyState(v);
    } catch (e) {
      if (n === this.reads) this.error = e;
    } finally {
      if (n === this.reads) this.since = null;
    }
  }

  private async rejoin() {
    this.pub?.close();
    this.sub?.close();
    this.pub = this.sub = null;
    this.camTrack?.stop();
    this.screenTrack?.stop();
    this.camTrack = this.screenTrack = null;
    this.camera = this.screen = false;
    this.localVideo = null;
    this.sources = {};
    this.received.clear();
    this.tiles = [];
    this.remote = {};
    const hungUp = this.hungUp;
    try {
      if (!(await this.joinSFU(hungUp))) throw new Error("Voice is no longer available on this server");
      if (hungUp !== this.hungUp) return; // left meanwhile
      if (this.muted && !this.listenOnly) gateway.send("VOICE_SFU", { type: "state", self_mute: true });
    } catch (e) {
      if (hungUp !== this.hungUp) return; // left meanwhile: that leave told the server
      this.error = e;
      this.hangUp();
    }
  }

  /** Sends one VOICE_SFU request and waits for its reply type (or error). */
  private request(d: Record<string, unknown>, reply: string): Promise<SFUMsg> {
    return new Promise((resolve, reject) => {
      const drop = () => {
        this.waiting = this.waiting.filter((w) => w !== waiter);
      };
      const timer = setTimeout(() => {
        drop();
        reject(new Error("The voice server did not answer"));
      }, 10000);
      let session = 0;
      const waiter = {
        take: (m: SFUMsg) => {
          if (m.type !== reply && !(m.type === "error" && m.op === d.type)) return false;
          if (session && m.session !== undefined && m.session !== session) return false; // another join's
          clearTimeout(timer);
          drop();
          if (m.type === "error") reject(Object.assign(new Error(m.message ?? "Voice request refused"), { status: m.status }));
          else resolve(m);
          return true;
        },
        // The call it was for is over: its callers see hungUp changed
        // and stop quietly.
        cancel: () => {
          clearTimeout(timer);
          reject(new Error("Left the voice channel"));
        },
      };
      this.waiting = [...this.waiting, waiter];
      if (d.type === "join" && joins.socket !== gateway.opens) {
        joins.socket = gateway.opens;
        joins.sent = 0;
      }
      if (!gateway.send("VOICE_SFU", d)) {
        clearTimeout(timer);
        drop();
        reject(new Error("Not connected to the server"));
      } else if (d.type === "join") {
        session = this.session = ++joins.sent;
      }
    });
  }

  /** hungUp: this.hungUp when the join began. */
  private async joinSFU(hungUp = this.hungUp): Promise<boolean> {
    if (hungUp !== this.hungUp) return true; // left before we asked
    // The server's first subscribe offer can come before "joined": the
    // subscribe connection must be ready to answer it.
    const sub = new RTCPeerConnection({ iceServers: this.ice });
    this.sub = sub;
    sub.ontrack = (e) => this.onRemoteTrack(e);
    this.mode = "sfu";
    let reply: SFUMsg;
    try {
      reply = await this.request({ type: "join", channel_id: this.channelId }, "joined");
    } catch (e) {
      sub.close();
      if (hungUp !== this.hungUp) return true; // left meanwhile: nothing to undo
      this.sub = null;
      this.mode = "";
      const status = (e as { status?: number }).status;
      if (status === 503) return false;
      // No answer is no refusal: the server may take us in yet. A leave
      // follows the join on the socket and takes us out again.
      if (status === undefined) gateway.send("VOICE_SFU", { type: "leave" });
      throw e;
    }
    if (hungUp !== this.hungUp) {
      // We left while the join was on its way: the leave (sent by leave())
      // follows the join on the socket, so the server is out of it too;
      // the call must not start again here.
      sub.close();
      return true;
    }
    this.joined = true;
    try {
      this.pub = new RTCPeerConnection({ iceServers: this.ice });
      // The server shows us muted when we may not speak here (no SPEAK, or
      // a moderator's mute): then we listen, and the microphone is not
      // even asked for; it is once we are shown unmuted (speakAgain).
      const me = reply.participants?.find((p) => p.user_id === session.user?.id);
      const maySpeak = !me?.server_mute;
      if (maySpeak && !this.local && !this.listenOnly) {
        let local: MediaStream | null;
        try {
          local = await this.takeMic(() => hungUp === this.hungUp);
        } catch (e) {
          throw new Error(`Joining voice needs your microphone: ${(e as Error).message}`);
        }
        if (!local) return true; // left meanwhile
        this.local = local;
      }
      for (const t of this.local?.getAudioTracks() ?? []) {
        this.pub.addTransceiver(t, { direction: "sendonly", streams: [this.local!] });
        this.sources[t.id] = "mic";
      }
      if (!maySpeak) {
        this.listen();
      } else if (this.listenOnly && !this.local) {
        // The rejoin of a call we listen to (after a reconnect): nothing
        // to send, still shown muted.
        gateway.send("VOICE_SFU", { type: "state", self_mute: true });
      } else {
        try {
          await this.publish();
          this.listenOnly = false;
        } catch (e) {
          if ((e as { status?: number }).status !== 403 || hungUp !== this.hungUp) throw e;
          this.listen();
        }
      }
    } catch (e) {
      // The server has us in its room and in the channel's voice state
      // (everyone sees us in the call): tell it we are out, unless we left
      // meanwhile (that leave was sent then, and a second one could take
      // out a later join).
      if (hungUp === this.hungUp) gateway.send("VOICE_SFU", { type: "leave" });
      throw e;
    }
    return true;
  }

  /** The server refused our microphone (403: no SPEAK in this channel;
   * CONNECT let us in): stay in the call to listen, as Discord does, shown
   * muted, with a publish connection that sends nothing. The subscribe
   * connection is untouched. */
  private listen() {
    this.pub?.close();
    this.pub = new RTCPeerConnection({ iceServers: this.ice });
    for (const t of this.local?.getTracks() ?? []) t.stop();
    this.local = null;
    this.sources = {};
    this.listenOnly = true;
    gateway.send("VOICE_SFU", { type: "state", self_mute: true });
  }

  /** silenced: the server shows us muted while we send (SPEAK taken away
   * during the call, or a moderator's mute); it already drops what we
   * send. Stop the microphone, camera and screen (SPEAK covers video: left
   * on, they would run with no button to stop them) and listen. The
   * publish connection stays: closing it mid-call ends the call. */
  private silenced() {
    const video = this.camera || this.screen;
    for (const tr of this.pub?.getTransceivers() ?? []) {
      const t = tr.sender.track;
      if (!t) continue;
      t.stop();
      try {
        this.pub!.removeTrack(tr.sender);
      } catch {
        /* a closed connection: nothing is sent anyway */
      }
    }
    for (const t of this.local?.getTracks() ?? []) t.stop();
    this.local = null;
    this.camTrack = this.screenTrack = null;
    this.camera = this.screen = false;
    this.localVideo = null;
    this.sources = {};
    this.listenOnly = true;
    gateway.send("VOICE_SFU", video ? { type: "state", self_mute: true, self_video: false, self_screen: false } : { type: "state", self_mute: true });
  }

  private upgrading = false;
  /** Speaking again failed (the microphone refused or missing, or the
   * publish refused) when SPEAK came back: not tried again on every
   * participants notice, only after the server shows us muted and unmuted
   * once more. */
  private micRefused = false;

  /** speakAgain turns a listen-only call into one we speak in (SPEAK
   * given back mid-call): the microphone, then a publish. If either fails
   * we stay listening, as before. */
  private async speakAgain() {
    if (this.upgrading) return;
    this.upgrading = true;
    const hungUp = this.hungUp;
    try {
      const local = await this.takeMic(() => hungUp === this.hungUp && this.listenOnly && !!this.pub);
      if (!local) return;
      this.local = local;
      for (const t of local.getAudioTracks()) {
        this.pub!.addTransceiver(t, { direction: "sendonly", streams: [local] });
        this.sources[t.id] = "mic";
      }
      await this.publish();
      if (hungUp !== this.hungUp) return;
      this.listenOnly = false;
      this.muted = false;
      gateway.send("VOICE_SFU", { type: "state", self_mute: false });
    } catch (e) {
      if (hungUp !== this.hungUp) return; // left meanwhile
      this.listen(); // a fresh, silent publish connection; still muted
      // Not again on the notices that follow (our own self_mute sends
      // one), whatever failed: a 403 too, from a room whose list is late.
      this.micRefused = true;
      if ((e as { status?: number }).status !== 403) this.error = new Error(`Microphone: ${(e as Error).message}`);
    } finally {
      this.upgrading = false;
    }
  }

  /** takeMic asks for the microphone. If the call is no longer the one
   * that asked (still() is false once it is answered: left, or changed
   * meanwhile) it lets the microphone go and returns null. */
  private async takeMic(still: () => boolean): Promise<MediaStream | null> {
    const local = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
    if (still()) return local;
    local.getTracks().forEach((t) => t.stop());
    return null;
  }

  /** (Re)offers the publish connection with what we send now. */
  private publish(): Promise<void> {
    const run = this.publishing.then(() => this.publishNow());
    this.publishing = run.catch(() => undefined);
    return run;
  }

  private async publishNow() {
    const pc = this.pub;
    if (!pc) return;
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    await gathered(pc);
    const a = await this.request({ type: "publish", sdp: pc.localDescription!.sdp, sources: this.sources }, "answer");
    await pc.setRemoteDescription({ type: "answer", sdp: a.sdp! });
  }

  private async onSFU(m: SFUMsg) {
    for (const w of this.waiting) if (w.take(m)) break;
    if (this.mode !== "sfu") return;
    if (m.session !== undefined && m.session !== this.session) return; // a call we left
    try {
      switch (m.type) {
        case "offer": {
          const pc = this.sub!;
          await pc.setRemoteDescription({ type: "offer", sdp: m.sdp! });
          await pc.setLocalDescription(await pc.createAnswer());
          await gathered(pc);
          gateway.send("VOICE_SFU", { type: "answer", sdp: pc.localDescription!.sdp });
          break;
        }
        case "tracks":
          this.tracks = m.tracks ?? [];
          this.retile();
          break;
        case "speaking":
          this.speaking = { ...this.speaking, [m.user_id!]: !!m.speaking };
          break;
        case "participants": {
          // Listening only, and no longer muted by the server: SPEAK was
          // given back (without it the server shows us muted), so take
          // the microphone and speak, without leaving the call.
          // Shown muted by the server while we send: listen (silenced).
          // Before, the page went on showing Mute and Camera, and us
          // speaking, with nothing reaching anyone.
          const me = m.participants?.find((p) => p.user_id === session.user?.id);
          if (me?.server_mute) {
            this.micRefused = false; // muted again: the next unmute may ask again
            if (this.joined && !this.listenOnly) this.silenced();
          } else if (me && this.listenOnly && this.joined && !this.micRefused) void this.speakAgain();
          // Who speaks, as the room has it now (a member silenced stops
          // speaking with no "speaking" notice of its own).
          if (m.participants) this.speaking = Object.fromEntries(m.participants.map((p) => [p.user_id, !!p.speaking]));
          break;
        }
        case "closed":
          // "moved": the node running the room went away (or handed it
          // over); joining again starts the room on a node that is up.
          if (m.reason === "moved" && this.mode === "sfu" && this.joined) {
            void this.rejoin();
            break;
          }
          if (m.reason !== "left") this.error = new Error(`You were taken out of voice: ${m.reason}`);
          this.hangUp();
          break;
      }
    } catch (e) {
      this.error = new Error(`Voice connection failed: ${(e as Error).message}`);
    }
  }

  private onRemoteTrack(e: RTCTrackEvent) {
    // The server names each stream "<user>:<track>" (the tracks notice's
    // track_id); remote track ids are random in browsers.
    const key = e.streams[0]?.id ?? e.track.id;
    const user = key.split(":")[0];
    this.received.set(key, { track: e.track, stream: new MediaStream([e.track]), user });
    e.track.onended = () => {
      this.received.delete(key);
      this.retile();
    };
    this.retile();
  }

  /** Rebuilds the audio streams and video tiles from what we receive, and
   * asks for the layer each tile's size wants (small tiles: low). */
  private retile() {
    const remote: Record<string, MediaStream> = {};
    const tiles: Tile[] = [];
    const live = new Set(this.tracks.map((t) => t.track_id));
    for (const [key, r] of this.received) {
      if (!live.has(key) && this.tracks.length > 0) continue;
      const info = this.tracks.find((t) => t.track_id === key);
      if (r.track.kind === "audio") remote[key] = r.stream;
      else tiles.push({ key, user_id: r.user, source: info?.source ?? "camera", stream: r.stream });
    }
    this.remote = remote;
    this.tiles = tiles;
    const cams = tiles.filter((t) => t.source === "camera").length;
    for (const t of tiles) {
      let layer = t.source === "screen" ? 2 : cams > 6 ? 0 : cams > 2 ? 1 : 2;
      if (t.source === "camera" && this.opts.camLayer !== undefined) layer = Math.min(layer, this.opts.camLayer);
      gateway.send("VOICE_SFU", { type: "layer", track_id: t.key, layer });
    }
  }

  async toggleCamera() {
    if (this.mode !== "sfu" || !this.pub || this.listenOnly) return;
    const hungUp = this.hungUp;
    try {
      if (this.camTrack) {
        const tr = this.pub.getTransceivers().find((t) => t.sender.track === this.camTrack);
        this.camTrack.stop();
        if (tr) this.pub.removeTrack(tr.sender);
        delete this.sources[this.camTrack.id];
        this.camTrack = null;
        this.localVideo = null;
        this.camera = false;
      } else {
        const s = await navigator.mediaDevices.getUserMedia({ video: { width: 1280, height: 720 } });
        const t = s.getVideoTracks()[0];
        this.pub.addTransceiver(t, {
          direction: "sendonly",
          streams: [s],
          sendEncodings: [
            { rid: "q", scaleResolutionDownBy: 4, maxBitrate: 150_000 },
            { rid: "h", scaleResolutionDownBy: 2, maxBitrate: 500_000 },
            { rid: "f", maxBitrate: 1_500_000 },
          ],
        });
        this.sources[t.id] = "camera";
        this.camTrack = t;
        this.localVideo = s;
        this.camera = true;
      }
      await this.publish();
      gateway.send("VOICE_SFU", { type: "state", self_video: this.camera });
    } catch (e) {
      if (hungUp !== this.hungUp) return; // left meanwhile
      this.error = new Error(`Camera: ${(e as Error).message}`);
    }
  }

  async toggleScreen() {
    if (this.mode !== "sfu" || !this.pub || this.listenOnly) return;
    const hungUp = this.hungUp;
    try {
      if (this.screenTrack) {
        const tr = this.pub.getTransceivers().find((t) => t.sender.track === this.screenTrack);
        this.screenTrack.stop();
        if (tr) this.pub.removeTrack(tr.sender);
        delete this.sources[this.screenTrack.id];
        this.screenTrack = null;
        this.screen = false;
      } else {
        const s = await navigator.mediaDevices.getDisplayMedia({ video: true });
        const t = s.getVideoTracks()[0];
        t.onended = () => {
          if (this.screenTrack === t) void this.toggleScreen();
        };
        this.pub.addTransceiver(t, { direction: "sendonly", streams: [s] });
        this.sources[t.id] = "screen";
        this.screenTrack = t;
        this.screen = true;
      }
      await this.publish();
      gateway.send("VOICE_SFU", { type: "state", self_screen: this.screen });
    } catch (e) {
      if (hungUp !== this.hungUp) return; // left meanwhile
      this.error = new Error(`Screen share: ${(e as Error).message}`);
    }
  }

  toggleDeafen() {
    this.deafened = !this.deafened;
    if (this.mode === "sfu") gateway.send("VOICE_SFU", { type: "state", self_deaf: this.deafened });
    else void api("Updating deafen", `/channels/${encodeURIComponent(this.channelId)}/voice`, { method: "PATCH", body: { self_deaf: this.deafened } }).catch(() => null);
  }

  async join() {
    this.error = null;
    const hungUp = this.hungUp;
    try {
      const ice = await api<{ iceServers: RTCIceServer[] }>("Loading ICE servers", "/ice-servers");
      this.ice = ice.iceServers ?? [];
      // Over the SFU the microphone is asked for once the server took us
      // in and says we may speak (joinSFU); the mesh needs it first.
      if (await this.joinSFU(hungUp)) return;
      try {
        const local = await this.takeMic(() => hungUp === this.hungUp);
        if (!local) return; // the page went meanwhile
        this.local = local;
      } catch (e) {
        this.error = new Error(`Joining voice needs your microphone: ${(e as Error).message}`);
        return;
      }
      this.mode = "mesh";
      await api("Joining the voice channel", this.voicePath(), { method: "POST" });
      if (hungUp !== this.hungUp) {
        // The page went while the join was on its way (dispose hangs up
        // a call not joined yet): the server took us in after that. This
        // DELETE goes once the join has landed, so it takes us out again.
        await api("Leaving the voice channel", this.voicePath(), { method: "DELETE" }).catch(() => null);
        return;
      }
      this.joined = true;
      // From here a leave (dispose too: it leaves a joined call) sends its
      // DELETE after the join landed: the steps below only stop if one
      // came.
      const list = await api<VoiceState[]>("Loading who is in voice", this.voicePath());
      if (hungUp !== this.hungUp) return;
      this.participants = list;
      for (const p of list) {
        if (hungUp !== this.hungUp) return;
        if (p.user_id !== session.user?.id) await this.offer(p.user_id);
      }
    } catch (e) {
      if (hungUp !== this.hungUp) return; // left meanwhile: that leave told the server
      this.error = e;
      // A mesh join the server took (the POST landed) and a later step
      // failed: the server has us in voice, so leave it (an SFU join that
      // failed after "joined" told the server itself).
      if (this.joined && this.mode === "mesh") await this.leave();
      else this.hangUp();
    }
  }

  private voicePath() {
    return `/channels/${encodeURIComponent(this.channelId)}/voice`;
  }

  async leave() {
    if (this.mode === "sfu") {
      gateway.send("VOICE_SFU", { type: "leave" });
      this.hangUp();
      return;
    }
    try {
      await api("Leaving the voice channel", this.voicePath(), { method: "DELETE" });
    } catch (e) {
      this.error = e;
    }
    this.hangUp();
  }

  toggleMute() {
    if (this.listenOnly) return; // nothing sent to unmute
    this.muted = !this.muted;
    for (const t of this.local?.getAudioTracks() ?? []) t.enabled = !this.muted;
    if (this.mode === "sfu") {
      gateway.send("VOICE_SFU", { type: "state", self_mute: this.muted });
      return;
    }
    void api("Updating mute", `/channels/${encodeURIComponent(this.channelId)}/voice`, { method: "PATCH", body: { self_mute: this.muted } }).catch(() => null);
  }

  dispose() {
    // A join still on its way (mode "sfu" before "joined") is left too:
    // the leave follows it on the socket.
    if (this.joined || this.mode === "sfu") void this.leave();
    else this.hangUp();
    this.offs.forEach((f) => f());
    this.offs = [];
  }

  private hangUp() {
    this.hungUp++;
    this.micRefused = false;
    // A request of the call that ended may never be answered (sent on a
    // socket that went down): left waiting, it would take the reply meant
    // for the same request of a later call, which then timed out.
    const waiting = this.waiting;
    this.waiting = [];
    for (const w of waiting) w.cancel();
    for (const pc of this.peers.values()) pc.close();
    this.peers.clear();
    this.peerStates = {};
    this.remote = {};
    for (const t of this.local?.getTracks() ?? []) t.stop();
    this.local = null;
    this.joined = false;
    this.listenOnly = false;
    this.pub?.close();
    this.sub?.close();
    this.pub = this.sub = null;
    this.camTrack?.stop();
    this.screenTrack?.stop();
    this.camTrack = this.screenTrack = null;
    this.camera = this.screen = false;
    this.localVideo = null;
    this.sources = {};
    this.received.clear();
    this.tiles = [];
    this.speaking = {};
    this.mode = "";
  }

  private onState(v: VoiceState) {
    this.since?.push(v);
    this.applyState(v);
  }

  private applyState(v: VoiceState) {
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
    if (!this.joined || this.mode !== "mesh" || (s.stream_type && s.stream_type !== "voice")) return;
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
