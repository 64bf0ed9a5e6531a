/** The avatar editor: every field an owner sets, saved with POST or PATCH. */

import { ApiClient, humanMessage } from "../lib/api";
import { h } from "../lib/dom";
import type { OptionSchema, ProviderInfo } from "./config";

export interface Avatar {
  id: string;
  public_id: string;
  name: string;
  provider: string;
  provider_avatar_id: string | null;
  voice: { provider: string; voice_id: string | null; settings?: Record<string, unknown> };
  provider_options: Record<string, unknown>;
  persona: string;
  greeting: string;
  quality: "low" | "medium" | "high";
  language: string;
  allowed_origins: string[];
  grounded_only: boolean;
  appearance: { look: string; theme: string };
}

const VOICE_PROVIDERS = ["local", "elevenlabs", "heygen", "liveavatar", "simli", "tavus"];
const LOOKS = ["ada", "kai", "noor"];
const LOOK_LABELS: Record<string, string> = {
  ada: "Ada: auburn bob",
  kai: "Kai: short hair, glasses",
  noor: "Noor: hair in a bun",
};
const PREVIEW_PIXELS = 200;

/** The built-in avatar as the look and colour now chosen; the drawing code loads on demand. */
function drawPreview(canvas: HTMLCanvasElement, look: string, theme: string): void {
  void import("../adapters/local/portrait").then(({ appearanceOf, drawPortrait, REST_POSE }) => {
    const context = canvas.getContext("2d");
    const appearance = appearanceOf({ look, theme });
    if (context) drawPortrait(context, canvas.width, canvas.height, appearance, REST_POSE);
    canvas.dataset.look = appearance.look;
    canvas.dataset.theme = appearance.theme;
  });
}

function select(name: string, values: string[], current: string, labels: Record<string, string> = {}): HTMLSelectElement {
  const element = h("select", { name });
  for (const value of values) {
    element.append(h("option", { value, selected: value === current }, labels[value] ?? value));
  }
  return element;
}

/** The plain (editable here) shape of an option: its enum values, or its JSON type. */
function shapeOf(schema: OptionSchema): { values: unknown[] | null; type: string | null } {
  const plain = [schema, ...(schema.anyOf ?? [])].filter((part) => part.type !== "null");
  for (const part of plain) if (part.enum) return { values: part.enum, type: null };
  const typed = plain.find((part) => part.type && !part.$ref);
  return { values: null, type: typed?.type ?? null };
}

/**
 * The provider's options as fields, built from the options model it declares (`/v1/config`): enums as
 * selects, booleans as checkboxes, numbers and strings as inputs. Options of other shapes (objects) are
 * kept as they are. `read()` gives the options to save.
 */
function optionFields(info: ProviderInfo | undefined, current: Record<string, unknown>): {
  element: HTMLElement;
  read(): Record<string, unknown>;
} {
  const element = h("fieldset", { class: "fields", "aria-label": "Provider options" });
  const readers: Array<(options: Record<string, unknown>) => void> = [];
  const kept: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(info?.options_schema.properties ?? {})) {
    const { values, type } = shapeOf(schema);
    const label = schema.description ?? schema.title ?? key;
    const value = current[key];
    if (values) {
      const choices = ["", ...values.map(String)];
      const field = select(`option_${key}`, choices, value === undefined ? "" : String(value), { "": "(default)" });
      element.append(h("label", {}, label, field));
      readers.push((options) => {
        if (field.value) options[key] = field.value;
      });
    } else if (type === "boolean") {
      const field = h("input", { type: "checkbox", name: `option_${key}`, checked: value === true });
      element.append(h("label", { class: "check" }, field, label));
      readers.push((options) => {
        if (field.checked || value !== undefined) options[key] = field.checked;
      });
    } else if (type === "integer" || type === "number" || type === "string") {
      const numeric = type !== "string";
      const field = h("input", { type: numeric ? "number" : "text", name: `option_${key}`, value: value === undefined ? "" : String(value) });
      if (type === "number") field.step = "any";
      element.append(h("label", {}, label, field));
      readers.push((options) => {
        const text = field.value.trim();
        if (text) options[key] = numeric ? Number(text) : text;
      });
    } else if (value !== undefined) {
      kept[key] = value;
    }
  }
  if (readers.length === 0) element.hidden = true;
  return {
    element,
    read() {
      const options: Record<string, unknown> = { ...kept };
      for (const reader of readers) reader(options);
      return options;
    },
  };
}

