/**
 * Simli through `simli-client` 3.x: a face rendered from the speech we push, PCM16 at 16 kHz. The backend
 * minted the session token (and ICE servers for a peer-to-peer connection; without them, LiveKit: the SDK
 * throws "Ice Servers Required for P2P Mode" for P2P with an empty list).
 *
 * What the SDK (3.0.1, dist/Transports) tells of a drop: `stop` only for the server's STOP/ENDFRAME, `error` for
 * its ERROR/RATE/CLOSING, and nothing at all for a LiveKit or P2P drop or a closed socket. So a drop is also
 * read from the video element losing its stream (`emptied`, a track `ended`), and from a send that throws
 * because the socket is closed (`sendAudioData` / `ClearBuffer`).
 *
 * When the face speaks: the server's SPEAK and SILENT messages, which the SDK emits as `speaking` and `silent`
 * (dist/Transports/BaseTransport.js `handleMessage`; an ERROR falls through to `speaking` there, which the
 * drop it causes makes harmless). They start and end the sentences we pushed.
 */

import { LogLevel, SimliClient } from "simli-client";
import type { AdapterContext, AvatarAdapter } from "../../lib/adapter";
import type { PcmAudio } from "../../lib/speech";
import { CloudAdapter, text } from "../cloud/base";
import { pushedAudioHooks, SpeechLine } from "../cloud/speech-line";

const SAMPLE_RATE = 16_000;

class SimliAvatar extends CloudAdapter implements AvatarAdapter {
  private client: SimliClient | null = null;
  private readonly line: SpeechLine<PcmAudio>;
  private readonly voice: ReturnType<typeof pushedAudioHooks>;

  constructor(context: AdapterContext) {
    super(context);
    this.voice = pushedAudioHooks({
      api: context.api,
      sessionId: context.sessionId,
      sampleRate: SAMPLE_RATE,
      send: (audio) =>
        this.guarded(() =>
          this.client?.sendAudioData(new Uint8Array(audio.pcm.buffer, audio.pcm.byteOffset, audio.pcm.byteLength)),
        ),
      halt: () => this.guarded(() => this.client?.ClearBuffer()),
    });
    this.line = new SpeechLine(this.voice.hooks, this.events);
  }

  async start(credentials: Record<string, unknown>): Promise<void> {
    const video = this.video("The avatar's video");
    const audio = document.createElement("audio");
    audio.autoplay = true;
    this.context.stage.append(audio);
    const listed = Array.isArray(credentials.ice_servers) ? (credentials.ice_servers as RTCIceServer[]) : [];
    const iceServers = listed.length > 0 ? listed : null;
    const client = new SimliClient(
      text(credentials, "session_token"),
      video,
      audio,
      iceServers,
      LogLevel.ERROR,
      iceServers ? "p2p" : "livekit",
    );
    this.client = client;
    client.on("stop", () => this.dropped());
    client.on("speaking", () => this.voice.speaking());
    client.on("silent", () => this.voice.silent());
    client.on("error", (detail: string) => {
      this.events.emit("error", this.asError(detail, "the Simli stream failed"));
      this.dropped();
    });
    await client.start();
    this.watch(video);
  }

  /** The stream is gone without a word from the SDK when the element loses it or one of its tracks ends. */
  private watch(video: HTMLVideoElement): void {
    video.addEventListener("emptied", () => this.dropped());
    const stream = video.srcObject;
    if (stream instanceof MediaStream) {
      for (const track of stream.getTracks()) track.addEventListener("ended", () => this.dropped());
    }
  }

  private dropped(): void {
    this.line.interrupt();
    this.streamEnded();
  }

  /** A call into the SDK that throws once its socket is closed: that is a drop, never an exception of ours. */
  private guarded(call: () => void): void {
    try {
      call();
    } catch {
      if (!this.stopping) this.dropped();
    }
  }

  speakSentence(sentence: string): Promise<boolean> {
    return this.line.speak(sentence);
  }

  interrupt(): void {
    this.line.interrupt();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.line.interrupt();
    try {
      await this.client?.stop();
    } finally {
      this.streamEnded();
    }
  }
}

export function createSimliAdapter(context: AdapterContext): AvatarAdapter {
  return new SimliAvatar(context);
}
