/** The avatar editor: every field an owner sets, with help text, saved with POST or PATCH. */

import { ApiClient, ApiError, humanMessage } from "../lib/api";
import { h } from "../lib/dom";
import type { OptionSchema, ProviderInfo } from "./config";
import type { WidgetLookFields } from "./appearance";

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
  /** Milliseconds of silence that end a visitor's spoken question. */
  end_of_speech_ms: number;
  allowed_origins: string[];
  grounded_only: boolean;
  appearance: { look: string; theme: string };
  widget?: WidgetLookFields;
}

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

/** What a new owner starts from: the built-in avatar with its offline voice, ready to talk. */
export const FIRST_AVATAR = {
  name: "Ava",
  greeting: "Hi, I am Ava. Ask me anything about what we do.",
  persona: "You are Ava, a friendly and concise guide. Answer from the knowledge base and say when you do not know.",
};

/** The form's labels, by API field: validation errors name the field as the owner sees it. */
const LABELS: Record<string, string> = {
  name: "Name",
  provider: "Avatar",
  provider_avatar_id: "Provider avatar id",
  voice: "Voice",
  persona: "Persona",
  greeting: "Greeting",
  quality: "Video quality",
  language: "Language",
  allowed_origins: "Allowed widget origins",
  grounded_only: "Answer only from the knowledge base",
  end_of_speech_ms: "End of speech",
};

