/** The Insights tab: success measures, conversations, minutes, latency and cost in charts, and the
 * questions the knowledge base failed. Loaded only when the tab is opened. */

import { ApiClient, humanMessage } from "../../lib/api";
import { h } from "../../lib/dom";
import { newestOnly } from "../../lib/newest";
import { formatNumber, lines, stackedBars } from "./charts";
import css from "./insights.css";
import { unansweredList, type UnansweredGroup } from "./unanswered";

interface Measure {
  key: string;
  label: string;
  value: number | null;
  target: string;
  unit: string;
  met: boolean | null;
}

type LatencyDay = { day: string; turns: number } & Record<string, number | string | null>;

interface Report {
  start: string;
  end: string;
  summary: {
    conversations: number;
    avg_minutes: number | null;
    avg_messages: number | null;
    visitors: number;
    returning_visitors: number;
    turns: number;
    rated_up: number;
    rated_down: number;
  };
  days: { day: string; conversations: number; by_user: number; idle: number; expired: number; error: number; reconnected: number; active: number }[];
  minutes: { provider: string; minutes: number }[];
  allowance: { minutes_used: number; minutes_allowed: number };
  latency: LatencyDay[];
  cost: { provider: number; llm: number; tts: number; stt: number; total: number; per_conversation: number | null; prompt_tokens: number; completion_tokens: number; tts_characters: number; stt_seconds: number };
  prices: Record<string, unknown>;
  measures: Measure[];
}

const STAGES = [
  { key: "retrieval", name: "Retrieval", color: "#0891b2" },
  { key: "first_token", name: "First token", color: "#7c3aed" },
  { key: "first_sentence", name: "First sentence", color: "#ea580c" },
  { key: "first_audible", name: "First audible (client)", color: "#16a34a" },
];

const ENDINGS = [
  { key: "by_user", name: "Ended by the visitor", color: "#2563eb" },
  { key: "idle", name: "Idle", color: "#94a3b8" },
  { key: "expired", name: "Reached its time limit", color: "#f59e0b" },
  { key: "error", name: "Error", color: "#dc2626" },
  { key: "active", name: "Still going", color: "#16a34a" },
] as const;

let styled = false;

function numberOrNull(value: number | string | null | undefined): number | null {
  return typeof value === "number" ? value : null;
}

function isoDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

function shortDay(day: string): string {
  return new Date(`${day}T00:00:00Z`).toLocaleDateString("en", { month: "short", day: "numeric", timeZone: "UTC" });
}

function measures(list: Measure[]): HTMLElement {
  return h(
    "ul",
    { class: "measures", "aria-label": "Success measures" },
    ...list.map((m) => {
      const state = m.met === null ? "none" : m.met ? "met" : "missed";
      const verdict = m.met === null ? "no data yet" : m.met ? "on target" : "off target";
      const value = m.value === null ? "–" : m.unit === "$" ? `$${m.value.toFixed(2)}` : formatNumber(m.value, m.unit);
      return h(
        "li",
        { "data-state": state, "data-measure": m.key },
        h("span", { class: "label" }, m.label),
        h("span", { class: "value" }, value),
        h("span", { class: "target" }, `target ${m.target} · ${verdict}`),
      );
    }),
  );
}

function tiles(report: Report): HTMLElement {
  const s = report.summary;
  const returning = s.visitors ? `${Math.round((s.returning_visitors / s.visitors) * 100)} %` : "–";
  const items: [string, string][] = [
    ["Conversations", formatNumber(s.conversations)],
    ["Messages per conversation", formatNumber(s.avg_messages)],
    ["Conversation length", formatNumber(s.avg_minutes, "min")],
    ["Returning visitors", `${returning} of ${s.visitors}`],
    ["Ratings", `${s.rated_up} up · ${s.rated_down} down`],
    ["Cost per conversation", report.cost.per_conversation === null ? "–" : `$${report.cost.per_conversation.toFixed(3)}`],
  ];
  return h("dl", { class: "tiles" }, ...items.map(([label, value]) => h("div", {}, h("dt", {}, label), h("dd", {}, value))));
}

