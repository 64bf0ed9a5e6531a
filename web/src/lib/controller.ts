/** One conversation, shared by the studio and the widget: session, adapter, greeting, turns, end. */

import { ApiClient, ApiError } from "./api";
import { loadAdapter, type AdapterFactory, type AvatarAdapter } from "./adapter";
import { Emitter } from "./events";
import { SentenceQueue } from "./sentences";
import { newTurnId, reportFirstAudible, reportInterrupt, runTurn, type Source, type TurnInput } from "./turns";

export type ConversationStatus = "idle" | "connecting" | "listening" | "thinking" | "speaking" | "ended";

export interface Latency {
  retrievalMs: number | null;
  firstSentenceMs: number | null;
  firstAudioMs: number | null;
}

export interface ControllerEvents {
  status: ConversationStatus;
  greeting: string;
  user: { turnId: string; text: string };
  sources: { turnId: string; sources: Source[] };
  sentence: { turnId: string; index: number; text: string };
  /** `messageId`: the stored reply, once the server has it (what feedback rates). */
  answer: { turnId: string; reply: string; interrupted: boolean; heard: string; messageId: string | null };
  latency: { turnId: string; latency: Latency };
  error: Error;
  /** A standing message about the avatar itself (a dropped stream); null clears it. */
  notice: string | null;
  ended: { reason: string };
  [event: string]: unknown;
}

export const DROP_NOTICE =
  "The avatar's video connection dropped. The conversation goes on with the built-in avatar while we reconnect.";
export const GAVE_UP_NOTICE =
  "The avatar's video could not be restored, so the built-in avatar stays for the rest of this conversation.";
export const NOT_CONVERSATIONAL =
  "This avatar holds the conversation in its own call; speak to it there.";

export interface ControllerOptions {
  api: ApiClient;
  avatarId: string;
  stage: HTMLElement;
  /** The avatar's look, for the built-in avatar. */
  appearance?: unknown;
  greeting?: string;
  keepaliveMs?: number;
  /** Waits before each attempt to bring a dropped provider stream back; empty: no attempts. */
  reconnectDelaysMs?: number[];
  /** Where `pagehide` is listened for; the window in a browser. */
  pageEvents?: EventTarget | null;
  now?: () => number;
  /** Sent with the session start: the widget's stored `visitor_key` and the `page_url` it is on. */
  sessionFields?: { visitor_key?: string; page_url?: string };
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

/** Whether this session can take spoken questions, and why not when it cannot. */
export interface VoiceInputInfo {
  available: boolean;
  engine: string | null;
  reason: string | null;
}

interface StartedSession {
  session_id: string;
  provider: string;
  credentials: Record<string, unknown>;
  voice_input?: VoiceInputInfo;
}

export class ConversationController extends Emitter<ControllerEvents> {
  status: ConversationStatus = "idle";
  sessionId: string | null = null;
  startedAt: number | null = null;
  /** Set when the session starts; a server that does not say is taken to offer voice input. */
  voiceInput: VoiceInputInfo = { available: true, engine: null, reason: null };
  private adapter: AvatarAdapter | null = null;
  private provider = "local";
  private detach: (() => void)[] = [];
  private greeting = "";
  private turn: ActiveTurn | null = null;
  private keepalive: ReturnType<typeof setInterval> | null = null;
  private readonly options: ControllerOptions;
  private readonly now: () => number;
  private readonly onPageHide = (): void => this.endOnPageHide();

  constructor(options: ControllerOptions) {
    super();
    this.options = options;
    this.now = options.now ?? (() => performance.now());
  }

  private setStatus(status: ConversationStatus): void {
    if (this.status === status) return;
    const previous = this.status;
    this.status = status;
    this.emit("status", status);
    // A cloud avatar's talking is recorded with the session, where its provider's own logs can be matched.
    if (this.provider !== "local" && (status === "speaking" || (status === "listening" && previous === "speaking"))) {
      this.recordEvent(status, { provider: this.provider });
    }
  }

  /** Starts the session and the avatar; call it from a click so audio may play. */
  async start(): Promise<void> {
    const { api, avatarId } = this.options;
    this.setStatus("connecting");
    try {
      const session = await api.json<StartedSession>("POST", "/v1/sessions", {
        ...this.options.sessionFields,
        avatar_id: avatarId,
      });
      this.sessionId = session.session_id;
      this.provider = session.provider;
      if (session.voice_input) this.voiceInput = session.voice_input;
      const adapter = this.createAdapter(await loadAdapter(session.provider));
      this.install(adapter);
      await adapter.start(session.credentials);
      const greeting = session.credentials.greeting;
      this.greeting = typeof greeting === "string" && greeting ? greeting : (this.options.greeting ?? "");
    } catch (error) {
      await this.end("start_failed");
      this.emit("error", error as Error);
      return;
    }
    this.startedAt = this.now();
    this.keepalive = setInterval(() => void this.sendKeepalive(), this.options.keepaliveMs ?? 60_000);
    this.options.pageEvents?.addEventListener("pagehide", this.onPageHide);
    this.setStatus("listening");
    this.adapter?.setListening?.(true);
    if (this.greeting && !this.conversational) {
      this.emit("greeting", this.greeting);
      void this.adapter?.speakSentence(this.greeting);
    }
  }

