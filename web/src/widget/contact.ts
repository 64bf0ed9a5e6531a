/**
 * The widget's "Leave your details" form: offered when the avatar takes contacts but the server has no LLM
 * to call its capture_contact tool. The details go with the visitor's live conversation.
 */

import { ApiClient, ApiError, humanMessage } from "../lib/api";
import type { components } from "../api/schema";
import type { ConversationController } from "../lib/controller";
import { h } from "../lib/dom";
import type { Texts } from "../lib/strings";
import css from "./contact.css";

type ContactIn = components["schemas"]["ContactIn"];
type ContactSaved = components["schemas"]["ContactSaved"];

const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

export interface ContactForm {
  element: HTMLElement;
  /** Follow a conversation: the details are sent with its session while it is live. */
  follow: (controller: ConversationController) => void;
}

export function contactForm(api: ApiClient, texts: Texts["contact"]): ContactForm {
  let controller: ConversationController | null = null;
  const open = h("button", { type: "button", "aria-expanded": "false", "aria-controls": "avs-contact-form" }, texts.open);
  const input = (name: string, type: string, autocomplete: string, maxlength: number): HTMLInputElement =>
    h("input", { id: `avs-contact-${name}`, name, type, autocomplete, maxlength });
  const name = input("name", "text", "name", 200);
  const email = input("email", "email", "email", 320);
  const phone = input("phone", "tel", "tel", 40);
  const note = h("textarea", { id: "avs-contact-note", name: "note", rows: 2, maxlength: 2000 });
  const problem = h("p", { class: "avs-contact-error", id: "avs-contact-problem", role: "alert" });
  const done = h("p", { class: "avs-contact-done", role: "status" });
  const send = h("button", { type: "submit", class: "avs-primary" }, texts.send);
  const cancel = h("button", { type: "button" }, texts.cancel);
  const label = (control: HTMLElement, text: string): HTMLElement => h("label", { for: control.id }, text, control);
  const form = h(
    "form",
    { id: "avs-contact-form", "aria-labelledby": "avs-contact-title", hidden: true, novalidate: true },
    h("h3", { id: "avs-contact-title" }, texts.title),
    h("p", { id: "avs-contact-intro" }, texts.intro),
    label(name, texts.name),
    label(email, texts.email),
    label(phone, texts.phone),
    label(note, texts.note),
    problem,
    h("div", { class: "avs-contact-actions" }, send, cancel),
  );
  const element = h("section", { class: "avs-contact", "aria-label": texts.title }, h("style", {}, css), open, form, done);

  const show = (visible: boolean): void => {
    form.hidden = !visible;
    open.setAttribute("aria-expanded", String(visible));
    if (visible) name.focus();
    else open.focus();
  };
  open.addEventListener("click", () => {
    done.textContent = "";
    show(form.hidden);
  });
  cancel.addEventListener("click", () => show(false));

  const fail = (message: string, field: HTMLElement | null): void => {
    problem.textContent = message;
    for (const control of [email, phone]) control.removeAttribute("aria-invalid");
    if (field) {
      field.setAttribute("aria-invalid", "true");
      field.setAttribute("aria-describedby", problem.id);
      field.focus();
    }
  };

  // What the visitor fixes stops being marked wrong as they type.
  for (const control of [email, phone]) control.addEventListener("input", () => fail("", null));

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const reach = { email: email.value.trim(), phone: phone.value.trim() };
    if (!reach.email && !reach.phone) return fail(texts.needsReach, email);
    if (reach.email && !EMAIL.test(reach.email)) return fail(texts.badEmail, email);
    const sessionId = controller?.sessionId;
    if (!controller || !sessionId || controller.status === "ended" || controller.status === "idle") {
      return fail(texts.startFirst, null);
    }
    fail("", null);
    send.disabled = true;
    api
      .json<ContactSaved>("POST", `/v1/sessions/${sessionId}/contact`, {
        name: name.value.trim(),
        note: note.value.trim(),
        ...(reach.email ? { email: reach.email } : {}),
        ...(reach.phone ? { phone: reach.phone } : {}),
      } satisfies ContactIn)
      .then(
        () => {
          form.reset();
          done.textContent = texts.sent;
          show(false);
        },
        (error: unknown) => {
          const listed = error instanceof ApiError && error.status === 422 ? error.errors?.join("; ") : undefined;
          fail(listed ?? humanMessage(error), null);
        },
      )
      .finally(() => (send.disabled = false));
  });

  return {
    element,
    follow: (next) => {
      controller = next;
    },
  };
}
