/**
 * One conversation, shared by the studio and the widget: the session's lifecycle (start, keep-alive, end),
 * composed of the status machine (conversation/status.ts), the adapter slot with its fallback and reconnection
 * (conversation/adapter-slot.ts), the turn runner (conversation/turn-runner.ts) and the session's event
 * recording (conversation/recorder.ts).
 */

import { ApiClient, ApiError } from "./api";
import { AdapterSlot } from "./conversation/adapter-slot";
import { SessionRecorder } from "./conversation/recorder";
import { StatusMachine, type ConversationStatus } from "./conversation/status";
import { TurnRunner, type TurnEvents } from "./conversation/turn-runner";
import { Emitter } from "./events";
import { newTurnId, type TurnInput } from "./turns";

export { DROP_NOTICE, GAVE_UP_NOTICE } from "./conversation/adapter-slot";
export type { ConversationStatus } from "./conversation/status";
export type { Latency } from "./conversation/turn-runner";

export interface ControllerEvents extends TurnEvents {
  status: ConversationStatus;
  greeting: string;
  /** A standing message about the avatar itself (a dropped stream); null clears it. */
  notice: string | null;
  ended: { reason: string };
}

export const NOT_CONVERSATIONAL = "This avatar holds the conversation in its own call; speak to it there.";

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
  /** The clock reconnection waits on; `setTimeout` by default. */
  sleep?: (ms: number) => Promise<void>;
  /** Sent with the session start: the widget's stored `visitor_key` and the `page_url` it is on. */
  sessionFields?: { visitor_key?: string; page_url?: string };
}

/** Whether this session can take spoken questions, and why not when it cannot. */
export interface VoiceInputInfo {
  available: boolean;
  engine: string | null;
  reason: string | null;
  /** The server transcribes a recording ahead of its turn (its own engine, no provider to pay twice). */
  ahead?: boolean;
}

interface StartedSession {
  session_id: string;
  provider: string;
  credentials: Record<string, unknown>;
  voice_input?: VoiceInputInfo;
}

