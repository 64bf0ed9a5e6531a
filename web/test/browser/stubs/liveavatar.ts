/** A stand-in for `@heygen/liveavatar-web-sdk`: a session in FULL or LITE mode with LiveAvatar's event names. */

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

export class LiveAvatarSession {
  state = "INACTIVE";
  private readonly listeners = new Map<string, Listener[]>();

  constructor(token: string, config: { voiceChat?: boolean; apiUrl?: string }) {
    record(`liveavatar.new token=${token} voiceChat=${config.voiceChat} api=${config.apiUrl}`);
    register({ sdk: "liveavatar", token, drop: () => this.emit(SessionEvent.SESSION_DISCONNECTED, SessionDisconnectReason.UNKNOWN_REASON) });
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
    this.state = "CONNECTED";
    this.emit(SessionEvent.SESSION_STREAM_READY);
  }

  attach(element: HTMLMediaElement): void {
    record(`liveavatar.attach ${element.tagName}`);
    element.srcObject = fakeStream();
  }

  repeatAudio(audio: string): string {
    record(`liveavatar.audio ${atob(audio).length}`);
    return "event";
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
    record("liveavatar.interrupt");
  }

  async stop(): Promise<void> {
    record("liveavatar.stop");
    this.state = "DISCONNECTED";
    this.emit(SessionEvent.SESSION_DISCONNECTED, SessionDisconnectReason.CLIENT_INITIATED);
  }
}
