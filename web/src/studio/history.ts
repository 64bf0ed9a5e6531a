/** Past conversations in words: who held them, how they ended, the page, what was said and from which sources. */

import { ApiClient, humanMessage } from "../lib/api";
import { h } from "../lib/dom";
import { newestOnly } from "../lib/newest";
import type { Source } from "../lib/turns";

interface SessionSummary {
  id: string;
  avatar_id: string | null;
  status: string;
  end_reason: string | null;
  started_at: string;
  duration_seconds: number | null;
  message_count: number;
  by_owner: boolean;
  page_url: string | null;
}

/** One tool call of a reply, as the turn stored it (`MessageOut.tool_calls`). */
export interface ToolCall {
  name: string;
  arguments: Record<string, unknown>;
  ok: boolean;
  status: number | null;
  elapsed_ms: number;
  result: string;
}

interface Message {
  role: "user" | "assistant";
  content: string;
  sources?: Source[] | null;
  interrupted?: boolean;
  heard_content?: string | null;
  tool_calls?: ToolCall[];
}

interface Usage {
  streaming_seconds_used: number;
  monthly_streaming_seconds_limit: number;
  active_sessions: number;
  concurrent_sessions_limit: number;
}

function minutes(seconds: number): string {
  return `${Math.round((seconds / 60) * 10) / 10} min`;
}

/** How a conversation ended, as an owner would say it. */
export function endedInWords(status: string, reason: string | null): string {
  if (status === "active") return "Still going";
  if (status === "error") return reason?.startsWith("provider_error") ? "Stopped: the avatar provider failed" : "Stopped by an error";
  switch (reason) {
    case "idle_timeout":
      return "Ended after the visitor went quiet";
    case "expired":
      return "Reached its time limit";
    case "provider_disconnected":
      return "Ended when the avatar's connection dropped";
    case "start_failed":
      return "Could not start";
    default:
      return "Ended by the visitor";
  }
}

function sourcesInWords(sources: Source[]): string {
  const names = sources.map((s) => [s.title, ...s.heading_path].join(" › "));
  return `Sources: ${[...new Set(names)].join("; ")}`;
}

/** The reply's tool calls: name and arguments, how it went and how long it took, the answer on demand. */
function toolCallList(calls: ToolCall[]): HTMLElement {
  return h(
    "ul",
    { class: "tool-calls", "aria-label": "Tool calls" },
    ...calls.map((call) => {
      const outcome = `${call.ok ? "worked" : "failed"}${call.status === null ? "" : `, HTTP ${call.status}`}, ${Math.round(call.elapsed_ms)} ms`;
      return h(
        "li",
        { "data-tool-call": call.name },
        h("details", {}, h("summary", {}, "Tool ", h("code", {}, `${call.name}(${JSON.stringify(call.arguments)})`), ` ${outcome}`), h("pre", { tabindex: 0, "aria-label": `What ${call.name} answered` }, call.result)),
      );
    }),
  );
}

function messageItem(message: Message, byOwner: boolean): HTMLElement {
  const text = message.interrupted ? (message.heard_content ?? "") : message.content;
  const who = message.role === "user" ? (byOwner ? "You" : "Visitor") : "Avatar";
  const item = h("li", { "data-role": message.role }, h("strong", {}, `${who}: `), text, message.interrupted ? h("em", {}, " (interrupted)") : null);
  if (message.tool_calls?.length) item.append(toolCallList(message.tool_calls));
  if (message.sources?.length) item.append(h("p", { class: "sources" }, sourcesInWords(message.sources)));
  return item;
}

function sessionItem(api: ApiClient, session: SessionSummary): HTMLElement {
  const when = new Date(session.started_at).toLocaleString();
  const length = session.duration_seconds === null ? "" : ` · ${minutes(session.duration_seconds)}`;
  const summary = h(
    "summary",
    {},
    session.by_owner ? h("span", { class: "badge" }, "Your test") : null,
    `${when}${length} · ${session.message_count} messages · ${endedInWords(session.status, session.end_reason)}`,
    session.page_url ? h("span", { class: "page" }, ` · on ${session.page_url}`) : null,
  );
  const details = h("details", { "data-session": session.id }, summary);
  details.addEventListener(
    "toggle",
    () => {
      api.json<Message[]>("GET", `/v1/sessions/${session.id}/messages`).then(
        (messages) => details.append(h("ol", {}, ...messages.map((m) => messageItem(m, session.by_owner)))),
        (failure: unknown) => details.append(h("p", { class: "error" }, humanMessage(failure))),
      );
    },
    { once: true },
  );
  return h("li", {}, details);
}

export function historyPanel(api: ApiClient, avatarId: string): HTMLElement {
  const usage = h("p", { "data-part": "usage" });
  const sessions = h("ul", { class: "sessions", "aria-label": "Past sessions" });
  const error = h("p", { class: "error", role: "alert" });
  const search = h("input", { type: "search", name: "q", class: "history-search", placeholder: "Search questions and answers", "aria-label": "Search conversations" });

  api.json<Usage>("GET", "/v1/usage").then(
    (u) =>
      (usage.textContent =
        `This month: ${minutes(u.streaming_seconds_used)} of ${minutes(u.monthly_streaming_seconds_limit)} streamed;` +
        ` ${u.active_sessions} of ${u.concurrent_sessions_limit} concurrent sessions in use.`),
    (failure: unknown) => (error.textContent = humanMessage(failure)),
  );
  const latest = newestOnly();
  const load = (): void => {
    const query = new URLSearchParams({ limit: "50", avatar_id: avatarId });
    if (search.value.trim()) query.set("q", search.value.trim());
    latest(
      api.json<{ items: SessionSummary[] }>("GET", `/v1/sessions?${query}`),
      ({ items }) => {
        sessions.replaceChildren(...items.map((session) => sessionItem(api, session)));
        if (items.length === 0) sessions.append(h("li", {}, search.value.trim() ? "No conversation mentions that." : "No conversations yet."));
      },
      (failure: unknown) => (error.textContent = humanMessage(failure)),
    );
  };
  search.addEventListener("change", load);
  load();
  return h("div", {}, h("h3", {}, "History"), usage, search, error, sessions);
}
