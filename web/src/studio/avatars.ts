/** The avatar editor: every field an owner sets, with help text, saved with POST or PATCH. */

import { ApiClient, ApiError, humanMessage } from "../lib/api";
import { h } from "../lib/dom";
import type { WidgetLookFields } from "./appearance";

export interface Avatar {
  id: string;
  public_id: string;
  name: string;
  provider: string;
  provider_avatar_id: string | null;
  voice: { provider: string; voice_id: string | null; settings?: Record<string, unknown> };
  persona: string;
  greeting: string;
  quality: "low" | "medium" | "high";
  language: string;
  allowed_origins: string[];
  grounded_only: boolean;
  widget?: WidgetLookFields;
}

const PROVIDERS = ["local", "heygen", "liveavatar", "simli", "tavus"];
const VOICE_PROVIDERS = ["local", "elevenlabs", "heygen", "liveavatar", "simli", "tavus"];
const PROVIDER_NAMES: Record<string, string> = {
  local: "Built-in avatar (runs here, no key)",
  heygen: "HeyGen",
  liveavatar: "LiveAvatar",
  simli: "Simli",
  tavus: "Tavus",
  elevenlabs: "ElevenLabs",
};
const KEY_SETTINGS: Record<string, string> = {
  heygen: "HEYGEN_API_KEY",
  liveavatar: "LIVEAVATAR_API_KEY",
  simli: "SIMLI_API_KEY",
  tavus: "TAVUS_API_KEY",
  elevenlabs: "ELEVENLABS_API_KEY",
};

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
  available: Record<string, boolean>,
  saved: (avatar: Avatar) => void,
  deleted: () => void,
): HTMLElement {
  const configured = (name: string): boolean => name === "local" || available[name] === true;
  const providerLabel = (name: string): string => {
    const title = PROVIDER_NAMES[name] ?? name;
    return configured(name) ? title : `${title} (not set up: needs ${KEY_SETTINGS[name] ?? "a key"} on the server)`;
  };
  const name = h("input", { name: "name", required: true, maxlength: 120, value: avatar?.name ?? FIRST_AVATAR.name });
  const provider = select("provider", PROVIDERS, avatar?.provider ?? "local", providerLabel, configured);
  const providerAvatarId = h("input", { name: "provider_avatar_id", value: avatar?.provider_avatar_id ?? "" });
  const voiceProvider = select("voice_provider", VOICE_PROVIDERS, avatar?.voice.provider ?? "local", (value) =>
    value === "local" ? "Built-in voice (offline)" : providerLabel(value), configured);
  const voiceId = h("input", { name: "voice_id", value: avatar?.voice.voice_id ?? "" });
  const persona = h("textarea", { name: "persona", rows: 4, maxlength: 8000 });
  persona.value = avatar?.persona ?? FIRST_AVATAR.persona;
  const greeting = h("input", { name: "greeting", maxlength: 1000, value: avatar?.greeting ?? FIRST_AVATAR.greeting });
  const quality = select("quality", ["low", "medium", "high"], avatar?.quality ?? "medium", (value) => value);
  const grounded = h("input", { type: "checkbox", name: "grounded_only", checked: avatar?.grounded_only ?? false });
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
    ...cloudOnly,
    field("Voice", voiceProvider, "Who speaks the answers. The built-in voice runs offline."),
    voiceIdField,
    field("Greeting", greeting, "The first thing the avatar says when a conversation starts."),
    field("Persona", persona, "How the avatar behaves: its role, tone and limits, in plain words."),
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
    const body = {
      name: name.value.trim(),
      provider: provider.value,
      provider_avatar_id: providerAvatarId.value.trim() || null,
      voice: { ...avatar?.voice, provider: voiceProvider.value, voice_id: voiceId.value.trim() || null },
      persona: persona.value,
      greeting: greeting.value,
      quality: quality.value,
      grounded_only: grounded.checked,
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