function select(
  name: string,
  values: string[],
  current: string,
  label: (value: string) => string,
  usable: (value: string) => boolean = () => true,
): HTMLSelectElement {
  const element = h("select", { name });
  for (const value of values) {
    // A provider without a key cannot be chosen, except the one the avatar already has.
    const disabled = !usable(value) && value !== current;
    element.append(h("option", { value, selected: value === current, disabled }, label(value)));
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
      const field = select(`option_${key}`, choices, value === undefined ? "" : String(value), (choice) =>
        choice === "" ? "(default)" : choice,
      );
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

let fieldIds = 0;

/** A labelled control with its help text, read out by screen readers after the label. */
function field(label: string, control: HTMLElement, help: string): HTMLElement {
  const id = `help-${++fieldIds}`;
  control.setAttribute("aria-describedby", id);
  return h("div", { class: "field" }, h("label", {}, label, control), h("p", { class: "help", id }, help));
}

/** Validation problems as sentences that name the form's fields ("Allowed widget origins: …"). */
export function formErrors(failure: unknown): string[] {
  if (!(failure instanceof ApiError) || failure.code !== "invalid_request" || !failure.errors) {
    return [humanMessage(failure)];
  }
  return failure.errors.map((error) => {
    const split = error.indexOf(": ");
    if (split < 0) return error;
    const path = error.slice(0, split).split(".");
    const label = LABELS[path[0] ?? ""] ?? error.slice(0, split);
    return `${label}: ${error.slice(split + 2)}`;
  });
}

/** Renders the form; `saved` gets the stored avatar, `deleted` fires after a confirmed delete. */
export function avatarForm(
  api: ApiClient,
  avatar: Avatar | null,
  catalog: ProviderInfo[],
  available: Record<string, boolean>,
  /** A new avatar's end-of-speech wait as the server publishes it (/v1/config); empty when it does not. */
  endOfSpeechDefaultMs: number | undefined,
  saved: (avatar: Avatar) => void,
  deleted: () => void,
): HTMLElement {
  // The providers in the order they declare (LiveAvatar before HeyGen's legacy Interactive Avatar); one
  // without a key cannot be chosen, except the one the avatar already has.
  const infoOf = (chosen: string): ProviderInfo | undefined => catalog.find((info) => info.name === chosen);
  const configured = (chosen: string): boolean =>
    chosen === "local" || (infoOf(chosen)?.configured ?? available[chosen] === true);
  const providerLabel = (chosen: string): string => {
    const info = infoOf(chosen);
    const title = chosen === "elevenlabs" ? "ElevenLabs" : (info?.label ?? chosen);
    const key = info?.settings[0] ?? (chosen === "elevenlabs" ? "ELEVENLABS_API_KEY" : "a key");
    return configured(chosen) ? title : `${title} (not set up: needs ${key} on the server)`;
  };
  const name = h("input", { name: "name", required: true, maxlength: 120, value: avatar?.name ?? FIRST_AVATAR.name });
  const provider = select(
    "provider",
    catalog.map((info) => info.name),
    avatar?.provider ?? "local",
    providerLabel,
    configured,
  );
  let options = optionFields(infoOf(provider.value), avatar?.provider_options ?? {});
  provider.addEventListener("change", () => {
    const next = optionFields(infoOf(provider.value), provider.value === avatar?.provider ? avatar.provider_options : {});
    options.element.replaceWith(next.element);
    options = next;
  });
  const providerAvatarId = h("input", { name: "provider_avatar_id", value: avatar?.provider_avatar_id ?? "" });
  // Our voices (built-in, ElevenLabs), then each avatar provider's own, as /v1/config lists the providers.
  const voiceProviders = ["local", "elevenlabs", ...catalog.map((info) => info.name).filter((name) => name !== "local")];
  const voiceProvider = select("voice_provider", voiceProviders, avatar?.voice.provider ?? "local", (value) =>
    value === "local" ? "Built-in voice (offline)" : providerLabel(value), configured);
  const voiceId = h("input", { name: "voice_id", value: avatar?.voice.voice_id ?? "" });
  const persona = h("textarea", { name: "persona", rows: 4, maxlength: 8000 });
  persona.value = avatar?.persona ?? FIRST_AVATAR.persona;
  const greeting = h("input", { name: "greeting", maxlength: 1000, value: avatar?.greeting ?? FIRST_AVATAR.greeting });
  const quality = select("quality", ["low", "medium", "high"], avatar?.quality ?? "medium", (value) => value);
  const grounded = h("input", { type: "checkbox", name: "grounded_only", checked: avatar?.grounded_only ?? false });
  const endOfSpeech = h("input", {
    type: "number",
    name: "end_of_speech_ms",
    min: 200,
    max: 3000,
    step: 50,
    value: String(avatar?.end_of_speech_ms ?? endOfSpeechDefaultMs ?? ""),
  });
  const look = select("look", LOOKS, avatar?.appearance.look ?? "ada", (value) => LOOK_LABELS[value] ?? value);
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
  const error = h("div", { class: "error", role: "alert" });
  const remove = avatar ? h("button", { type: "button", class: "danger" }, "Delete avatar") : null;
  const cloudOnly = [
    field("Provider avatar id", providerAvatarId, "The id of the avatar in your provider's account (its dashboard lists them)."),
    field("Video quality", quality, "Higher quality needs more bandwidth from your visitors."),
  ];
  const voiceIdField = field(
    "Voice id",
    voiceId,
    "The voice's id at the voice provider (ElevenLabs: Voices › ID). Leave empty for its default voice.",
  );
  const showProviderFields = (): void => {
    for (const element of cloudOnly) element.hidden = provider.value === "local";
    voiceIdField.hidden = voiceProvider.value === "local";
  };
  provider.addEventListener("change", showProviderFields);
  voiceProvider.addEventListener("change", showProviderFields);
  showProviderFields();
  const form = h(
    "form",
    { class: "fields", "aria-label": avatar ? `Settings of ${avatar.name}` : "New avatar", novalidate: true },
    field("Name", name, "Shown to visitors as the avatar's name."),
    field("Avatar", provider, "Who draws and animates the face. The built-in avatar needs no account or key."),
    options.element,
    ...cloudOnly,
    field("Voice", voiceProvider, "Who speaks the answers. The built-in voice runs offline."),
    voiceIdField,
    field("Greeting", greeting, "The first thing the avatar says when a conversation starts."),
    field("Persona", persona, "How the avatar behaves: its role, tone and limits, in plain words."),
    h(
      "fieldset",
      { class: "look" },
      h("legend", {}, "Built-in avatar"),
      preview,
      h("label", {}, "Look", look),
      h("label", {}, "Theme colour", theme),
    ),
    field(
      "End of speech (ms)",
      endOfSpeech,
      "How long a visitor's silence ends a spoken question in hands-free voice input, from 200 to 3000. Shorter answers sooner; longer lets people pause between words.",
    ),
    h(
      "div",
      { class: "field" },
      h("label", { class: "check" }, grounded, "Answer only from the knowledge base"),
      h("p", { class: "help" }, "When on, the avatar says it does not know rather than answer from general knowledge."),
    ),
    field(
      "Allowed widget origins (one per line)",
      origins,
      "The websites that may show this avatar, e.g. https://www.example.com. A page address can be pasted: only its site is kept.",
    ),
    h("div", {}, h("button", { type: "submit", class: "primary" }, avatar ? "Save" : "Create avatar"), " ", remove),
    error,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    error.replaceChildren();
    form.closest("[role=tabpanel]")?.querySelector(".flash")?.remove();
    if (!name.value.trim()) {
      error.textContent = "Name: give the avatar a name.";
      name.focus();
      return;
    }
    const waitGiven = endOfSpeech.value !== "" || endOfSpeech.validity.badInput;
    if (waitGiven && !Number.isFinite(endOfSpeech.valueAsNumber)) {
      error.textContent = "End of speech: give a number of milliseconds from 200 to 3000.";
      endOfSpeech.focus();
      return;
    }
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
      // Left empty: the server's default for a new avatar, the avatar's own wait unchanged for one saved.
      ...(waitGiven ? { end_of_speech_ms: endOfSpeech.valueAsNumber } : {}),
      appearance: { look: look.value, theme: theme.value },
      allowed_origins: origins.value.split(/\s+/).filter(Boolean),
    };
    const request = avatar
      ? api.json<Avatar>("PATCH", `/v1/avatars/${avatar.id}`, body)
      : api.json<Avatar>("POST", "/v1/avatars", body);
    request.then(saved, (failure: unknown) => {
      const messages = formErrors(failure);
      error.replaceChildren(...messages.map((message) => h("p", {}, message)));
    });
  });
  remove?.addEventListener("click", () => {
    if (!avatar || !confirm(`Delete ${avatar.name}, its knowledge and its keys?`)) return;
    api.json("DELETE", `/v1/avatars/${avatar.id}`).then(deleted, (failure: unknown) => (error.textContent = humanMessage(failure)));
  });
  return form;
}
