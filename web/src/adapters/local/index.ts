/** The built-in avatar: a canvas face speaking our own TTS, no external service. */

import type { AdapterContext, AdapterEvent, AdapterEvents, AvatarAdapter } from "../../lib/adapter";
import { Emitter } from "../../lib/events";
import { Face } from "./face";
import { appearanceOf } from "./portrait";
import { fetchPcm } from "../../lib/speech";
import { SpeechPlayer } from "./player";

const SAMPLE_RATE = 24_000;
const FACE_PIXELS = 400;
/** Each part of a cut sentence has at least this many words. */
const CLAUSE_WORDS = 3;
/**
 * The first part of a cut sentence has at most this many words when it can: the voice's time to the first
 * sound grows with the length of what it says first, and the rest is synthesised while that part plays.
 */
const PHRASE_WORDS = 6;
/** A sentence of at least this many words, with no early clause break, is cut before a linking word. */
const LINKED_SENTENCE_WORDS = 2 * CLAUSE_WORDS + 1;
/** Words that start a phrase: the voice's intonation survives a cut just before one of them. */
const LINKING_WORDS = new Set(
  ("after and as at because before but by for from if in on or since so than that through to unless until when" +
    " where whether which while who with without").split(" "),
);

/**
 * Where a sentence that starts from silence is cut, so its first part is short: after a clause within its
 * first few words; else, in a sentence long enough, before a linking word within them; else after its first
 * clause wherever it ends; else nowhere. Both parts keep at least CLAUSE_WORDS words.
 */
export function splitFirstClause(sentence: string): [string, string] {
  const words = sentence.split(/\s+/);
  const cut = (index: number): [string, string] => [words.slice(0, index + 1).join(" "), words.slice(index + 1).join(" ")];
  const clauseEnds = (index: number): boolean => /[,;:\u2014]$/.test(words[index]);
  const last = words.length - CLAUSE_WORDS - 1;
  for (let index = CLAUSE_WORDS - 1; index <= Math.min(PHRASE_WORDS - 1, last); index += 1) {
    if (clauseEnds(index)) return cut(index);
  }
  if (words.length >= LINKED_SENTENCE_WORDS) {
    for (let index = CLAUSE_WORDS; index <= Math.min(PHRASE_WORDS, last + 1); index += 1) {
      if (LINKING_WORDS.has(words[index].toLowerCase())) return cut(index - 1);
    }
  }
  for (let index = PHRASE_WORDS; index <= last; index += 1) {
    if (clauseEnds(index)) return cut(index);
  }
  return [sentence, ""];
}

export class AutoplayBlockedError extends Error {
  readonly code = "autoplay_blocked";

  constructor() {
    super("The browser blocked the avatar's sound. Click to start sound.");
  }
}

class LocalAvatar implements AvatarAdapter {
  private readonly events = new Emitter<AdapterEvents>();
  private readonly context: AdapterContext;
  private audio: AudioContext | null = null;
  private player: SpeechPlayer | null = null;
  private face: Face | null = null;
  private listening = false;

  constructor(context: AdapterContext) {
    this.context = context;
  }

  on<K extends AdapterEvent>(event: K, callback: (detail: AdapterEvents[K]) => void): () => void {
    return this.events.on(event, callback);
  }

  async start(): Promise<void> {
    const canvas = document.createElement("canvas");
    canvas.width = FACE_PIXELS;
    canvas.height = FACE_PIXELS;
    canvas.className = "avs-face";
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", "The avatar's face");
    this.context.stage.replaceChildren(canvas);
    const audio = new AudioContext();
    this.audio = audio;
    const { api, sessionId } = this.context;
    this.player = new SpeechPlayer(audio, (text, signal) => fetchPcm(api, sessionId, text, SAMPLE_RATE, signal), {
      speaking: () => {
        this.face?.setState("speaking");
        this.events.emit("speaking", undefined);
      },
      idle: () => {
        this.face?.setState(this.listening ? "listening" : "thinking");
        this.events.emit("idle", undefined);
      },
      error: (error) => this.events.emit("error", error),
    });
    this.face = new Face(canvas, this.player.analyser, appearanceOf(this.context.appearance));
    this.face.start();
    if (!(await this.resumeAudio())) this.events.emit("error", new AutoplayBlockedError());
    this.face.setState("idle");
  }

  async resumeAudio(): Promise<boolean> {
    const audio = this.audio;
    if (!audio) return false;
    if (audio.state === "running") return true;
    await Promise.race([audio.resume(), new Promise((resolve) => setTimeout(resolve, 300))]);
    return (audio.state as AudioContextState) === "running";
  }

  /**
   * Speaks a sentence. One that starts from silence (the first of an answer) is spoken clause first: the
   * voice synthesises a short clause sooner, and the rest is ready before the clause has been heard.
   */
  speakSentence(text: string): Promise<boolean> {
    const player = this.player;
    if (!player) return Promise.resolve(false);
    const [clause, rest] = player.idle ? splitFirstClause(text) : [text, ""];
    if (!rest) return player.speakText(text);
    return Promise.all([player.speakText(clause), player.speakText(rest)]).then((done) => done.every(Boolean));
  }

  /** Listening between turns; not listening while a turn is prepared, which the face shows as thinking. */
  setListening(listening: boolean): void {
    this.listening = listening;
    if (this.face && this.face.state !== "speaking") this.face.setState(listening ? "listening" : "thinking");
  }

  interrupt(): void {
    this.player?.interrupt();
  }

  async stop(): Promise<void> {
    this.player?.interrupt();
    this.face?.stop();
    await this.audio?.close();
    this.audio = null;
    this.player = null;
    this.events.emit("disconnected", { expected: true });
  }
}

export function createLocalAdapter(context: AdapterContext): AvatarAdapter {
  return new LocalAvatar(context);
}
