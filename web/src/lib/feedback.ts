/** Thumbs up or down, and an optional comment, on one answer: only the conversation's own visitor rates it. */

import { ApiClient, humanMessage } from "./api";
import { h } from "./dom";

export function feedbackControls(api: ApiClient, messageId: string): HTMLElement {
  const path = `/v1/messages/${encodeURIComponent(messageId)}/feedback`;
  const up = h("button", { type: "button", class: "avs-rate", "aria-pressed": "false", "aria-label": "Helpful answer" }, "👍");
  const down = h("button", { type: "button", class: "avs-rate", "aria-pressed": "false", "aria-label": "Unhelpful answer" }, "👎");
  const comment = h("input", { type: "text", maxlength: 2000, placeholder: "What was wrong? (optional)", "aria-label": "Comment on this answer", hidden: true });
  const status = h("span", { class: "avs-rate-status", role: "status" });
  let rating: "up" | "down" | null = null;

  const send = (): void => {
    if (!rating) return;
    api.json("PUT", path, { rating, comment: comment.value }).then(
      () => (status.textContent = "Thanks for the feedback."),
      (error: unknown) => (status.textContent = humanMessage(error)),
    );
  };
  const choose = (value: "up" | "down"): void => {
    rating = value;
    up.setAttribute("aria-pressed", String(value === "up"));
    down.setAttribute("aria-pressed", String(value === "down"));
    comment.hidden = value === "up";
    send();
  };
  up.addEventListener("click", () => choose("up"));
  down.addEventListener("click", () => choose("down"));
  comment.addEventListener("change", send);
  return h("div", { class: "avs-feedback", "aria-label": "Rate this answer" }, up, down, comment, status);
}
