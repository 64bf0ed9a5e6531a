/** The owners' studio: sign in, avatars, knowledge, sharing, conversation and history. */

import { ApiClient, humanMessage } from "../lib/api";
import css from "../lib/conversation.css";
import { mountConversation } from "../lib/conversation-view";
import { h } from "../lib/dom";
import { signIn } from "./auth";
import { avatarForm, type Avatar } from "./avatars";
import { loadConfig, type ClientConfig } from "./config";
import { historyPanel } from "./history";
import { knowledgePanel } from "./knowledge";
import { sharingPanel } from "./sharing";

declare global {
  interface Window {
    AVATAR_STUDIO_API?: string;
  }
}

const TABS = ["Conversation", "Settings", "Knowledge", "Widget & API keys", "History"] as const;
type Tab = (typeof TABS)[number];

const OFFLINE_NOTICE =
  "Offline mode: no language model key is configured, so answers are put together from the knowledge base alone. Set an LLM key on the server for full answers.";

class Studio {
  private avatars: Avatar[] = [];
  private selected: string | null = null;
  private tab: Tab = "Conversation";
  private closeConversation: (() => void) | null = null;

  constructor(
    private readonly api: ApiClient,
    private readonly config: ClientConfig,
    private readonly main: HTMLElement,
  ) {}

  async load(): Promise<void> {
    this.avatars = await this.api.json<Avatar[]>("GET", "/v1/avatars");
    this.selected ??= this.avatars[0]?.id ?? null;
    this.render();
  }

  private select(id: string | null, tab: Tab = this.tab): void {
    this.selected = id;
    this.tab = tab;
    this.render();
  }

  private render(): void {
    this.closeConversation?.();
    this.closeConversation = null;
    const list = h("ul", {});
    for (const avatar of this.avatars) {
      list.append(
        h(
          "li",
          {},
          h(
            "button",
            { type: "button", "aria-current": String(avatar.id === this.selected), onclick: () => this.select(avatar.id) },
            avatar.name,
          ),
        ),
      );
    }
    const nav = h(
      "nav",
      { class: "card avatars", "aria-label": "Avatars" },
      h("h2", {}, "Avatars"),
      list,
      h("button", { type: "button", class: "primary", onclick: () => this.select(null, "Settings") }, "New avatar"),
    );
    this.main.replaceChildren(h("div", { class: "layout" }, nav, this.pane()));
  }

  private pane(): HTMLElement {
    const avatar = this.avatars.find((a) => a.id === this.selected) ?? null;
    if (!avatar) {
      const onSaved = (created: Avatar): void => {
        this.avatars.push(created);
        this.select(created.id, "Knowledge");
      };
      return h("section", { class: "card", "aria-label": "New avatar" }, h("h2", {}, "New avatar"), avatarForm(this.api, null, this.config.providers, onSaved, () => this.select(null)));
    }
    const tablist = h("div", { role: "tablist", "aria-label": `${avatar.name} sections` });
    for (const tab of TABS) {
      tablist.append(
        h(
          "button",
          { type: "button", role: "tab", "aria-selected": String(tab === this.tab), "aria-controls": "avatar-panel", onclick: () => this.select(avatar.id, tab) },
          tab,
        ),
      );
    }
    const panel = h("div", { role: "tabpanel", id: "avatar-panel", "aria-label": this.tab });
    panel.append(this.tabContent(avatar, panel));
    return h("section", { class: "card", "aria-label": avatar.name }, h("h2", {}, avatar.name), tablist, panel);
  }

  private tabContent(avatar: Avatar, panel: HTMLElement): HTMLElement {
    switch (this.tab) {
      case "Conversation": {
        const holder = h("div", {});
        this.closeConversation = mountConversation(holder, {
          api: this.api,
          avatarId: avatar.id,
          avatarName: avatar.name,
          greeting: avatar.greeting,
          showLatency: true,
        });
        return holder;
      }
      case "Settings":
        return avatarForm(
          this.api,
          avatar,
          this.config.providers,
          (saved) => {
            this.avatars = this.avatars.map((a) => (a.id === saved.id ? saved : a));
            this.render();
            panel.prepend(h("p", { role: "status" }, "Saved."));
          },
          () => {
            this.avatars = this.avatars.filter((a) => a.id !== avatar.id);
            this.select(this.avatars[0]?.id ?? null, "Conversation");
          },
        );
      case "Knowledge":
        return knowledgePanel(this.api, avatar.id);
      case "Widget & API keys":
        return sharingPanel(this.api, avatar, location.origin);
      case "History":
        return historyPanel(this.api, avatar.id);
    }
  }
}

async function boot(): Promise<void> {
  const main = document.getElementById("main") as HTMLElement;
  const account = document.getElementById("account") as HTMLElement;
  const banner = document.getElementById("banner") as HTMLElement;
  document.head.append(h("style", {}, css));
  const api = new ApiClient(window.AVATAR_STUDIO_API ?? location.origin);
  try {
    const config = await loadConfig(api);
    const user = await signIn(api, config, main);
    api.token = user.token;
    const signOut = h("button", { type: "button" }, "Sign out");
    signOut.addEventListener("click", () => void user.signOut().then(() => location.reload()));
    account.replaceChildren(h("span", {}, `Signed in as ${user.email} `), signOut);
    if (config.llm.offline) {
      banner.textContent = OFFLINE_NOTICE;
      banner.hidden = false;
    }
    await new Studio(api, config, main).load();
  } catch (error) {
    main.replaceChildren(h("p", { class: "error", role: "alert" }, humanMessage(error)));
  }
}

void boot();
