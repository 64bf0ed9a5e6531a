/** Plays sentences' speech back to back on the AudioContext clock, fetching ahead while one plays. */

import type { PcmAudio } from "../../lib/speech";

export type FetchSpeech = (text: string, signal: AbortSignal) => Promise<PcmAudio>;

interface Item {
  load: (signal: AbortSignal) => Promise<PcmAudio>;
  abort: AbortController;
  audio: Promise<AudioBuffer> | null;
  buffer: AudioBuffer | null;
  source: AudioBufferSourceNode | null;
  resolve: (finished: boolean) => void;
}

export interface PlayerHooks {
  speaking(): void;
  idle(): void;
  error(error: Error): void;
}

export class SpeechPlayer {
  readonly context: AudioContext;
  readonly analyser: AnalyserNode;
  private readonly fetchSpeech: FetchSpeech;
  private readonly hooks: PlayerHooks;
  private readonly lookahead: number;
  private items: Item[] = [];
  private endsAt = 0;
  private playing = 0;

  constructor(context: AudioContext, fetchSpeech: FetchSpeech, hooks: PlayerHooks, lookahead = 2) {
    this.context = context;
    this.fetchSpeech = fetchSpeech;
    this.hooks = hooks;
    this.lookahead = lookahead;
    this.analyser = context.createAnalyser();
    this.analyser.fftSize = 1024;
    this.analyser.connect(context.destination);
  }

  /** Nothing is playing or waiting to play. */
  get idle(): boolean {
    return this.items.length === 0;
  }

  speakText(text: string): Promise<boolean> {
    return this.enqueue((signal) => this.fetchSpeech(text, signal));
  }

  private enqueue(load: Item["load"]): Promise<boolean> {
    return new Promise((resolve) => {
      this.items.push({ load, abort: new AbortController(), audio: null, buffer: null, source: null, resolve });
      this.pump();
    });
  }

  /**
   * Starts the next fetch within the look-ahead window and schedules, in order, every item whose audio is
   * ready. One fetch at a time: synthesis is faster than playback, and the voice synthesising the next
   * sentences alongside the first one would only delay the first sound.
   */
  private pump(): void {
    this.items.slice(0, this.lookahead + 1).forEach((item, index, window) => {
      if (item.audio || window.slice(0, index).some((earlier) => !earlier.buffer)) return;
      item.audio = item.load(item.abort.signal).then((audio) => this.toBuffer(audio));
      item.audio.then(
        (buffer) => {
          item.buffer = buffer;
          this.pump();
        },
        (error: unknown) => this.failed(item, error),
      );
    });
    for (const item of this.items) {
      if (item.source) continue;
      if (!item.buffer) break;
      this.schedule(item, item.buffer);
    }
  }

  private toBuffer({ pcm, sampleRate }: PcmAudio): AudioBuffer {
    const buffer = this.context.createBuffer(1, Math.max(1, pcm.length), sampleRate);
    const channel = buffer.getChannelData(0);
    for (let i = 0; i < pcm.length; i += 1) channel[i] = pcm[i] / 32768;
    return buffer;
  }

  private schedule(item: Item, buffer: AudioBuffer): void {
    const source = this.context.createBufferSource();
    source.buffer = buffer;
    source.connect(this.analyser);
    const startAt = Math.max(this.context.currentTime, this.endsAt);
    this.endsAt = startAt + buffer.duration;
    item.source = source;
    source.onended = () => this.ended(item);
    source.start(startAt);
    this.playing += 1;
    if (this.playing === 1) this.hooks.speaking();
  }

  private ended(item: Item): void {
    if (!this.items.includes(item)) return;
    this.items = this.items.filter((other) => other !== item);
    this.playing -= 1;
    item.resolve(true);
    if (this.playing === 0) this.hooks.idle();
    this.pump();
  }

  private failed(item: Item, error: unknown): void {
    if (!this.items.includes(item)) return;
    this.items = this.items.filter((other) => other !== item);
    item.resolve(false);
    this.hooks.error(error instanceof Error ? error : new Error(String(error)));
    this.pump();
  }

  /** Silences what plays, aborts the fetches and discards the queue, at once. */
  interrupt(): void {
    const items = this.items;
    this.items = [];
    const wasPlaying = this.playing > 0;
    this.playing = 0;
    this.endsAt = 0;
    for (const item of items) {
      item.abort.abort();
      if (item.source) {
        item.source.onended = null;
        item.source.stop();
        item.source.disconnect();
      }
      item.resolve(false);
    }
    if (wasPlaying) this.hooks.idle();
  }
}
