/** The widget's look for one avatar: a form, and a live preview of the real widget as the owner edits. */

import { ApiClient } from "../lib/api";
import { h } from "../lib/dom";
import { LANGUAGES, textsFor } from "../lib/strings";
import { formErrors, type Avatar } from "./avatars";

export interface WidgetLookFields {
  launcher_text: string | null;
  color: string;
  position: "left" | "right";
  size: "compact" | "full";
  open: boolean;
  language: string | null;
  show_latency: boolean;
}

const LANGUAGE_NAMES: Record<string, string> = { en: "English", fr: "Français" };

function escapeAttribute(value: string): string {
  return value.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
}

/** A page with nothing but the widget, configured by data- attributes exactly as a site could. */
function previewPage(origin: string, avatar: Avatar, look: WidgetLookFields): string {
  const language = look.language ?? avatar.language;
  const attributes: Record<string, string> = {
    avatar: avatar.public_id,
    "launcher-text": look.launcher_text ?? textsFor(language).launcher,
    color: look.color,
    position: look.position,
    size: look.size,
    lang: language,
    latency: String(look.show_latency),
    // The preview opens when the owner clicks its launcher: each opening asks for a visitor token.
    open: "false",
  };
  const data = Object.entries(attributes)
    .map(([name, value]) => `data-${name}="${escapeAttribute(value)}"`)
    .join(" ");
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Widget preview</title></head>
<body style="margin:0;font:16px/1.5 system-ui,sans-serif;color:#46515e;background:#f7f9fc">
<p style="margin:1rem">Your website's page. Click the launcher to open the widget.</p>
<script src="${origin}/widget.js" ${data} async></script></body></html>`;
}

export function appearancePanel(
  api: ApiClient,
  avatar: Avatar,
  staticOrigin: string,
  saved: (avatar: Avatar) => void,
): HTMLElement {
  const current: WidgetLookFields = {
    launcher_text: null,
    color: "#2563eb",
    position: "right",
    size: "compact",
    open: false,
    language: null,
    show_latency: false,
    ...avatar.widget,
  };
  const launcherText = h("input", {
    name: "launcher_text",
    maxlength: 60,
    value: current.launcher_text ?? "",
    placeholder: textsFor(current.language ?? avatar.language).launcher,
  });
  const color = h("input", { type: "color", name: "color", value: current.color });
  const position = h(
    "select",
    { name: "position" },
    h("option", { value: "right", selected: current.position === "right" }, "Bottom right"),
    h("option", { value: "left", selected: current.position === "left" }, "Bottom left"),
  );
  const size = h(
    "select",
    { name: "size" },
    h("option", { value: "compact", selected: current.size === "compact" }, "Compact"),
    h("option", { value: "full", selected: current.size === "full" }, "Full (tall panel)"),
  );
  const language = h(
    "select",
    { name: "widget_language" },
    h("option", { value: "", selected: current.language === null }, `Same as the avatar (${avatar.language})`),
    ...Object.keys(LANGUAGES).map((code) =>
      h("option", { value: code, selected: current.language === code }, LANGUAGE_NAMES[code] ?? code),
    ),
  );
  const open = h("input", { type: "checkbox", name: "open", checked: current.open });
  const latency = h("input", { type: "checkbox", name: "show_latency", checked: current.show_latency });
  const status = h("p", { role: "status" });
  const error = h("div", { class: "error", role: "alert" });
  const preview = h("iframe", { class: "preview", title: "Widget preview" });

  const values = (): WidgetLookFields => ({
    launcher_text: launcherText.value.trim() || null,
    color: color.value,
    position: position.value === "left" ? "left" : "right",
    size: size.value === "full" ? "full" : "compact",
    open: open.checked,
    language: language.value || null,
    show_latency: latency.checked,
  });
  let pending: ReturnType<typeof setTimeout> | null = null;
  const refresh = (): void => {
    if (pending) clearTimeout(pending);
    pending = setTimeout(() => {
      pending = null;
      const look = values();
      launcherText.placeholder = textsFor(look.language ?? avatar.language).launcher;
      preview.srcdoc = previewPage(staticOrigin, avatar, look);
    }, 250);
  };

  const form = h(
    "form",
    { class: "fields", "aria-label": "Widget look" },
    h("label", {}, "Launcher text", launcherText),
    h("div", { class: "row" }, h("label", {}, "Colour", color), h("label", {}, "Corner", position), h("label", {}, "Size", size)),
    h("label", {}, "Language of the widget's texts", language),
    h("label", { class: "check" }, open, "Open the widget as soon as the page loads"),
    h("label", { class: "check" }, latency, "Show answer timings (for your developers)"),
    h("p", { class: "help" }, "A page can override each of these with data- attributes on the script tag (see docs/api.md)."),
    h("div", {}, h("button", { type: "submit", class: "primary" }, "Save the look")),
    status,
    error,
  );
  form.addEventListener("input", refresh);
  form.addEventListener("change", refresh);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    status.textContent = "";
    error.replaceChildren();
    api.json<Avatar>("PATCH", `/v1/avatars/${avatar.id}`, { widget: values() }).then(
      (stored) => {
        status.textContent = `Saved the widget's look at ${new Date().toLocaleTimeString()}.`;
        saved(stored);
      },
      (failure: unknown) => error.replaceChildren(...formErrors(failure).map((message) => h("p", {}, message))),
    );
  });
  preview.srcdoc = previewPage(staticOrigin, avatar, current);
  return h("div", { class: "appearance" }, h("div", {}, form), h("div", {}, h("h4", {}, "Live preview"), preview));
}
