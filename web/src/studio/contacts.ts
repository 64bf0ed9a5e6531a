/** Contact details visitors left (the capture_contact tool or the widget's form): list, export, delete. */

import { ApiClient, humanMessage } from "../lib/api";
import type { components } from "../api/schema";
import { h } from "../lib/dom";
import { newestOnly } from "../lib/newest";

type ContactOut = components["schemas"]["ContactOut"];

type Contact = ContactOut;

/** The most the list (and its JSON export) holds; the CSV export has every contact. */
const LIST_LIMIT = 500;

function download(blob: Blob, filename: string): void {
  const link = h("a", { href: URL.createObjectURL(blob), download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 0);
}

export function contactsPanel(api: ApiClient, avatarId: string): HTMLElement {
  const error = h("p", { class: "error", role: "alert" });
  const status = h("p", { role: "status" });
  const list = h("ul", { class: "contacts", "aria-label": "Contacts" });
  const csv = h("button", { type: "button" }, "Download CSV");
  const json = h("button", { type: "button" }, "Download JSON");
  let contacts: Contact[] = [];

  function item(contact: Contact): HTMLElement {
    const remove = h("button", { type: "button", class: "danger", "aria-label": `Delete the contact ${contact.name || contact.email || contact.phone}` }, "Delete");
    remove.addEventListener("click", () => {
      if (!confirm("Delete this contact for good?")) return;
      api.json("DELETE", `/v1/contacts/${contact.id}`).then(
        () => void load().then(() => (status.textContent = "Contact deleted.")),
        (failure: unknown) => (error.textContent = humanMessage(failure)),
      );
    });
    const reach = [contact.email, contact.phone].filter(Boolean).join(" · ");
    return h(
      "li",
      { "data-contact": contact.id },
      h("div", { class: "tool-head" }, h("strong", {}, contact.name || "(no name)"), h("span", {}, reach), h("span", { class: "help" }, new Date(contact.created_at).toLocaleString())),
      contact.note ? h("p", { class: "help" }, contact.note) : null,
      remove,
    );
  }

  // Each deletion reloads the list: a reload that answers after a later one's must not bring back what
  // that later deletion removed.
  const latest = newestOnly();
  function load(): Promise<void> {
    const query = new URLSearchParams({ avatar_id: avatarId, limit: String(LIST_LIMIT) });
    return latest(
      api.json<Contact[]>("GET", `/v1/contacts?${query}`),
      (found) => {
        contacts = found;
        list.replaceChildren(...found.map(item));
        if (found.length === 0) list.append(h("li", {}, "No contacts yet."));
        csv.disabled = json.disabled = found.length === 0;
      },
      (failure: unknown) => {
        error.textContent = humanMessage(failure);
      },
    );
  }

  csv.addEventListener("click", () => {
    api
      .request("GET", `/v1/contacts.csv?${new URLSearchParams({ avatar_id: avatarId })}`)
      .then((response) => response.blob())
      .then(
        (blob) => download(blob, "contacts.csv"),
        (failure: unknown) => (error.textContent = humanMessage(failure)),
      );
  });
  json.addEventListener("click", () => {
    download(new Blob([JSON.stringify(contacts, null, 2)], { type: "application/json" }), "contacts.json");
  });
  void load();
  return h(
    "div",
    {},
    h("h3", {}, "Contacts"),
    h("p", { class: "help" }, `Details visitors left for you to get back to them, newest first (up to ${LIST_LIMIT} here and in the JSON; the CSV has all of them).`),
    h("div", { class: "row" }, csv, json),
    error,
    status,
    list,
  );
}