/** Renders the form; `saved` gets the stored avatar, `deleted` fires after a confirmed delete. */
export function avatarForm(
  api: ApiClient,
  avatar: Avatar | null,
  catalog: ProviderInfo[],
  saved: (avatar: Avatar) => void,
  deleted: () => void,
): HTMLElement {
  // The providers in the order they declare (LiveAvatar before HeyGen's legacy Interactive Avatar).
  const labels = Object.fromEntries(
    catalog.map((info) => [info.name, info.configured ? info.label : `${info.label} (no key configured)`]),
  );
  const name = h("input", { name: "name", required: true, maxlength: 120, value: avatar?.name ?? "" });
  const provider = select(
    "provider",
    catalog.map((info) => info.name),
    avatar?.provider ?? "local",
    labels,
  );
  const infoOf = (chosen: string): ProviderInfo | undefined => catalog.find((info) => info.name === chosen);
  let options = optionFields(infoOf(provider.value), avatar?.provider_options ?? {});
  provider.addEventListener("change", () => {
    const next = optionFields(infoOf(provider.value), provider.value === avatar?.provider ? avatar.provider_options : {});
    options.element.replaceWith(next.element);
    options = next;
  });
  const providerAvatarId = h("input", { name: "provider_avatar_id", value: avatar?.provider_avatar_id ?? "" });
  const voiceProvider = select("voice_provider", VOICE_PROVIDERS, avatar?.voice.provider ?? "local");
  const voiceId = h("input", { name: "voice_id", value: avatar?.voice.voice_id ?? "" });
  const persona = h("textarea", { name: "persona", rows: 4, maxlength: 8000 });
  persona.value = avatar?.persona ?? "";
  const greeting = h("input", { name: "greeting", maxlength: 1000, value: avatar?.greeting ?? "" });
  const quality = select("quality", ["low", "medium", "high"], avatar?.quality ?? "medium");
  const grounded = h("input", { type: "checkbox", name: "grounded_only", checked: avatar?.grounded_only ?? false });
  const look = select("look", LOOKS, avatar?.appearance.look ?? "ada", LOOK_LABELS);
  const theme = h("input", { type: "color", name: "theme", value: avatar?.appearance.theme ?? "#2563eb" });
  const preview = h("canvas", {
    width: PREVIEW_PIXELS,
    height: PREVIEW_PIXELS,
    class: "look-preview",
    role: "img",
    "aria-label": "How the built-in avatar looks",
  });
  const redraw = (): void => drawPreview(preview, look.value, theme.value);
  look.addEventListener("change", redraw);
  theme.addEventListener("input", redraw);
  redraw();
  const origins = h("textarea", { name: "allowed_origins", rows: 3, placeholder: "https://www.example.com" });
  origins.value = (avatar?.allowed_origins ?? []).join("\n");
  const error = h("p", { class: "error", role: "alert" });
  const remove = avatar ? h("button", { type: "button", class: "danger" }, "Delete avatar") : null;
  const form = h(
    "form",
    { class: "fields", "aria-label": avatar ? `Settings of ${avatar.name}` : "New avatar" },
    h("label", {}, "Name", name),
    h("label", {}, "Provider", provider),
    options.element,
    h("label", {}, "Provider avatar id", providerAvatarId),
    h("label", {}, "Voice provider", voiceProvider),
    h("label", {}, "Voice id", voiceId),
    h("label", {}, "Persona", persona),
    h("label", {}, "Greeting", greeting),
    h("label", {}, "Quality", quality),
    h(
      "fieldset",
      { class: "look" },
      h("legend", {}, "Built-in avatar"),
      preview,
      h("label", {}, "Look", look),
      h("label", {}, "Theme colour", theme),
    ),
    h("label", { class: "check" }, grounded, "Answer only from the knowledge base"),
    h("label", {}, "Allowed widget origins (one per line)", origins),
    h("div", {}, h("button", { type: "submit", class: "primary" }, avatar ? "Save" : "Create avatar"), " ", remove),
    error,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = {
      name: name.value.trim(),
      provider: provider.value,
      provider_avatar_id: providerAvatarId.value.trim() || null,
      voice: { ...avatar?.voice, provider: voiceProvider.value, voice_id: voiceId.value.trim() || null },
      provider_options: options.read(),
      persona: persona.value,
      greeting: greeting.value,
      quality: quality.value,
      grounded_only: grounded.checked,
      appearance: { look: look.value, theme: theme.value },
      allowed_origins: origins.value.split(/\s+/).filter(Boolean),
    };
    const request = avatar
      ? api.json<Avatar>("PATCH", `/v1/avatars/${avatar.id}`, body)
      : api.json<Avatar>("POST", "/v1/avatars", body);
    request.then(saved, (failure: unknown) => (error.textContent = humanMessage(failure)));
  });
  remove?.addEventListener("click", () => {
    if (!avatar || !confirm(`Delete ${avatar.name}, its knowledge and its keys?`)) return;
    api.json("DELETE", `/v1/avatars/${avatar.id}`).then(deleted, (failure: unknown) => (error.textContent = humanMessage(failure)));
  });
  return form;
}
