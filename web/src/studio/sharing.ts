/** The widget snippet and the avatar's API keys for /v1/chat/completions. */

import { ApiClient, humanMessage } from "../lib/api";
import { h } from "../lib/dom";
import { appearancePanel } from "./appearance";
import type { Avatar } from "./avatars";

interface ApiKey {
  id: string;
  name: string;
  key_prefix: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

function copyButton(label: string, text: () => string): HTMLButtonElement {
  const button = h("button", { type: "button", "aria-label": label }, "Copy");
  button.addEventListener("click", () => {
    navigator.clipboard.writeText(text()).then(
      () => (button.textContent = "Copied"),
      () => (button.textContent = "Select and copy by hand"),
    );
  });
  return button;
}

/** The tag a site adds: the widget script from the static site, and both API addresses it talks to. */
export function widgetSnippet(avatar: Avatar, staticOrigin: string, api: ApiClient): string {
  return (
    `<script src="${staticOrigin}/widget.js" data-avatar="${avatar.public_id}"` +
    ` data-api="${api.base}" data-stream-api="${api.streamBase}" async></script>`
  );
}

export function sharingPanel(
  api: ApiClient,
  avatar: Avatar,
  staticOrigin: string,
  lookSaved: (avatar: Avatar) => void,
): HTMLElement {
  const snippet = widgetSnippet(avatar, staticOrigin, api);
  const origins = avatar.allowed_origins.length ? avatar.allowed_origins.join(", ") : "none yet (add them in Settings)";
  const keys = h("ul", { class: "keys", "aria-label": "API keys" });
  const created = h("div", { "aria-live": "polite" });
  const error = h("p", { class: "error", role: "alert" });
  const keyName = h("input", { name: "key_name", required: true, maxlength: 100, "aria-label": "Key name" });
  const createForm = h(
    "form",
    { "aria-label": "Create an API key" },
    keyName,
    " ",
    h("button", { type: "submit", class: "primary" }, "Create key"),
  );

  function renderKey(key: ApiKey): HTMLElement {
    const revoke = h("button", { type: "button", class: "danger", "aria-label": `Revoke ${key.name}` }, "Revoke");
    revoke.disabled = key.revoked_at !== null;
    revoke.addEventListener("click", () => {
      api.json("DELETE", `/v1/avatars/${avatar.id}/api-keys/${key.id}`).then(load, (failure: unknown) => {
        error.textContent = humanMessage(failure);
      });
    });
    const state = key.revoked_at ? "revoked" : key.last_used_at ? `last used ${new Date(key.last_used_at).toLocaleString()}` : "never used";
    return h("li", {}, h("strong", {}, key.name), h("code", {}, `${key.key_prefix}…`), h("span", {}, state), revoke);
  }

  function load(): void {
    api.json<ApiKey[]>("GET", `/v1/avatars/${avatar.id}/api-keys`).then(
      (items) => keys.replaceChildren(...items.map(renderKey)),
      (failure: unknown) => (error.textContent = humanMessage(failure)),
    );
  }

  createForm.addEventListener("submit", (event) => {
    event.preventDefault();
    api.json<ApiKey & { key: string }>("POST", `/v1/avatars/${avatar.id}/api-keys`, { name: keyName.value }).then(
      (key) => {
        keyName.value = "";
        created.replaceChildren(
          h("p", {}, "Your new key, shown only this once:"),
          h("p", { class: "secret" }, key.key, " ", copyButton("Copy the new API key", () => key.key)),
        );
        load();
      },
      (failure: unknown) => (error.textContent = humanMessage(failure)),
    );
  });
  load();

  return h(
    "div",
    {},
    h("h3", {}, "Widget"),
    h("p", {}, "Paste this tag into any page of an allowed origin: ", h("strong", {}, origins), "."),
    h("pre", {}, h("code", { "data-part": "snippet" }, snippet)),
    copyButton("Copy the widget snippet", () => snippet),
    " ",
    h("a", { href: `${staticOrigin}/widget-demo.html?avatar=${encodeURIComponent(avatar.public_id)}` }, "Try it on the demo page"),
    h("h3", {}, "Look"),
    appearancePanel(api, avatar, staticOrigin, lookSaved),
    h("h3", {}, "API keys for /v1/chat/completions"),
    createForm,
    created,
    error,
    keys,
  );
}
