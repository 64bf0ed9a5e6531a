/**
 * Microphone input: hold-to-talk recording, and hands-free utterances cut by the energy VAD.
 *
 * Hands-free keeps the last moments of sound before speech is detected (the detector needs a few frames
 * to be sure), so the first word is not clipped; the utterance goes out as 16 kHz WAV, which the server
 * reads without decoding a codec. When the speaker pauses, the utterance so far is offered ahead
 * (`VoiceHandlers.pause`); if the pause becomes the end of speech, that same recording is the utterance,
 * so what was done with it ahead (the server transcribing it) is what the turn gets.
 */

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
  /**
   * The speaker paused (hands-free): the utterance so far. Unless they speak on before the end-of-speech
   * wait is over, this very blob is handed to `utterance` next.
   */
  pause?(audio: Blob): void;
}

const FRAME_MS = 20;
/** Sound kept from before the detector starts speech: its start frames and a soft first consonant. */
export const PRE_ROLL_MS = 300;
/** What speech recognisers read (Whisper resamples everything to it). */
export const UPLOAD_RATE = 16_000;
const CAPTURE_FRAMES = 1024;

/** Mono samples of the microphone, kept from PRE_ROLL_MS before an utterance to its end. */
export class UtteranceClip {
  private readonly rate: number;
  private readonly keep: number;
  private chunks: Float32Array[] = [];
  private kept = 0;
  private recording = false;

  constructor(sampleRate: number, preRollMs = PRE_ROLL_MS) {
    this.rate = sampleRate;
    this.keep = Math.round((sampleRate * preRollMs) / 1000);
  }

  push(samples: Float32Array): void {
    this.chunks.push(samples.slice());
    this.kept += samples.length;
    if (this.recording) return;
    while (this.chunks.length > 1 && this.kept - this.chunks[0].length >= this.keep) {
      this.kept -= this.chunks.shift()?.length ?? 0;
    }
  }

  begin(): void {
    this.recording = true;
  }

  /** The utterance so far with its pre-roll as 16-bit WAV at UPLOAD_RATE; recording goes on. */
  snapshot(): Blob {
    const all = new Float32Array(this.kept);
    let offset = 0;
    for (const chunk of this.chunks) {
      all.set(chunk, offset);
      offset += chunk.length;
    }
    return wav(resample(all, this.rate, UPLOAD_RATE), UPLOAD_RATE);
  }

  /** Stops recording the utterance; the clip keeps listening for the next. */
  discard(): void {
    this.chunks = [];
    this.kept = 0;
    this.recording = false;
  }

  /** The whole utterance (see `snapshot`), and the clip listens for the next. */
  end(): Blob {
    const audio = this.snapshot();
    this.discard();
    return audio;
  }
}

/** Averages the input over each output sample's span: a box filter, enough against aliasing for speech. */
export function resample(samples: Float32Array, from: number, to: number): Float32Array {
  if (from === to) return samples;
  const out = new Float32Array(Math.floor((samples.length * to) / from));
  const step = from / to;
  for (let i = 0; i < out.length; i += 1) {
    const first = Math.floor(i * step);
    const last = Math.max(first + 1, Math.min(samples.length, Math.floor((i + 1) * step)));
    let sum = 0;
    for (let j = first; j < last; j += 1) sum += samples[j];
    out[i] = sum / (last - first);
  }
  return out;
}

/** PCM WAV (RIFF, 16-bit mono). */
export function wav(samples: Float32Array, rate: number): Blob {
  const bytes = new DataView(new ArrayBuffer(44 + samples.length * 2));
  const text = (offset: number, value: string): void => {
    for (let i = 0; i < value.length; i += 1) bytes.setUint8(offset + i, value.charCodeAt(i));
  };
  text(0, "RIFF");
  bytes.setUint32(4, 36 + samples.length * 2, true);
  text(8, "WAVE");
  text(12, "fmt ");
  bytes.setUint32(16, 16, true);
  bytes.setUint16(20, 1, true);
  bytes.setUint16(22, 1, true);
  bytes.setUint32(24, rate, true);
  bytes.setUint32(28, rate * 2, true);
  bytes.setUint16(32, 2, true);
  bytes.setUint16(34, 16, true);
  text(36, "data");
  bytes.setUint32(40, samples.length * 2, true);
  samples.forEach((sample, i) => bytes.setInt16(44 + i * 2, Math.round(Math.max(-1, Math.min(1, sample)) * 32767), true));
  return new Blob([bytes.buffer], { type: "audio/wav" });
}

export interface VoiceOptions {
  /** The avatar's end-of-speech wait (ms of silence that end a hands-free utterance). */
  endOfSpeechMs: number;
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
  /** The hands-free utterance being spoken, from speech start to speech end. */
  private utterance: UtteranceClip | null = null;
  /** The utterance as it was when the speaker paused, if they have not spoken on since. */
  private paused: Blob | null = null;
  private readonly endOfSpeechMs: number;
  private readonly now: () => number;

  constructor(handlers: VoiceHandlers, options: VoiceOptions) {
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
    const source = audio.createMediaStreamSource(stream);
    const analyser = audio.createAnalyser();
    analyser.fftSize = 1024;
    source.connect(analyser);
    const clip = new UtteranceClip(audio.sampleRate);
    const capture = audio.createScriptProcessor(CAPTURE_FRAMES, 1, 1);
    capture.onaudioprocess = (event) => clip.push(event.inputBuffer.getChannelData(0));
    source.connect(capture);
    // A script processor runs only while connected to the output; it writes nothing, so it plays silence.
    capture.connect(audio.destination);
    const frame = new Float32Array(analyser.fftSize);
    const vad = new EnergyVad({ endOfSpeechMs: this.endOfSpeechMs });
    this.audio = audio;
    this.timer = setInterval(() => {
      analyser.getFloatTimeDomainData(frame);
      const transition = vad.process(rmsDb(frame), this.now());
      if (transition === "speech-start") {
        this.handlers.speechStart();
        clip.begin();
        this.utterance = clip;
      } else if (transition === "speech-pause") {
        this.paused = clip.snapshot();
        this.handlers.pause?.(this.paused);
      } else if (transition === "speech-resume") this.paused = null;
      else if (transition === "speech-end") this.sendUtterance();
    }, FRAME_MS);
  }

  /** Hands the utterance over: as it was at the pause the speaker did not speak on after, if there was one. */
  private sendUtterance(): void {
    const clip = this.utterance;
    const paused = this.paused;
    this.utterance = null;
    this.paused = null;
    if (!clip) return;
    if (paused) clip.discard();
    this.handlers.utterance(paused ?? clip.end());
  }

  /** Stops listening; an utterance under way is sent as it is. */
  stopHandsFree(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    void this.audio?.close();
    this.audio = null;
    this.sendUtterance();
    void this.stopRecording();
  }

  close(): void {
    this.generation += 1;
    this.stopHandsFree();
    for (const track of this.stream?.getTracks() ?? []) track.stop();
    this.stream = null;
  }
}