function minutesFigure(report: Report): HTMLElement {
  const { minutes_used, minutes_allowed } = report.allowance;
  const most = Math.max(minutes_allowed, ...report.minutes.map((m) => m.minutes), 1);
  const rows = report.minutes.map((m) =>
    h("div", { class: "hbar" }, h("span", {}, m.provider), h("span", { class: "track" }, h("span", { class: "fill", style: `width:${(m.minutes / most) * 100}%` })), h("span", {}, formatNumber(m.minutes, "min"))),
  );
  const table = h(
    "table",
    {},
    h("caption", {}, "Minutes streamed per provider"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Provider"), h("th", { scope: "col" }, "Minutes"))),
    h("tbody", {}, ...report.minutes.map((m) => h("tr", {}, h("th", { scope: "row" }, m.provider), h("td", {}, formatNumber(m.minutes))))),
  );
  return h(
    "figure",
    { class: "chart-card", "data-chart": "minutes" },
    h("figcaption", {}, "Minutes streamed against the monthly allowance"),
    h("p", { class: "chart-summary" }, `This month so far: ${formatNumber(minutes_used)} of ${formatNumber(minutes_allowed)} minutes allowed.`),
    h("meter", { min: 0, max: minutes_allowed || 1, value: minutes_used, high: (minutes_allowed || 1) * 0.9, "aria-label": "Allowance used this month" }),
    ...(rows.length ? rows : [h("p", {}, "No minutes streamed in this range.")]),
    h("details", {}, h("summary", {}, "Show as table"), table),
  );
}

function costFigure(report: Report): HTMLElement {
  const c = report.cost;
  const parts: [string, number, string][] = [
    ["Avatar streaming", c.provider, ""],
    ["Language model", c.llm, `${c.prompt_tokens.toLocaleString("en")} prompt + ${c.completion_tokens.toLocaleString("en")} reply tokens`],
    ["Speech (TTS)", c.tts, `${c.tts_characters.toLocaleString("en")} characters`],
    ["Transcription (STT)", c.stt, `${formatNumber(c.stt_seconds)} seconds`],
  ];
  const most = Math.max(...parts.map((p) => p[1]), 0.0001);
  return h(
    "figure",
    { class: "chart-card", "data-chart": "cost" },
    h("figcaption", {}, "Estimated cost"),
    h("p", { class: "chart-summary" }, `$${c.total.toFixed(2)} in this range${c.per_conversation === null ? "" : `, $${c.per_conversation.toFixed(3)} per conversation`}, at the prices below.`),
    ...parts.map(([label, dollars]) =>
      h("div", { class: "hbar" }, h("span", {}, label), h("span", { class: "track" }, h("span", { class: "fill cost", style: `width:${(dollars / most) * 100}%` })), h("span", {}, `$${dollars.toFixed(3)}`)),
    ),
    h(
      "details",
      {},
      h("summary", {}, "Show as table"),
      h(
        "table",
        {},
        h("caption", {}, "Estimated cost by part (US dollars)"),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Part"), h("th", { scope: "col" }, "Dollars"), h("th", { scope: "col" }, "From"))),
        h("tbody", {}, ...parts.map(([label, dollars, from]) => h("tr", {}, h("th", { scope: "row" }, label), h("td", {}, dollars.toFixed(4)), h("td", {}, from)))),
      ),
    ),
  );
}

function pricesForm(api: ApiClient, prices: Record<string, unknown>, saved: () => void): HTMLElement {
  const text = h("textarea", { rows: 8, spellcheck: false, "aria-label": "Prices (JSON)" }, JSON.stringify(prices, null, 2));
  const error = h("p", { class: "error", role: "alert" });
  const save = h("button", { type: "submit" }, "Save prices");
  const form = h("form", { class: "fields" }, h("p", {}, "US dollars: per streamed minute for each provider, per million LLM tokens, per thousand TTS characters, per STT minute. Defaults are the providers' published prices."), text, error, save);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    let body: unknown;
    try {
      body = JSON.parse(text.value);
    } catch {
      error.textContent = "The prices are not valid JSON.";
      return;
    }
    api.json("PUT", "/v1/insights/prices", body).then(saved, (failure: unknown) => (error.textContent = humanMessage(failure)));
  });
  return h("details", { class: "prices" }, h("summary", {}, "Edit prices"), form);
}

