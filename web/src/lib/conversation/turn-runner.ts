/** One turn at a time: the question out, the answer's sentences to the adapter, what was heard, the latency. */

import type { ApiClient } from "../api";
import type { AvatarAdapter } from "../adapter";
import { SentenceQueue } from "../sentences";
import { reportFirstAudible, reportInterrupt, runTurn, type Source, type TurnInput } from "../turns";

export interface Latency {
  retrievalMs: number | null;
  firstSentenceMs: number | null;
  firstAudioMs: number | null;
}

/** The events of a turn, as the controller passes them on. */
export interface TurnEvents {
  user: { turnId: string; text: string };
  sources: { turnId: string; sources: Source[] };
  sentence: { turnId: string; index: number; text: string };
  /** `messageId`: the stored reply, once the server has it (what feedback rates). */
  answer: { turnId: string; reply: string; interrupted: boolean; heard: string; messageId: string | null };
  latency: { turnId: string; latency: Latency };
  error: Error;
}

/** Where a turn's events go: the controller, which passes them on as its own. */
export interface TurnListener {
  emit<K extends keyof TurnEvents>(event: K, detail: TurnEvents[K]): void;
}

interface ActiveTurn {
  id: string;
  settled: Promise<void>;
  queue: SentenceQueue;
  abort: AbortController;
  sentAt: number;
  latency: Latency;
  reply: string;
  sentences: string[];
  interrupted: boolean;
  heard: string;
  streaming: boolean;
  messageId: string | null;
}

/**
 * Where the turn in flight is, as the status shows it: its answer still coming in (also when interrupted, until
 * the stream is closed); all in while its last sentences are spoken; interrupted and closed; or no turn.
 */
export type TurnPhase = "none" | "streaming" | "speaking-rest" | "interrupted";

export class TurnRunner {
  private turn: ActiveTurn | null = null;

  constructor(
    private readonly api: ApiClient,
    private readonly now: () => number,
    private readonly events: TurnListener,
  ) {}

  get phase(): TurnPhase {
    const turn = this.turn;
    if (!turn) return "none";
    if (turn.streaming) return "streaming";
    return turn.interrupted ? "interrupted" : "speaking-rest";
  }

  /** Resolves once no turn is in flight. */
  async idle(): Promise<void> {
    while (this.turn) await this.turn.settled;
  }

  /**
   * Runs one turn on `adapter`, interrupting any turn before it; `text` is shown at once for a typed question
   * (a spoken one is shown as the server transcribed it). `finished` is called when this turn was the last.
   */
  async run(
    adapter: AvatarAdapter,
    sessionId: string,
    input: TurnInput,
    text: string | null,
    finished: () => void,
  ): Promise<void> {
    this.interrupt(sessionId);
    adapter.interrupt();
    let settle!: () => void;
    const turn: ActiveTurn = {
      id: input.turnId,
      settled: new Promise((resolve) => (settle = resolve)),
      queue: new SentenceQueue(adapter),
      abort: new AbortController(),
      sentAt: this.now(),
      latency: { retrievalMs: null, firstSentenceMs: null, firstAudioMs: null },
      reply: "",
      sentences: [],
      interrupted: false,
      heard: "",
      streaming: true,
      messageId: null,
    };
    this.turn = turn;
    if (text !== null) this.events.emit("user", { turnId: turn.id, text });
    try {
      await runTurn(
        this.api,
        sessionId,
        input,
        {
          user: (data) => text === null && this.events.emit("user", { turnId: turn.id, text: data.text }),
          sources: (data) => this.events.emit("sources", { turnId: turn.id, sources: data.sources }),
          sentence: (data) => {
            if (turn.interrupted) return;
            turn.sentences[data.index] = data.text;
            turn.queue.push(data.index, data.text, data.speech ?? data.text);
            this.events.emit("sentence", { turnId: turn.id, index: data.index, text: data.text });
          },
          done: (data) => {
            turn.reply = data.reply;
            turn.messageId = data.assistant_message_id;
            turn.latency.retrievalMs = data.timings.retrieval_ms ?? null;
            turn.latency.firstSentenceMs = data.timings.first_sentence_ms ?? null;
            this.events.emit("latency", { turnId: turn.id, latency: { ...turn.latency } });
          },
          error: (error) => this.events.emit("error", error),
        },
        turn.abort.signal,
      );
      turn.streaming = false;
      await turn.queue.drained();
    } catch (error) {
      if (!turn.abort.signal.aborted) this.events.emit("error", error as Error);
    } finally {
      turn.queue.dispose();
      this.finish(turn, sessionId);
      if (this.turn === turn) {
        this.turn = null;
        finished();
      }
      settle();
    }
  }

  private finish(turn: ActiveTurn, sessionId: string): void {
    const reply = turn.reply || turn.sentences.filter(Boolean).join(" ");
    this.events.emit("answer", { turnId: turn.id, reply, interrupted: turn.interrupted, heard: turn.heard, messageId: turn.messageId });
    const { firstAudioMs } = turn.latency;
    if (turn.messageId && firstAudioMs !== null) {
      reportFirstAudible(this.api, sessionId, turn.id, firstAudioMs).catch((error: unknown) =>
        console.warn("the first audible sound was not recorded", error),
      );
    }
  }

  /** Stops the turn in flight, if any; the transcript and the server keep only what was heard. */
  interrupt(sessionId: string | null): boolean {
    const turn = this.turn;
    if (!turn || turn.interrupted) return turn !== null;
    turn.interrupted = true;
    turn.heard = turn.queue.interrupt();
    turn.abort.abort();
    if (sessionId) {
      reportInterrupt(this.api, sessionId, turn.id, turn.heard).catch((error: unknown) =>
        console.warn("the interrupt was not recorded", error),
      );
    }
    return true;
  }

  /** The adapter began to speak: the first time in a turn is its first audio. */
  audible(): void {
    const turn = this.turn;
    if (!turn || turn.interrupted || turn.latency.firstAudioMs !== null) return;
    turn.latency.firstAudioMs = Math.round(this.now() - turn.sentAt);
    this.events.emit("latency", { turnId: turn.id, latency: { ...turn.latency } });
  }
}
