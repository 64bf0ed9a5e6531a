/**
 * A stand-in for `simli-client` 3.0.1 with the behaviour that matters (dist/Client.js, dist/Transports): the video
 * element gets the stream; P2P with no ICE servers throws; a LiveKit/P2P drop emits nothing (the element loses its
 * stream and the closed socket makes sendAudioData / ClearBuffer throw); a server ERROR/RATE emits `error`, then
 * `speaking` (the SDK's `handleMessage` falls through). The face speaks what was pushed, after a start-up delay,
 * each piece for its audio's length (at least `stubSdk.sentenceMs`): `speaking` when it starts (the server's SPEAK),
 * `silent` when nothing is left (SILENT), none between pieces that follow each other.
 */

import { fakeStream, later, record, register } from "./recorder";

/** How long the face takes to start saying audio it was given (the network and the first frames). */
const START_DELAY_MS = 200;
const BYTES_PER_MS = 32; // PCM16 at 16 kHz

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
  private queue: number[] = [];
  private speaking = false;
  /** How many times the buffer was cleared: a piece being said then is cut short. */
  private cleared = 0;

  constructor(token: string, video: HTMLVideoElement, audio: HTMLAudioElement, ice: RTCIceServer[] | null, _level: LogLevel, transport: string) {
    record(`simli.new token=${token} transport=${transport} ice=${ice?.length ?? 0} video=${video.tagName} audio=${audio.tagName}`);
    if (transport === "p2p" && !ice?.length) throw "Ice Servers Required for P2P Mode";
    this.video = video;
    register({ sdk: "simli", token, drop: () => this.drop() });
  }

  /** A network drop: no event, the element loses its stream, the socket is closed. */
  private drop(): void {
    this.closed = true;
    this.queue = [];
    this.video.srcObject = null;
  }

  /** What the server's ERROR / RATE / CLOSING message does. */
  serverError(message: string): void {
    this.emit("error", message);
    this.emit("speaking");
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
    this.queue.push(Math.max(audio.byteLength / BYTES_PER_MS, globalThis.stubSdk.sentenceMs));
    if (!this.speaking) void this.play();
  }

  private async play(): Promise<void> {
    this.speaking = true;
    const cleared = this.cleared;
    const current = (): boolean => !this.closed && cleared === this.cleared;
    await later(START_DELAY_MS);
    if (this.queue.length > 0 && current()) {
      record("simli.speaking");
      this.emit("speaking");
      while (this.queue.length > 0 && current()) {
        await later(this.queue[0]);
        if (current()) this.queue.shift();
      }
      if (!this.closed) {
        record("simli.silent");
        this.emit("silent");
      }
    }
    this.speaking = false;
    if (this.queue.length > 0 && !this.closed) void this.play();
  }

  ClearBuffer = (): void => {
    this.send();
    record("simli.clear");
    this.queue = [];
    this.cleared += 1;
  };

  async stop(): Promise<void> {
    record("simli.stop");
  }
}
