/** A stand-in for `simli-client` 3.x: it takes PCM16 16 kHz audio and says when it starts and stops. */

import { later, record, register } from "./recorder";

export enum LogLevel {
  DEBUG = 0,
  INFO = 1,
  WARN = 2,
  ERROR = 3,
}

type Listener = (detail?: string) => void;

export class SimliClient {
  private readonly listeners = new Map<string, Listener[]>();

  constructor(token: string, video: HTMLVideoElement, audio: HTMLAudioElement, ice: RTCIceServer[] | null, _level: LogLevel, transport: string) {
    record(`simli.new token=${token} transport=${transport} ice=${ice?.length ?? 0} video=${video.tagName} audio=${audio.tagName}`);
    register({ sdk: "simli", token, drop: () => this.emit("stop") });
  }

  on(event: string, callback: Listener): void {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), callback]);
  }

  private emit(event: string, detail?: string): void {
    for (const callback of this.listeners.get(event) ?? []) callback(detail);
  }

  async start(): Promise<void> {
    record("simli.start");
    await later(10);
    this.emit("start");
  }

  sendAudioData(audio: Uint8Array): void {
    record(`simli.audio ${audio.byteLength}`);
  }

  ClearBuffer = (): void => record("simli.clear");

  async stop(): Promise<void> {
    record("simli.stop");
  }
}
