/** One conversation turn: POST the question, dispatch the answer's server-sent events. */

import type { components } from "../api/schema";
import { ApiClient, ApiError } from "./api";
import { readEvents } from "./sse";

type Schemas = components["schemas"];
export type Source = Schemas["Source"];
/** One server-sent event of a turn, as the server's OpenAPI document defines it. */
export type TurnEvent = Schemas["TurnEvent"];
type TurnData<Name extends TurnEvent["event"]> = Extract<TurnEvent, { event: Name }>["data"];

export interface TurnHandlers {
  user?(data: TurnData<"user">): void;
  sources?(data: TurnData<"sources">): void;
  delta?(data: TurnData<"delta">): void;
  /** `text` as written, with `[n]` citations; `speech` as said, with no markup; `citations` the numbers cited. */
  sentence?(data: TurnData<"sentence">): void;
  done?(data: TurnData<"done">): void;
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
  for await (const sent of readEvents(response.body)) {
    // The one unchecked step: the server sends each event as its OpenAPI document says.
    const event = { event: sent.event, data: JSON.parse(sent.data) } as TurnEvent;
    switch (event.event) {
      case "user":
        handlers.user?.(event.data);
        break;
      case "sources":
        handlers.sources?.(event.data);
        break;
      case "delta":
        handlers.delta?.(event.data);
        break;
      case "sentence":
        handlers.sentence?.(event.data);
        break;
      case "done":
        handlers.done?.(event.data);
        break;
      case "error":
        handlers.error?.(new ApiError(event.data));
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