const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class ConversationController extends Emitter<ControllerEvents> {
  sessionId: string | null = null;
  startedAt: number | null = null;
  /** Set when the session starts; a server that does not say is taken to offer voice input. */
  voiceInput: VoiceInputInfo = { available: true, engine: null, reason: null };
  private readonly state: StatusMachine;
  private readonly slot: AdapterSlot;
  private readonly turns: TurnRunner;
  private readonly recorder: SessionRecorder;
  private keepalive: ReturnType<typeof setInterval> | null = null;
  /** The recording last sent ahead of its turn, and that turn's id. */
  private ahead: { audio: Blob; turnId: string } | null = null;
  private readonly options: ControllerOptions;
  private readonly now: () => number;
  private readonly onPageHide = (): void => this.endOnPageHide();

  constructor(options: ControllerOptions) {
    super();
    this.options = options;
    this.now = options.now ?? (() => performance.now());
    this.recorder = new SessionRecorder(options.api);
    this.state = new StatusMachine((status, previous) => {
      this.emit("status", status);
      this.recorder.statusChanged(status, previous);
    });
    this.turns = new TurnRunner(options.api, this.now, this);
    this.slot = this.createSlot();
  }

  get status(): ConversationStatus {
    return this.state.status;
  }

  /** True when the avatar's provider listens and answers by itself (our turns and voice input are not used). */
  get conversational(): boolean {
    return this.slot.adapter?.conversational === true;
  }

  private createSlot(): AdapterSlot {
    const { api, stage, appearance } = this.options;
    const slot = new AdapterSlot({
      context: () => ({ api, sessionId: this.sessionId ?? "", stage, appearance }),
      reconnect: async () =>
        (await api.json<StartedSession>("POST", `/v1/sessions/${this.sessionId}/reconnect`)).credentials,
      reconnectDelaysMs: this.options.reconnectDelaysMs ?? [1_000, 3_000, 10_000],
      sleep: this.options.sleep ?? realSleep,
      ended: () => this.state.ended,
      betweenTurns: () => this.turns.idle(),
    });
    slot.on("speaking", () => {
      this.turns.audible();
      this.state.go("speaking");
    });
    slot.on("idle", () => this.adapterIdle());
    slot.on("error", (error) => this.emit("error", error));
    slot.on("transcript", ({ role, text }) => {
      const turnId = newTurnId();
      if (role === "user") this.emit("user", { turnId, text });
      else this.emit("answer", { turnId, reply: text, interrupted: false, heard: text, messageId: null });
    });
    slot.on("lost", () => void this.end("provider_disconnected"));
    slot.on("dropped", () => {
      this.interrupt();
      this.recorder.record("disconnected", { provider: this.recorder.provider, fallback: "local" });
    });
    slot.on("fellBack", () => this.listen(this.turns.phase === "none" ? "listening" : "thinking"));
    slot.on("notice", (notice) => this.emit("notice", notice));
    return slot;
  }

  /** Moves to `status` and lets the face show whether it listens. */
  private listen(status: "listening" | "thinking"): void {
    this.state.go(status);
    if (!this.state.ended) this.slot.adapter?.setListening?.(status === "listening");
  }

  /** Starts the session and the avatar; call it from a click so audio may play. */
  async start(): Promise<void> {
    const { api, avatarId } = this.options;
    this.state.go("connecting");
    let greeting: string;
    try {
      const session = await api.json<StartedSession>("POST", "/v1/sessions", {
        ...this.options.sessionFields,
        avatar_id: avatarId,
      });
      this.sessionId = session.session_id;
      this.recorder.sessionId = session.session_id;
      this.recorder.provider = session.provider;
      if (session.voice_input) this.voiceInput = session.voice_input;
      await this.slot.start(session.provider, session.credentials);
      const given = session.credentials.greeting;
      greeting = typeof given === "string" && given ? given : (this.options.greeting ?? "");
    } catch (error) {
      await this.end("start_failed");
      this.emit("error", error as Error);
      return;
    }
    // Ended meanwhile (the page went away, the user gave up): nothing to start.
    if (this.state.ended) return;
    this.state.go("listening");
    this.startedAt = this.now();
    this.keepalive = setInterval(() => void this.sendKeepalive(), this.options.keepaliveMs ?? 60_000);
    this.options.pageEvents?.addEventListener("pagehide", this.onPageHide);
    this.slot.adapter?.setListening?.(true);
    if (greeting && !this.conversational) {
      this.emit("greeting", greeting);
      void this.slot.adapter?.speakSentence(greeting);
    }
  }

  ask(text: string): Promise<void> {
    const adapter = this.slot.adapter;
    if (adapter?.conversational && !this.state.ended) {
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

  /**
   * The speaker paused: the server transcribes the recording so far under a new turn id while the rest of
   * the end-of-speech wait is timed. Stores nothing; the turn sent with this same recording takes that id
   * (and the text), and a recording the speaker went on after is never sent as a turn.
   */
  transcribeAhead(audio: Blob): void {
    const { sessionId } = this;
    if (!this.voiceInput.ahead || !sessionId || !this.state.live) return;
    const turnId = newTurnId();
    this.ahead = { audio, turnId };
    const form = new FormData();
    form.append("audio", audio, "speech.wav");
    const path = `/v1/sessions/${encodeURIComponent(sessionId)}/turns/${encodeURIComponent(turnId)}/transcription`;
    // Only a head start: if it fails, the turn transcribes its recording itself and says what went wrong.
    this.options.api.request("POST", path, form).catch(() => undefined);
  }

  askAudio(audio: Blob): Promise<void> {
    const turnId = this.ahead?.audio === audio ? this.ahead.turnId : newTurnId();
    this.ahead = null;
    return this.runTurn({ turnId, audio }, null);
  }

  private runTurn(input: TurnInput, text: string | null): Promise<void> {
    const { sessionId } = this;
    const adapter = this.slot.adapter;
    if (!adapter || !sessionId || !this.state.live) return Promise.resolve();
    const running = this.turns.run(adapter, sessionId, input, text, () => this.listen("listening"));
    this.listen("thinking");
    return running;
  }

  /** Stops the avatar at once; the transcript and the server keep only what was heard. */
  interrupt(): void {
    if (!this.turns.interrupt(this.sessionId) && this.state.status === "speaking") this.slot.adapter?.interrupt();
  }

  private adapterIdle(): void {
    const phase = this.turns.phase;
    // A pause between sentences of an answer whose text is all in (the next one's audio is on its way):
    // still answering, so not "listening" yet; the finished turn says so.
    if (phase === "speaking-rest") return;
    this.state.go(phase === "streaming" ? "thinking" : "listening");
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
    if (!this.sessionId || this.state.ended) return;
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
    this.state.go("ended");
  }

  durationSeconds(): number {
    return this.startedAt === null ? 0 : Math.floor((this.now() - this.startedAt) / 1000);
  }

  async end(reason = "user_ended"): Promise<void> {
    if (this.state.ended) return;
    this.teardown();
    await this.slot.stop();
    if (this.sessionId) {
      await this.options.api
        .json("POST", `/v1/sessions/${this.sessionId}/end`, { reason })
        .catch((error: unknown) => console.warn("the session end was not recorded", error));
    }
    this.emit("ended", { reason });
  }

  resumeAudio(): Promise<boolean> {
    return this.slot.adapter?.resumeAudio?.() ?? Promise.resolve(true);
  }
}
