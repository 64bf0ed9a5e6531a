/**
 * HeyGen LiveAvatar through `@heygen/liveavatar-web-sdk`, in the mode the backend minted the token for.
 * FULL: LiveAvatar listens, asks our chat completions (the avatar's knowledge base) and speaks; its
 * transcription events fill our transcript. LITE: it renders the speech we push, PCM16 at 24 kHz.
 *
 * What the SDK (0.0.18, lib/LiveAvatarSession/LiveAvatarSession.js) does that matters here:
 * - `start()` resolves when the LITE WebSocket opens, but LiveAvatar drops every event sent before it reports
 *   `{"type":"session.state_updated","state":"connected"}` on that socket, a message the SDK does not surface.
 *   We read it from the socket (`_sessionEventSocket`, protected, hence the subclass) and send nothing before.
 * - `avatar.speak_started` / `avatar.speak_ended` say when an utterance really starts and ends; the SDK re-stamps
 *   their event ids, so they are matched to what we sent by order.
 * - `interrupt()` throws unless the session is CONNECTED (after a drop, say).
 * - A LiveKit or WebSocket drop emits `session.disconnected` with a reason other than CLIENT_INITIATED.
 */

import { AgentEventsEnum, LiveAvatarSession, SessionDisconnectReason, SessionEvent } from "@heygen/liveavatar-web-sdk";
import type { AdapterContext, AvatarAdapter } from "../../lib/adapter";
import { fetchPcm, type PcmAudio } from "../../lib/speech";
import { CloudAdapter, text } from "../cloud/base";
import { type Delivery, type LineHooks, SpeechLine, whenAborted } from "../cloud/speech-line";

const LITE_SAMPLE_RATE = 24_000;
/** How long LiveAvatar may take to report `connected` after its socket opened. */
export const CONNECTED_TIMEOUT_MS = 15_000;

/** Base64 of the samples' little-endian bytes, as LiveAvatar's `agent.speak` takes them. */
export function pcmToBase64(pcm: Int16Array): string {
  const bytes = new Uint8Array(pcm.buffer, pcm.byteOffset, pcm.byteLength);
  let binary = "";
  for (let offset = 0; offset < bytes.length; offset += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(offset, offset + 0x8000));
  }
  return btoa(binary);
}

/** The SDK's session, with its LITE event socket in reach. */
class WatchedSession extends LiveAvatarSession {
  /** Resolves once LiveAvatar reports the session `connected` (at once when there is no LITE socket). */
  connected(timeoutMs: number): Promise<void> {
    const open = this._sessionEventSocket;
    if (!open) return Promise.resolve();
    const socket: WebSocket = open;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.removeEventListener("message", listen);
        reject(new Error("LiveAvatar did not report the session connected."));
      }, timeoutMs);
      function listen(event: MessageEvent): void {
        let message: unknown;
        try {
          message = JSON.parse(String(event.data));
        } catch {
          return;
        }
        const { type, state } = (message ?? {}) as { type?: unknown; state?: unknown };
        if (type !== "session.state_updated" || state !== "connected") return;
        clearTimeout(timer);
        socket.removeEventListener("message", listen);
        resolve();
      }
      socket.addEventListener("message", listen);
    });
  }
}

interface Utterance {
  delivery: Delivery;
  started: boolean;
  done(): void;
}

/** LITE: each sentence's audio from our `/v1/tts`, finished when LiveAvatar says it ended speaking it. */
function liteHooks(context: AdapterContext, session: WatchedSession, ready: Promise<void>): {
  hooks: LineHooks<PcmAudio>;
  speakStarted(): void;
  speakEnded(): void;
} {
  let pending: Utterance[] = [];
  return {
    hooks: {
      prepare: (sentence, signal) => fetchPcm(context.api, context.sessionId, sentence, LITE_SAMPLE_RATE, signal),
      async deliver(audio, delivery) {
        await ready;
        if (delivery.signal.aborted) return;
        const ended = new Promise<void>((resolve) => pending.push({ delivery, started: false, done: resolve }));
        session.repeatAudio(pcmToBase64(audio.pcm));
        await Promise.race([ended, whenAborted(delivery.signal)]);
      },
      halt() {
        pending = [];
        if (session.state !== "CONNECTED") return;
        try {
          session.interrupt();
        } catch {
          // Not connected after all: nothing is playing to stop.
        }
      },
    },
    speakStarted() {
      const next = pending.find((utterance) => !utterance.started);
      if (!next) return;
      next.started = true;
      next.delivery.started();
    },
    speakEnded() {
      // An end only counts for an utterance that started: a late end of one we halted is not the next one's.
      if (!pending[0]?.started) return;
      pending.shift()?.done();
    },
  };
}

class LiveAvatar extends CloudAdapter implements AvatarAdapter {
  conversational = false;
  private session: WatchedSession | null = null;
  private line: SpeechLine<PcmAudio> | null = null;

  async start(credentials: Record<string, unknown>): Promise<void> {
    this.conversational = credentials.mode === "FULL";
    const session = new WatchedSession(text(credentials, "session_token"), {
      voiceChat: this.conversational,
      apiUrl: text(credentials, "api_base"),
    });
    this.session = session;
    const video = this.video("The avatar's video");
    session.on(SessionEvent.SESSION_STREAM_READY, () => session.attach(video));
    session.on(SessionEvent.SESSION_DISCONNECTED, (reason) => {
      this.line?.interrupt();
      if (reason !== SessionDisconnectReason.CLIENT_INITIATED) this.streamEnded();
    });
    let connected!: () => void;
    const ready = new Promise<void>((resolve) => (connected = resolve));
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
      const lite = liteHooks(this.context, session, ready);
      session.on(AgentEventsEnum.AVATAR_SPEAK_STARTED, () => lite.speakStarted());
      session.on(AgentEventsEnum.AVATAR_SPEAK_ENDED, () => lite.speakEnded());
      this.line = new SpeechLine(lite.hooks, this.events);
    }
    await session.start();
    // LITE speaks over the session socket, which drops what comes before `connected`; FULL's commands go
    // over LiveKit, joined by the time start() resolves.
    if (!this.conversational) await session.connected(CONNECTED_TIMEOUT_MS);
    connected();
  }

  sendText(question: string): void {
    if (this.session?.state === "CONNECTED") this.session.message(question);
  }

  speakSentence(sentence: string): Promise<boolean> {
    if (this.line) return this.line.speak(sentence);
    // FULL mode: LiveAvatar says what our brain answers it; a sentence of ours is repeated word for word.
    if (this.session?.state !== "CONNECTED") return Promise.resolve(false);
    this.session.repeat(sentence);
    return Promise.resolve(true);
  }

  interrupt(): void {
    if (this.line) {
      this.line.interrupt();
      return;
    }
    if (this.session?.state !== "CONNECTED") return;
    try {
      this.session.interrupt();
    } catch {
      // The session dropped in between: nothing is playing.
    }
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
