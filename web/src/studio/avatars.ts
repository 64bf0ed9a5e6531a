/** The avatar editor: every field an owner sets, saved with POST or PATCH. */

import { ApiClient, humanMessage } from "../lib/api";
import { h } from "../lib/dom";

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
  appearance: { look: string; theme: string };
}

const PROVIDERS = ["local", "heygen", "liveavatar", "simli", "tavus"];
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

/** Renders the form; `saved` gets the stored avatar, `deleted` fires after a confirmed delete. */
export function avatarForm(
  api: ApiClient,
  avatar: Avatar | null,
  available: Record<string, boolean>,
  saved: (avatar: Avatar) => void,
  deleted: () => void,
): HTMLElement {
  const labels = Object.fromEntries(
    PROVIDERS.map((name) => [name, available[name] === false ? `${name} (no key configured)` : name]),
  );
  const name = h("input", { name: "name", required: true, maxlength: 120, value: avatar?.name ?? "" });
  const provider = select("provider", PROVIDERS, avatar?.provider ?? "local", labels);
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
