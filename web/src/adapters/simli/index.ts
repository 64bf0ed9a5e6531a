/**
 * Simli through `simli-client` 3.x: a face rendered from the speech we push, PCM16 at 16 kHz. The backend
 * minted the session token (and ICE servers for a peer-to-peer connection; without them, LiveKit).
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

  constructor(context: AdapterContext) {
    super(context);
    const hooks = pushedAudioHooks({
      api: context.api,
      sessionId: context.sessionId,
      sampleRate: SAMPLE_RATE,
      send: (audio) =>
        this.client?.sendAudioData(new Uint8Array(audio.pcm.buffer, audio.pcm.byteOffset, audio.pcm.byteLength)),
      halt: () => this.client?.ClearBuffer(),
    });
    this.line = new SpeechLine(hooks, this.events);
  }

  async start(credentials: Record<string, unknown>): Promise<void> {
    const video = this.video("The avatar's video");
    const audio = document.createElement("audio");
    audio.autoplay = true;
    this.context.stage.append(audio);
    const iceServers = Array.isArray(credentials.ice_servers) ? (credentials.ice_servers as RTCIceServer[]) : null;
    const client = new SimliClient(
      text(credentials, "session_token"),
      video,
      audio,
      iceServers,
      LogLevel.ERROR,
      iceServers ? "p2p" : "livekit",
    );
    this.client = client;
    client.on("stop", () => this.streamEnded());
    client.on("error", (detail: string) => this.events.emit("error", this.asError(detail, "the Simli stream failed")));
    await client.start();
    this.events.emit("ready", undefined);
  }

  speakSentence(sentence: string): Promise<boolean> {
    return this.line.speak(sentence);
  }

  speakAudio(pcm: Int16Array, sampleRate: number): Promise<boolean> {
    if (sampleRate !== SAMPLE_RATE) return Promise.reject(new Error(`Simli takes audio at ${SAMPLE_RATE} Hz.`));
    return this.line.speakPrepared({ pcm, sampleRate });
  }

  interrupt(): void {
    this.line.interrupt();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.line.interrupt();
    await this.client?.stop();
    this.streamEnded();
  }
}

export function createSimliAdapter(context: AdapterContext): AvatarAdapter {
  return new SimliAvatar(context);
}
