/**
 * A stand-in for `@heygen/liveavatar-web-sdk` 0.0.18 with the behaviour the adapter must cope with
 * (lib/LiveAvatarSession/LiveAvatarSession.js): `start()` resolves when the LITE socket opens, before LiveAvatar
 * reports `session.state_updated: connected` on it; audio sent before that is dropped without a word; the avatar's
 * `agent.speak_started` / `agent.speak_ended` come back re-stamped with new event ids; `interrupt()` throws unless
 * CONNECTED; a drop emits `session.disconnected` with UNKNOWN_REASON.
 */

import { fakeStream, later, record, register } from "./recorder";

export enum SessionEvent {
  SESSION_STREAM_READY = "session.stream_ready",
  SESSION_DISCONNECTED = "session.disconnected",
}

export enum SessionDisconnectReason {
  UNKNOWN_REASON = "UNKNOWN_REASON",
  CLIENT_INITIATED = "CLIENT_INITIATED",
}

export enum AgentEventsEnum {
  USER_TRANSCRIPTION = "user.transcription",
  AVATAR_TRANSCRIPTION = "avatar.transcription",
  AVATAR_SPEAK_STARTED = "avatar.speak_started",
  AVATAR_SPEAK_ENDED = "avatar.speak_ended",
}

type Listener = (detail: never) => void;

/** How long after the socket opens LiveAvatar reports the session connected. */
const CONNECTED_AFTER_MS = 400;

/** The LITE event socket: the server's messages, as `message` events. */
class StubSocket extends EventTarget {
  serverSays(message: object): void {
    this.dispatchEvent(new MessageEvent("message", { data: JSON.stringify(message) }));
  }
}

export class LiveAvatarSession {
  state = "INACTIVE";
  protected _sessionEventSocket: WebSocket | null = null;
  private readonly listeners = new Map<string, Listener[]>();
  private serverConnected = false;
  private queue: number[] = [];
  private speaking = false;
  private events = 0;
  private readonly lite: boolean;

  constructor(token: string, config: { voiceChat?: boolean; apiUrl?: string }) {
    this.lite = !config.voiceChat;
    record(`liveavatar.new token=${token} voiceChat=${config.voiceChat} api=${config.apiUrl}`);
    register({ sdk: "liveavatar", token, drop: () => this.drop() });
  }

  on(event: string, callback: Listener): this {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), callback]);
    return this;
  }

  private emit(event: string, detail?: unknown): void {
    for (const callback of this.listeners.get(event) ?? []) (callback as (detail: unknown) => void)(detail);
  }

  async start(): Promise<void> {
    record("liveavatar.start");
    await later(10);
    if (this.lite) {
      const socket = new StubSocket();
      this._sessionEventSocket = socket as unknown as WebSocket;
      setTimeout(() => {
        if (this.state !== "CONNECTED") return;
        this.serverConnected = true;
        record("liveavatar.connected");
        socket.serverSays({ type: "session.state_updated", state: "connected" });
      }, CONNECTED_AFTER_MS);
    } else {
      this.serverConnected = true;
    }
    this.state = "CONNECTED";
    this.emit(SessionEvent.SESSION_STREAM_READY);
  }

  attach(element: HTMLMediaElement): void {
    record(`liveavatar.attach ${element.tagName}`);
    element.srcObject = fakeStream();
  }

  repeatAudio(audio: string): string {
    if (!this.serverConnected || this.state !== "CONNECTED") {
      record("liveavatar.dropped");
      return "event";
    }
    record(`liveavatar.audio ${atob(audio).length}`);
    this.queue.push(globalThis.stubSdk.sentenceMs);
    if (!this.speaking) void this.play();
    return "event";
  }

  private async play(): Promise<void> {
    this.speaking = true;
    while (this.queue.length > 0 && this.state === "CONNECTED") {
      const ms = this.queue[0];
      this.emit(AgentEventsEnum.AVATAR_SPEAK_STARTED, { event_id: `server-${(this.events += 1)}` });
      await later(ms);
      if (this.queue.length === 0 || this.state !== "CONNECTED") break;
      this.queue.shift();
      this.emit(AgentEventsEnum.AVATAR_SPEAK_ENDED, { event_id: `server-${(this.events += 1)}` });
    }
    this.speaking = false;
  }

  repeat(text: string): string {
    record(`liveavatar.repeat ${text}`);
    return "event";
  }

  message(text: string): string {
    record(`liveavatar.message ${text}`);
    this.emit(AgentEventsEnum.USER_TRANSCRIPTION, { text });
    this.emit(AgentEventsEnum.AVATAR_TRANSCRIPTION, { text: `You asked: ${text}` });
    return "event";
  }

  interrupt(): void {
    if (this.state !== "CONNECTED") throw new Error("Session needs to be connected to send command event");
    record("liveavatar.interrupt");
    this.queue = [];
  }

  private drop(): void {
    this.state = "DISCONNECTED";
    this.queue = [];
    this.emit(SessionEvent.SESSION_DISCONNECTED, SessionDisconnectReason.UNKNOWN_REASON);
  }

  async stop(): Promise<void> {
    record("liveavatar.stop");
    this.state = "DISCONNECTED";
    this.queue = [];
    this.emit(SessionEvent.SESSION_DISCONNECTED, SessionDisconnectReason.CLIENT_INITIATED);
  }
}
