/** Thumbs up or down, and an optional comment, on one answer: only the conversation's own visitor rates it. */

import { ApiClient, humanMessage } from "./api";
import { h } from "./dom";

// A thumb drawn in the button's text colour: an emoji would hang on the visitor's fonts (a box without one).
const THUMB = "M2 10h4v11H2zM8 21h9.4a2 2 0 0 0 2-1.6l1.5-7.2A2 2 0 0 0 19 10h-5.4l.9-4.3a2.1 2.1 0 0 0-3.8-1.6L8 10z";

function thumb(pointing: "up" | "down"): SVGSVGElement {
  const ns = "http://www.w3.org/2000/svg";
  const icon = document.createElementNS(ns, "svg");
  for (const [name, value] of Object.entries({ viewBox: "0 0 24 24", width: "16", height: "16", "aria-hidden": "true", focusable: "false" })) {
    icon.setAttribute(name, value);
  }
  const shape = document.createElementNS(ns, "path");
  shape.setAttribute("d", THUMB);
  shape.setAttribute("fill", "currentColor");
  if (pointing === "down") shape.setAttribute("transform", "rotate(180 12 12)");
  icon.append(shape);
  return icon;
}

export function feedbackControls(api: ApiClient, messageId: string): HTMLElement {
  const path = `/v1/messages/${encodeURIComponent(messageId)}/feedback`;
  const up = h("button", { type: "button", class: "avs-rate", "aria-pressed": "false", "aria-label": "Helpful answer" }, thumb("up"));
  const down = h("button", { type: "button", class: "avs-rate", "aria-pressed": "false", "aria-label": "Unhelpful answer" }, thumb("down"));
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
