/** One conversation turn: POST the question, dispatch the answer's server-sent events. */

import { ApiClient, ApiError, type Problem } from "./api";
import { readEvents } from "./sse";

export interface Source {
  index: number;
  chunk_id: string;
  document_id: string;
  title: string;
  heading_path?: string | string[] | null;
  excerpt: string;
}

export interface Timings {
  retrieval_ms?: number | null;
  llm_first_token_ms?: number | null;
  first_sentence_ms?: number | null;
  total_ms?: number | null;
}

/** `text` as written, with `[n]` citations; `speech` as said, with no markup; `citations` the numbers cited. */
export interface SentenceEvent {
  index: number;
  text: string;
  speech?: string;
  citations?: number[];
}

export interface TurnHandlers {
  user?(data: { turn_id: string; message_id: string; text: string }): void;
  sources?(data: { sources: Source[] }): void;
  delta?(data: { text: string }): void;
  sentence?(data: SentenceEvent): void;
  done?(data: { assistant_message_id: string; reply: string; timings: Timings; offline: boolean }): void;
  error?(error: ApiError): void;
}

export type TurnInput = { turnId: string; text: string } | { turnId: string; audio: Blob };

export function newTurnId(): string {
  return `turn-${crypto.randomUUID()}`;
}

/** Runs a turn to the end of its stream; throws ApiError when the request itself is refused. */
export async function runTurn(
  api: ApiClient,
  sessionId: string,
  input: TurnInput,
  handlers: TurnHandlers,
  signal?: AbortSignal,
): Promise<void> {
  let body: unknown;
  if ("audio" in input) {
    const form = new FormData();
    form.append("turn_id", input.turnId);
    form.append("audio", input.audio, audioFileName(input.audio.type));
    body = form;
  } else body = { turn_id: input.turnId, text: input.text };
  const path = `/v1/sessions/${encodeURIComponent(sessionId)}/turns`;
  const response = await api.request("POST", path, body, { headers: { accept: "text/event-stream" }, signal });
  if (!response.body) throw new ApiError({ status: 502, code: "empty_stream", detail: "the answer was empty" });
  for await (const event of readEvents(response.body)) {
    const data: unknown = JSON.parse(event.data);
    switch (event.event) {
      case "user":
        handlers.user?.(data as Parameters<NonNullable<TurnHandlers["user"]>>[0]);
        break;
      case "sources":
        handlers.sources?.(data as { sources: Source[] });
        break;
      case "delta":
        handlers.delta?.(data as { text: string });
        break;
      case "sentence":
        handlers.sentence?.(data as SentenceEvent);
        break;
      case "done":
        handlers.done?.(data as Parameters<NonNullable<TurnHandlers["done"]>>[0]);
        break;
      case "error":
        handlers.error?.(new ApiError(data as Problem));
        return;
    }
  }
}

function audioFileName(type: string): string {
  if (type.includes("ogg")) return "speech.ogg";
  if (type.includes("wav")) return "speech.wav";
  return "speech.webm";
}

/** Marks a turn interrupted, keeping what was heard; the reply may not be stored yet, so 409 is retried once. */
/** How long the visitor waited for the first sound of the reply, for the owner's Insights. */
export async function reportFirstAudible(api: ApiClient, sessionId: string, turnId: string, ms: number): Promise<void> {
  const path = `/v1/sessions/${encodeURIComponent(sessionId)}/turns/${encodeURIComponent(turnId)}/audible`;
  await api.json("POST", path, { first_audible_ms: Math.max(0, Math.min(600_000, Math.round(ms))) });
}

export async function reportInterrupt(
  api: ApiClient,
  sessionId: string,
  turnId: string,
  heardText: string,
  retryDelayMs = 400,
): Promise<void> {
  const path = `/v1/sessions/${encodeURIComponent(sessionId)}/turns/${encodeURIComponent(turnId)}/interrupt`;
  try {
    await api.json("POST", path, { heard_text: heardText });
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 409 && error.code === "turn_in_progress")) throw error;
    await new Promise((resolve) => setTimeout(resolve, retryDelayMs));
    await api.json("POST", path, { heard_text: heardText });
  }
}
