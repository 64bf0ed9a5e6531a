/**
 * HeyGen LiveAvatar through `@heygen/liveavatar-web-sdk`, in the mode the backend minted the token for.
 * FULL: LiveAvatar listens, asks our chat completions (the avatar's knowledge base) and speaks; its
 * transcription events fill our transcript. LITE: it renders the speech we push, PCM16 at 24 kHz.
 */

import { AgentEventsEnum, LiveAvatarSession, SessionDisconnectReason, SessionEvent } from "@heygen/liveavatar-web-sdk";
import type { AdapterContext, AvatarAdapter } from "../../lib/adapter";
import type { PcmAudio } from "../../lib/speech";
import { CloudAdapter, text } from "../cloud/base";
import { pushedAudioHooks, SpeechLine } from "../cloud/speech-line";

const LITE_SAMPLE_RATE = 24_000;

/** Base64 of the samples' little-endian bytes, as LiveAvatar's `agent.speak` takes them. */
export function pcmToBase64(pcm: Int16Array): string {
  const bytes = new Uint8Array(pcm.buffer, pcm.byteOffset, pcm.byteLength);
  let binary = "";
  for (let offset = 0; offset < bytes.length; offset += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(offset, offset + 0x8000));
  }
  return btoa(binary);
}

class LiveAvatar extends CloudAdapter implements AvatarAdapter {
  conversational = false;
  private session: LiveAvatarSession | null = null;
  private line: SpeechLine<PcmAudio> | null = null;

  async start(credentials: Record<string, unknown>): Promise<void> {
    this.conversational = credentials.mode === "FULL";
    const session = new LiveAvatarSession(text(credentials, "session_token"), {
      voiceChat: this.conversational,
      apiUrl: text(credentials, "api_base"),
    });
    this.session = session;
    const video = this.video("The avatar's video");
    session.on(SessionEvent.SESSION_STREAM_READY, () => session.attach(video));
    session.on(SessionEvent.SESSION_DISCONNECTED, (reason) => {
      if (reason !== SessionDisconnectReason.CLIENT_INITIATED) this.streamEnded();
    });
    if (this.conversational) {
      session.on(AgentEventsEnum.AVATAR_SPEAK_STARTED, () => this.events.emit("speaking", undefined));
      session.on(AgentEventsEnum.AVATAR_SPEAK_ENDED, () => this.events.emit("idle", undefined));
      session.on(AgentEventsEnum.USER_TRANSCRIPTION, (event) =>
        this.events.emit("transcript", { role: "user", text: event.text }),
      );
      session.on(AgentEventsEnum.AVATAR_TRANSCRIPTION, (event) =>
        this.events.emit("transcript", { role: "avatar", text: event.text }),
      );
    } else {
      const hooks = pushedAudioHooks({
        api: this.context.api,
        sessionId: this.context.sessionId,
        sampleRate: LITE_SAMPLE_RATE,
        send: (audio) => session.repeatAudio(pcmToBase64(audio.pcm)),
        halt: () => session.interrupt(),
      });
      this.line = new SpeechLine(hooks, this.events);
    }
    await session.start();
    this.events.emit("ready", undefined);
  }

  sendText(question: string): void {
    this.session?.message(question);
  }

  speakSentence(sentence: string): Promise<boolean> {
    if (this.line) return this.line.speak(sentence);
    // FULL mode: LiveAvatar says what our brain answers it; a sentence of ours is repeated word for word.
    this.session?.repeat(sentence);
    return Promise.resolve(true);
  }

  speakAudio(pcm: Int16Array, sampleRate: number): Promise<boolean> {
    if (!this.line) return Promise.reject(new Error("LiveAvatar takes audio in LITE mode only."));
    if (sampleRate !== LITE_SAMPLE_RATE) {
      return Promise.reject(new Error(`LiveAvatar takes audio at ${LITE_SAMPLE_RATE} Hz.`));
    }
    return this.line.speakPrepared({ pcm, sampleRate });
  }

  interrupt(): void {
    if (this.line) this.line.interrupt();
    else if (this.session?.state === "CONNECTED") this.session.interrupt();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.line?.interrupt();
    await this.session?.stop();
    this.streamEnded();
  }
}

export function createLiveAvatarAdapter(context: AdapterContext): AvatarAdapter {
  return new LiveAvatar(context);
}