function charts(report: Report): HTMLElement[] {
  const labels = report.days.map((d) => shortDay(d.day));
  const conversations = stackedBars(
    {
      title: "Conversations per day by how they ended",
      labels,
      unit: "conversations",
      series: [
        ...ENDINGS.map((e) => ({ name: e.name, color: e.color, values: report.days.map((d) => d[e.key]) })),
      ],
    },
    `${report.summary.conversations} conversations; ${report.days.reduce((n, d) => n + d.reconnected, 0)} went on after the provider dropped and reconnected.`,
  );
  const latencyDays = report.latency;
  const latencyLabels = latencyDays.map((d) => shortDay(d.day));
  const latency = (pct: "p50" | "p90"): HTMLElement =>
    lines(
      {
        title: `Latency per stage, ${pct}`,
        labels: latencyLabels,
        unit: "ms",
        series: STAGES.map((s) => ({ name: s.name, color: s.color, values: latencyDays.map((d) => numberOrNull(d[`${s.key}_${pct}`])) })),
      },
      `${latencyDays.reduce((n, d) => n + d.turns, 0)} answers; first audible is what the visitor's browser reported.`,
    );
  return [conversations, minutesFigure(report), latency("p90"), latency("p50"), costFigure(report)];
}

/** Downloads the range's transcripts; a link cannot carry the bearer token, so the file is fetched. */
function exportButtons(api: ApiClient, query: () => URLSearchParams): HTMLElement {
  const error = h("span", { class: "error", role: "alert" });
  const download = (format: "csv" | "jsonl"): void => {
    const params = query();
    params.set("format", format);
    api
      .request("GET", `/v1/insights/export?${params}`)
      .then((response) => response.blob())
      .then(
        (blob) => {
          const link = h("a", { href: URL.createObjectURL(blob), download: `transcripts-${params.get("from")}-${params.get("to")}.${format}` });
          link.click();
          URL.revokeObjectURL(link.href);
        },
        (failure: unknown) => (error.textContent = humanMessage(failure)),
      );
  };
  return h(
    "span",
    { class: "insights-export" },
    h("button", { type: "button", onclick: () => download("csv") }, "Export CSV"),
    h("button", { type: "button", onclick: () => download("jsonl") }, "Export JSON Lines"),
    error,
  );
}

export function insightsPanel(api: ApiClient, avatarId: string, avatarNames: Map<string, string>): HTMLElement {
  if (!styled) {
    document.head.append(h("style", {}, css));
    styled = true;
  }
  const today = new Date();
  const from = h("input", { type: "date", name: "from", value: isoDay(new Date(today.getTime() - 29 * 86_400_000)), "aria-label": "From" });
  const to = h("input", { type: "date", name: "to", value: isoDay(today), "aria-label": "To" });
  const scope = h(
    "select",
    { name: "scope", "aria-label": "Which avatars" },
    h("option", { value: avatarId }, `This avatar (${avatarNames.get(avatarId) ?? ""})`),
    h("option", { value: "" }, "All my avatars"),
  );
  const body = h("div", { class: "insights-body", "aria-busy": "true" }, "Loading insights…");
  const rangeQuery = (): URLSearchParams => {
    const query = new URLSearchParams({ from: from.value, to: to.value });
    if (scope.value) query.set("avatar_id", scope.value);
    return query;
  };
  const latest = newestOnly();
  const load = (): void => {
    const query = rangeQuery();
    body.setAttribute("aria-busy", "true");
    latest(
      Promise.all([
        api.json<Report>("GET", `/v1/insights?${query}`),
        api.json<UnansweredGroup[]>("GET", `/v1/insights/unanswered?${query}`),
      ]),
      ([report, unanswered]) => {
        body.replaceChildren(
          h("section", { class: "insights-section", "aria-label": "Success measures" }, h("h4", {}, "Success measures"), measures(report.measures)),
          tiles(report),
          h("div", { class: "charts" }, ...charts(report)),
          pricesForm(api, report.prices, load),
          unansweredList(api, unanswered, avatarNames),
        );
        body.setAttribute("aria-busy", "false");
      },
      (failure: unknown) => {
        body.replaceChildren(h("p", { class: "error", role: "alert" }, humanMessage(failure)));
        body.setAttribute("aria-busy", "false");
      },
    );
  };
  for (const control of [from, to, scope]) control.addEventListener("change", load);
  load();
  return h("div", { class: "insights" }, h("h3", {}, "Insights"), h("div", { class: "insights-controls" }, h("label", {}, "From ", from), h("label", {}, "To ", to), scope, exportButtons(api, rangeQuery)), body);
}
