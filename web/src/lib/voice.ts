/** Microphone input: hold-to-talk recording and hands-free utterances cut by the energy VAD. */

import { EnergyVad, rmsDb } from "./vad";

export const MIC_DENIED_MESSAGE =
  "The microphone is blocked. Allow it from the icon in the address bar, then try again, or type your question instead.";

/** The voice input was closed before the microphone opened; nothing to tell the user. */
export class VoiceClosedError extends Error {
  constructor() {
    super("voice input closed");
    this.name = "VoiceClosedError";
  }
}

export interface VoiceHandlers {
  /** A finished utterance, ready to be sent as a turn. */
  utterance(audio: Blob): void;
  /** The user started speaking (hands-free): a chance to interrupt the avatar. */
  speechStart(): void;
}

const FRAME_MS = 20;

export interface VoiceOptions {
  /** The avatar's end-of-speech wait (ms of silence that end a hands-free utterance); the VAD's default if unset. */
  endOfSpeechMs?: number;
  /** The clock frames are stamped with; `performance.now` in a browser. */
  now?: () => number;
}

export class VoiceInput {
  private readonly handlers: VoiceHandlers;
  private stream: MediaStream | null = null;
  private opening: Promise<MediaStream> | null = null;
  /** Counts close() calls, so a microphone that opens after one is released at once. */
  private generation = 0;
  private recorder: MediaRecorder | null = null;
  /** Recording was asked for and not stopped since: a release before the microphone opens cancels it. */
  private wanted = false;
  private chunks: Blob[] = [];
  private audio: AudioContext | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly endOfSpeechMs: number | undefined;
  private readonly now: () => number;

  constructor(handlers: VoiceHandlers, options: VoiceOptions = {}) {
    this.handlers = handlers;
    this.endOfSpeechMs = options.endOfSpeechMs;
    this.now = options.now ?? (() => performance.now());
  }

  get handsFree(): boolean {
    return this.timer !== null;
  }

  /** The microphone, opened once however many callers ask at the same time. */
  private microphone(): Promise<MediaStream> {
    if (this.stream) return Promise.resolve(this.stream);
    this.opening ??= this.openMicrophone().finally(() => (this.opening = null));
    return this.opening;
  }

  private async openMicrophone(): Promise<MediaStream> {
    const generation = this.generation;
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: true, noiseSuppression: true, channelCount: 1 },
      });
    } catch {
      throw new Error(MIC_DENIED_MESSAGE);
    }
    if (generation !== this.generation) {
      // Closed while the browser was asking: release the microphone at once rather than keep it open.
      for (const track of stream.getTracks()) track.stop();
      throw new VoiceClosedError();
    }
    this.stream = stream;
    return stream;
  }

  async startRecording(): Promise<void> {
    this.wanted = true;
    const stream = await this.microphone();
    if (this.recorder || !this.wanted) return;
    const type = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus"].find((t) => MediaRecorder.isTypeSupported(t));
    const recorder = new MediaRecorder(stream, type ? { mimeType: type } : {});
    this.chunks = [];
    recorder.ondataavailable = (event) => this.chunks.push(event.data);
    recorder.start();
    this.recorder = recorder;
  }

  /** Stops recording and hands the utterance over (nothing when the recording was empty). */
  stopRecording(): Promise<void> {
    this.wanted = false;
    const recorder = this.recorder;
    this.recorder = null;
    if (!recorder) return Promise.resolve();
    return new Promise((resolve) => {
      recorder.onstop = () => {
        const audio = new Blob(this.chunks, { type: recorder.mimeType || "audio/webm" });
        if (audio.size > 0) this.handlers.utterance(audio);
        resolve();
      };
      recorder.stop();
    });
  }

  async startHandsFree(): Promise<void> {
    const stream = await this.microphone();
    const audio = new AudioContext();
    const analyser = audio.createAnalyser();
    analyser.fftSize = 1024;
    audio.createMediaStreamSource(stream).connect(analyser);
    const frame = new Float32Array(analyser.fftSize);
    const vad = new EnergyVad(this.endOfSpeechMs === undefined ? {} : { endOfSpeechMs: this.endOfSpeechMs });
    this.audio = audio;
    this.timer = setInterval(() => {
      analyser.getFloatTimeDomainData(frame);
      const transition = vad.process(rmsDb(frame), this.now());
      if (transition === "speech-start") {
        this.handlers.speechStart();
        void this.startRecording();
      } else if (transition === "speech-end") void this.stopRecording();
    }, FRAME_MS);
  }

  stopHandsFree(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    void this.audio?.close();
    this.audio = null;
    void this.stopRecording();
  }

  close(): void {
    this.generation += 1;
    this.stopHandsFree();
    for (const track of this.stream?.getTracks() ?? []) track.stop();
    this.stream = null;
  }
}
