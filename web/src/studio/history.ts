/** Past sessions with their messages, sources and durations, and usage against the limits. */

import { ApiClient, humanMessage } from "../lib/api";
import { h } from "../lib/dom";
import type { Source } from "../lib/turns";

interface SessionSummary {
  id: string;
  avatar_id: string | null;
  status: string;
  end_reason: string | null;
  started_at: string;
  duration_seconds: number | null;
  message_count: number;
}

interface Message {
  role: "user" | "assistant";
  content: string;
  sources?: Source[] | null;
  interrupted?: boolean;
  heard_content?: string | null;
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

function messageItem(message: Message): HTMLElement {
  const text = message.interrupted ? (message.heard_content ?? "") : message.content;
  const item = h(
    "li",
    { "data-role": message.role },
    h("strong", {}, message.role === "user" ? "Visitor: " : "Avatar: "),
    text,
    message.interrupted ? h("em", {}, " (interrupted)") : null,
  );
  if (message.sources?.length) {
    item.append(h("ul", { "aria-label": "Sources" }, ...message.sources.map((s) => h("li", {}, `[${s.index}] ${s.title}`))));
  }
  return item;
}

export function historyPanel(api: ApiClient, avatarId: string): HTMLElement {
  const usage = h("p", { "data-part": "usage" });
  const sessions = h("ul", { class: "sessions", "aria-label": "Past sessions" });
  const error = h("p", { class: "error", role: "alert" });

  api.json<Usage>("GET", "/v1/usage").then(
    (u) =>
      (usage.textContent =
        `This month: ${minutes(u.streaming_seconds_used)} of ${minutes(u.monthly_streaming_seconds_limit)} streamed;` +
        ` ${u.active_sessions} of ${u.concurrent_sessions_limit} concurrent sessions in use.`),
    (failure: unknown) => (error.textContent = humanMessage(failure)),
  );
  api.json<{ items: SessionSummary[] }>("GET", "/v1/sessions?limit=50").then(
    ({ items }) => {
      const mine = items.filter((session) => session.avatar_id === avatarId);
      if (mine.length === 0) sessions.append(h("li", {}, "No conversations yet."));
      for (const session of mine) {
        const summary = h(
          "summary",
          {},
          `${new Date(session.started_at).toLocaleString()} · ${session.duration_seconds ?? 0} s · ` +
            `${session.message_count} messages · ${session.status}${session.end_reason ? ` (${session.end_reason})` : ""}`,
        );
        const details = h("details", { "data-session": session.id }, summary);
        details.addEventListener(
          "toggle",
          () => {
            api.json<Message[]>("GET", `/v1/sessions/${session.id}/messages`).then(
              (messages) => details.append(h("ol", {}, ...messages.map(messageItem))),
              (failure: unknown) => details.append(h("p", { class: "error" }, humanMessage(failure))),
            );
          },
          { once: true },
        );
        sessions.append(h("li", {}, details));
      }
    },
    (failure: unknown) => (error.textContent = humanMessage(failure)),
  );
  return h("div", {}, h("h3", {}, "History"), usage, error, sessions);
}
