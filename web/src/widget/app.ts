/** The widget's conversation, loaded when a visitor opens it: visitor token, then the shared conversation UI. */

import { ApiClient, ApiError, type ApiAddresses, humanMessage } from "../lib/api";
import css from "../lib/conversation.css";
import { mountConversation } from "../lib/conversation-view";
import type { Texts } from "../lib/strings";
import { contactForm } from "./contact";
import type { WidgetLook } from "./look";

interface WidgetToken {
  token: string;
  expires_at: string;
  visitor_id: string;
  avatar: {
    id: string;
    public_id: string;
    name: string;
    greeting: string;
    provider: string;
    language: string;
    appearance?: unknown;
    contact_form?: boolean;
    end_of_speech_ms: number;
  };
}

export interface WidgetMount {
  root: ShadowRoot;
  body: HTMLElement;
  title: HTMLElement;
  api: ApiAddresses;
  avatar: string;
  look: WidgetLook;
  texts: Texts;
}

function storedVisitor(key: string): string | undefined {
  try {
    return localStorage.getItem(key) ?? undefined;
  } catch {
    return undefined;
  }
}

/** This browser's lasting id for the owner's "returning visitors"; a random value, kept in storage. */
function browserKey(): string | undefined {
  const key = "avatar-studio-visitor-key";
  try {
    let value = localStorage.getItem(key);
    if (!value || !/^[A-Za-z0-9_-]{8,64}$/.test(value)) {
      value = crypto.randomUUID().replaceAll("-", "");
      localStorage.setItem(key, value);
    }
    return value;
  } catch {
    return undefined;
  }
}

export async function openWidget({ root, body, title, api, avatar, look, texts }: WidgetMount): Promise<void> {
  const style = document.createElement("style");
  style.textContent = css;
  root.append(style);
  const client = new ApiClient(api);
  const visitorKey = `avatar-studio-visitor:${avatar}`;
  let grant: WidgetToken;
  try {
    grant = await client.json<WidgetToken>("POST", "/v1/widget/token", {
      avatar_public_id: avatar,
      visitor_token: storedVisitor(visitorKey),
    });
  } catch (error) {
    const refusal = document.createElement("p");
    refusal.className = "refusal";
    refusal.setAttribute("role", "alert");
    const refused = error instanceof ApiError && error.code === "origin_not_allowed";
    refusal.textContent = refused ? texts.refused(location.origin) : humanMessage(error);
    body.replaceChildren(refusal);
    return;
  }
  try {
    localStorage.setItem(visitorKey, grant.token);
  } catch {
    // Storage can be blocked on the host page; the visitor then simply starts fresh next time.
  }
  client.token = grant.token;
  title.textContent = grant.avatar.name;
  body.replaceChildren();
  const contact = grant.avatar.contact_form ? contactForm(client, texts.contact) : null;
  mountConversation(body, {
    api: client,
    avatarId: grant.avatar.id,
    avatarName: grant.avatar.name,
    greeting: grant.avatar.greeting,
    // The page without its query or fragment, which may carry what a visitor typed elsewhere.
    sessionFields: { visitor_key: browserKey(), page_url: `${location.origin}${location.pathname}` },
    appearance: grant.avatar.appearance,
    endOfSpeechMs: grant.avatar.end_of_speech_ms,
    texts,
    showLatency: look.latency,
    onController: contact?.follow,
  });
  if (contact) body.append(contact.element);
}
