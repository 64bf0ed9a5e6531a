/** Sign-in: the local dev login, or Supabase Auth (password or magic link) loaded only when configured. */

import { ApiClient, humanMessage } from "../lib/api";
import { h } from "../lib/dom";
import type { ClientConfig } from "./config";

const TOKEN_KEY = "avatar-studio-token";

export interface SignedIn {
  token: string;
  email: string;
  signOut(): Promise<void>;
}

type Supabase = import("@supabase/supabase-js").SupabaseClient;

async function supabaseClient(config: ClientConfig): Promise<Supabase | null> {
  const { url, anon_key: anonKey } = config.supabase;
  if (!url || !anonKey) return null;
  const { createClient } = await import("@supabase/supabase-js");
  return createClient(url, anonKey);
}

/** Resolves with a token: one already stored, or one from the sign-in form rendered into `target`. */
export async function signIn(api: ApiClient, config: ClientConfig, target: HTMLElement): Promise<SignedIn> {
  const supabase = await supabaseClient(config);
  if (supabase) {
    const { data } = await supabase.auth.getSession();
    const session = data.session;
    if (session) return supabaseSession(api, supabase, session.access_token, session.user.email ?? "");
    return new Promise((resolve) => renderSupabaseForm(api, supabase, target, resolve));
  }
  const stored = localStorage.getItem(TOKEN_KEY);
  if (stored) {
    const [token, email] = JSON.parse(stored) as [string, string];
    return { token, email, signOut: async () => localStorage.removeItem(TOKEN_KEY) };
  }
  return new Promise((resolve) => renderDevForm(api, target, resolve));
}

function supabaseSession(api: ApiClient, supabase: Supabase, token: string, email: string): SignedIn {
  supabase.auth.onAuthStateChange((_event, session) => {
    if (session) api.token = session.access_token;
  });
  return {
    token,
    email,
    signOut: async () => {
      await supabase.auth.signOut();
    },
  };
}

function renderDevForm(api: ApiClient, target: HTMLElement, done: (signedIn: SignedIn) => void): void {
  const email = h("input", { type: "email", name: "email", required: true, autocomplete: "email" });
  const error = h("p", { class: "error", role: "alert" });
  const form = h(
    "form",
    { class: "card fields", "aria-label": "Sign in" },
    h("h2", {}, "Sign in"),
    h("p", {}, "Local mode: any email signs you in (try demo@avatar-studio.local)."),
    h("label", {}, "Email", email),
    h("button", { type: "submit", class: "primary" }, "Sign in"),
    error,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    api.json<{ access_token: string }>("POST", "/v1/dev/login", { email: email.value }).then(
      ({ access_token: token }) => {
        localStorage.setItem(TOKEN_KEY, JSON.stringify([token, email.value]));
        done({ token, email: email.value, signOut: async () => localStorage.removeItem(TOKEN_KEY) });
      },
      (failure: unknown) => (error.textContent = humanMessage(failure)),
    );
  });
  target.replaceChildren(form);
  email.focus();
}

function renderSupabaseForm(
  api: ApiClient,
  supabase: Supabase, target: HTMLElement, done: (signedIn: SignedIn) => void): void {
  const email = h("input", { type: "email", name: "email", required: true, autocomplete: "email" });
  const password = h("input", { type: "password", name: "password", autocomplete: "current-password" });
  const message = h("p", { role: "alert" });
  const magic = h("button", { type: "button" }, "Email me a sign-in link");
  const form = h(
    "form",
    { class: "card fields", "aria-label": "Sign in" },
    h("h2", {}, "Sign in"),
    h("label", {}, "Email", email),
    h("label", {}, "Password", password),
    h("button", { type: "submit", class: "primary" }, "Sign in"),
    magic,
    message,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void supabase.auth
      .signInWithPassword({ email: email.value, password: password.value })
      .then(({ data, error }) => {
        if (error || !data.session) message.textContent = error?.message ?? "Sign-in failed.";
        else done(supabaseSession(api, supabase, data.session.access_token, email.value));
      });
  });
  magic.addEventListener("click", () => {
    if (!email.reportValidity()) return;
    void supabase.auth
      .signInWithOtp({ email: email.value, options: { emailRedirectTo: location.href } })
      .then(({ error }) => {
        message.textContent = error ? error.message : `Check ${email.value} for your sign-in link.`;
      });
  });
  target.replaceChildren(form);
}
