/**
 * A stand-in for `simli-client` 3.0.1 with the behaviour that matters (dist/Client.js, dist/Transports): the video
 * element gets the stream; P2P with no ICE servers throws; a LiveKit/P2P drop emits nothing (the element loses its
 * stream and the closed socket makes sendAudioData / ClearBuffer throw); a server ERROR/RATE emits `error`.
 */

import { fakeStream, later, record, register } from "./recorder";

export enum LogLevel {
  DEBUG = 0,
  INFO = 1,
  WARN = 2,
  ERROR = 3,
}

type Listener = (detail?: string) => void;

export class SimliClient {
  private readonly listeners = new Map<string, Listener[]>();

  private closed = false;
  private readonly video: HTMLVideoElement;

  constructor(token: string, video: HTMLVideoElement, audio: HTMLAudioElement, ice: RTCIceServer[] | null, _level: LogLevel, transport: string) {
    record(`simli.new token=${token} transport=${transport} ice=${ice?.length ?? 0} video=${video.tagName} audio=${audio.tagName}`);
    if (transport === "p2p" && !ice?.length) throw "Ice Servers Required for P2P Mode";
    this.video = video;
    register({ sdk: "simli", token, drop: () => this.drop() });
  }

  /** A network drop: no event, the element loses its stream, the socket is closed. */
  private drop(): void {
    this.closed = true;
    this.video.srcObject = null;
  }

  /** What the server's ERROR / RATE / CLOSING message does. */
  serverError(message: string): void {
    this.emit("error", message);
  }

  private send(): void {
    if (this.closed) throw "Invalid State, WS Connection 3";
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
    this.video.srcObject = fakeStream();
    this.emit("start");
  }

  sendAudioData(audio: Uint8Array): void {
    this.send();
    record(`simli.audio ${audio.byteLength}`);
  }

  ClearBuffer = (): void => {
    this.send();
    record("simli.clear");
  };

  async stop(): Promise<void> {
    record("simli.stop");
  }
}
