/** Questions the knowledge base failed, grouped, each answerable as a new knowledge entry. */

import { ApiClient, humanMessage } from "../../lib/api";
import { h } from "../../lib/dom";

export interface UnansweredGroup {
  avatar_id: string;
  question: string;
  count: number;
  reasons: string[];
  keys: string[];
  last_asked_at: string;
  examples: { question: string; answer: string; reason: string; comment: string | null; asked_at: string }[];
}

const REASONS: Record<string, string> = {
  refused: "the avatar said it did not know",
  no_sources: "answered without a source",
  rated_down: "rated down",
};

function answerForm(api: ApiClient, group: UnansweredGroup, done: (message: string) => void): HTMLFormElement {
  const question = h("input", { name: "question", required: true, maxlength: 4000, value: group.question });
  const answer = h("textarea", { name: "answer", required: true, rows: 3, maxlength: 20000, placeholder: "The answer the avatar should give" });
  const error = h("p", { class: "error", role: "alert" });
  const save = h("button", { type: "submit", class: "primary" }, "Add to knowledge");
  const form = h(
    "form",
    { class: "fields answer-form" },
    h("label", {}, "Question", question),
    h("label", {}, "Answer", answer),
    error,
    save,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    save.disabled = true;
    api
      .json<{ document_id: string; status: string }>("POST", "/v1/insights/unanswered/answer", {
        avatar_id: group.avatar_id,
        question: question.value,
        answer: answer.value,
        keys: group.keys,
      })
      .then(
        () => done(`Added “${question.value}” to the knowledge base; it is being indexed like an upload.`),
        (failure: unknown) => {
          error.textContent = humanMessage(failure);
          save.disabled = false;
        },
      );
  });
  return form;
}

export function unansweredList(api: ApiClient, groups: UnansweredGroup[], avatarNames: Map<string, string>): HTMLElement {
  const status = h("p", { role: "status" });
  const list = h("ol", { class: "unanswered", "aria-label": "Unanswered questions" });
  if (groups.length === 0) list.append(h("li", { class: "empty" }, "Every question in this range had an answer from the knowledge base."));
  for (const group of groups) {
    const item = h("li", { "data-count": group.count });
    const reasons = group.reasons.map((r) => REASONS[r] ?? r).join(", ");
    const asked = group.count === 1 ? "asked once" : `asked ${group.count} times`;
    const answer = h("button", { type: "button" }, "Answer it");
    answer.addEventListener("click", () => {
      answer.replaceWith(
        answerForm(api, group, (message) => {
          item.remove();
          status.textContent = message;
        }),
      );
    });
    const examples = h(
      "ul",
      { class: "examples" },
      ...group.examples.map((e) =>
        h("li", {}, h("q", {}, e.question), " → ", h("span", { class: "reply" }, e.answer), e.comment ? h("em", {}, ` Visitor said: “${e.comment}”`) : null),
      ),
    );
    item.append(
      h("p", { class: "question" }, h("strong", {}, group.question)),
      h("p", { class: "meta" }, `${asked} · ${reasons} · ${avatarNames.get(group.avatar_id) ?? "avatar"} · last ${new Date(group.last_asked_at).toLocaleDateString()}`),
      h("details", {}, h("summary", {}, "What was asked and answered"), examples),
      answer,
    );
    list.append(item);
  }
  return h("section", { class: "insights-section", "aria-labelledby": "unanswered-title" }, h("h4", { id: "unanswered-title" }, "Unanswered questions"), status, list);
}