  private get ended(): boolean {
    return this.status === "ended";
  }

  /** True when the avatar's provider listens and answers by itself (our turns and voice input are not used). */
  get conversational(): boolean {
    return this.adapter?.conversational === true;
  }

  private createAdapter(factory: AdapterFactory): AvatarAdapter {
    const { api, stage, appearance } = this.options;
    return factory({ api, sessionId: this.sessionId ?? "", stage, appearance });
  }

  /** Makes `adapter` the one speaking; events of the one it replaces are no longer heard. */
  private install(adapter: AvatarAdapter): void {
    for (const off of this.detach) off();
    this.adapter = adapter;
    this.detach = [
      adapter.on("speaking", () => this.adapterSpeaking()),
      adapter.on("idle", () => this.adapterIdle()),
      adapter.on("error", (error) => this.emit("error", error)),
      adapter.on("transcript", ({ role, text }) => {
        const turnId = newTurnId();
        if (role === "user") this.emit("user", { turnId, text });
        else this.emit("answer", { turnId, reply: text, interrupted: false, heard: text, messageId: null });
      }),
      adapter.on("disconnected", ({ expected }) => {
        if (expected || this.status === "ended") return;
        if (this.provider === "local") void this.end("provider_disconnected");
        else void this.fallBack(adapter);
      }),
    ];
  }

  /**
   * The provider's stream dropped: the conversation goes on with the built-in avatar at once, the drop is
   * recorded, and the provider is reconnected in the background.
   */
  private async fallBack(dropped: AvatarAdapter): Promise<void> {
    if (dropped !== this.adapter) return;
    this.interrupt();
    void dropped.stop().catch(() => undefined);
    this.emit("notice", DROP_NOTICE);
    this.recordEvent("disconnected", { provider: this.provider, fallback: "local" });
    try {
      const local = this.createAdapter(await loadAdapter("local"));
      this.install(local);
      await local.start({});
    } catch (error) {
      this.emit("error", error as Error);
    }
    if (this.status !== "ended") {
      this.setStatus(this.turn ? "thinking" : "listening");
      this.adapter?.setListening?.(true);
    }
    await this.reconnect();
  }

  private async reconnect(): Promise<void> {
    const { api } = this.options;
    for (const delay of this.options.reconnectDelaysMs ?? [1_000, 3_000, 10_000]) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      if (this.ended) return;
      let adapter: AvatarAdapter | null = null;
      try {
        const session = await api.json<StartedSession>("POST", `/v1/sessions/${this.sessionId}/reconnect`);
        adapter = this.createAdapter(await loadAdapter(this.provider));
        await adapter.start(session.credentials);
      } catch (error) {
        void adapter?.stop().catch(() => undefined);
        if (error instanceof ApiError && error.status === 409) return;
        continue;
      }
      // Swap between turns, so no answer is cut in two.
      while (this.turn) await this.turn.settled;
      if (this.ended) {
        await adapter.stop().catch(() => undefined);
        return;
      }
      const local = this.adapter;
      this.install(adapter);
      void local?.stop().catch(() => undefined);
      this.emit("notice", null);
      return;
    }
    if (!this.ended) this.emit("notice", GAVE_UP_NOTICE);
  }

  private recordEvent(type: string, data: Record<string, unknown>): void {
    if (!this.sessionId) return;
    this.options.api
      .json("POST", `/v1/sessions/${this.sessionId}/events`, { type, data })
      .catch((error: unknown) => console.warn(`the ${type} event was not recorded`, error));
  }

  ask(text: string): Promise<void> {
    const adapter = this.adapter;
    if (adapter?.conversational && this.status !== "ended") {
      if (!adapter.sendText) {
        this.emit("error", new Error(NOT_CONVERSATIONAL));
        return Promise.resolve();
      }
      this.emit("user", { turnId: newTurnId(), text });
      adapter.sendText(text);
      return Promise.resolve();
    }
    return this.runTurn({ turnId: newTurnId(), text }, text);
  }

  askAudio(audio: Blob): Promise<void> {
    return this.runTurn({ turnId: newTurnId(), audio }, null);
  }

  private async runTurn(input: TurnInput, text: string | null): Promise<void> {
    const { adapter, sessionId } = this;
    if (!adapter || !sessionId || this.status === "ended") return;
    this.interrupt();
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
    adapter.setListening?.(false);
    this.setStatus("thinking");
    if (text !== null) this.emit("user", { turnId: turn.id, text });
    try {
      await runTurn(
        this.options.api,
        sessionId,
        input,
        {
          user: (data) => text === null && this.emit("user", { turnId: turn.id, text: data.text }),
          sources: (data) => this.emit("sources", { turnId: turn.id, sources: data.sources }),
          sentence: (data) => {
            if (turn.interrupted) return;
            turn.sentences[data.index] = data.text;
            turn.queue.push(data.index, data.text, data.speech ?? data.text);
            this.emit("sentence", { turnId: turn.id, index: data.index, text: data.text });
          },
          done: (data) => {
            turn.reply = data.reply;
            turn.messageId = data.assistant_message_id;
            turn.latency.retrievalMs = data.timings.retrieval_ms ?? null;
            turn.latency.firstSentenceMs = data.timings.first_sentence_ms ?? null;
            this.emit("latency", { turnId: turn.id, latency: { ...turn.latency } });
          },
          error: (error) => this.emit("error", error),
        },
        turn.abort.signal,
      );
      turn.streaming = false;
      await turn.queue.drained();
    } catch (error) {
      if (!turn.abort.signal.aborted) this.emit("error", error as Error);
    } finally {
      turn.queue.dispose();
      this.finishTurn(turn);
      settle();
    }
  }

  private finishTurn(turn: ActiveTurn): void {
    const reply = turn.reply || turn.sentences.filter(Boolean).join(" ");
    this.emit("answer", { turnId: turn.id, reply, interrupted: turn.interrupted, heard: turn.heard, messageId: turn.messageId });
    const { firstAudioMs } = turn.latency;
    if (this.sessionId && turn.messageId && firstAudioMs !== null) {
      reportFirstAudible(this.options.api, this.sessionId, turn.id, firstAudioMs).catch((error: unknown) =>
        console.warn("the first audible sound was not recorded", error),
      );
    }
    if (this.turn !== turn) return;
    this.turn = null;
    if (this.status !== "ended") {
      this.setStatus("listening");
      this.adapter?.setListening?.(true);
    }
  }

  /** Stops the avatar at once; the transcript and the server keep only what was heard. */
  interrupt(): void {
    const turn = this.turn;
    if (!turn) {
      if (this.status === "speaking") this.adapter?.interrupt();
      return;
    }
    if (turn.interrupted) return;
    turn.interrupted = true;
    turn.heard = turn.queue.interrupt();
    turn.abort.abort();
    const { api } = this.options;
    if (this.sessionId) {
      reportInterrupt(api, this.sessionId, turn.id, turn.heard).catch((error: unknown) =>
        console.warn("the interrupt was not recorded", error),
      );
    }
  }

  private adapterSpeaking(): void {
    const turn = this.turn;
    if (turn && !turn.interrupted && turn.latency.firstAudioMs === null) {
      turn.latency.firstAudioMs = Math.round(this.now() - turn.sentAt);
      this.emit("latency", { turnId: turn.id, latency: { ...turn.latency } });
    }
    if (this.status !== "ended") this.setStatus("speaking");
  }

  private adapterIdle(): void {
    if (this.status === "ended") return;
    // A pause between sentences of an answer whose text is all in (the next one's audio is on its way):
    // still answering, so not "listening" yet; the finished turn says so.
    if (this.turn && !this.turn.streaming && !this.turn.interrupted) return;
    this.setStatus(this.turn?.streaming ? "thinking" : "listening");
  }

  private async sendKeepalive(): Promise<void> {
    if (!this.sessionId) return;
    try {
      await this.options.api.json("POST", `/v1/sessions/${this.sessionId}/keepalive`);
    } catch (error) {
      if (error instanceof ApiError && error.status === 409) {
        this.emit("error", error);
        await this.end("expired");
      }
    }
  }

  /** The page is going away: end the session with a request that outlives the page. */
  private endOnPageHide(): void {
    if (!this.sessionId || this.status === "ended") return;
    const { api } = this.options;
    void fetch(api.url(`/v1/sessions/${this.sessionId}/end`), {
      method: "POST",
      keepalive: true,
      headers: api.headers({ "content-type": "application/json" }),
      body: JSON.stringify({ reason: "pagehide" }),
    }).catch(() => undefined);
    this.teardown();
  }

  private teardown(): void {
    if (this.keepalive) clearInterval(this.keepalive);
    this.keepalive = null;
    this.options.pageEvents?.removeEventListener("pagehide", this.onPageHide);
    this.interrupt();
    this.setStatus("ended");
  }

  durationSeconds(): number {
    return this.startedAt === null ? 0 : Math.floor((this.now() - this.startedAt) / 1000);
  }

  async end(reason = "user_ended"): Promise<void> {
    if (this.status === "ended") return;
    this.teardown();
    const adapter = this.adapter;
    this.adapter = null;
    for (const off of this.detach) off();
    this.detach = [];
    await adapter?.stop().catch(() => undefined);
    if (this.sessionId) {
      await this.options.api
        .json("POST", `/v1/sessions/${this.sessionId}/end`, { reason })
        .catch((error: unknown) => console.warn("the session end was not recorded", error));
    }
    this.emit("ended", { reason });
  }

  resumeAudio(): Promise<boolean> {
    return this.adapter?.resumeAudio?.() ?? Promise.resolve(true);
  }
}
