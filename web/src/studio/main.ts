/** The owners' studio: sign in, avatars, knowledge, sharing, conversation and history. */

import { ApiClient, humanMessage, loadAddresses } from "../lib/api";
import css from "../lib/conversation.css";
import { mountConversation } from "../lib/conversation-view";
import { h } from "../lib/dom";
import { signIn } from "./auth";
import { avatarForm, type Avatar } from "./avatars";
import { loadConfig, type ClientConfig } from "./config";
import { contactsPanel } from "./contacts";
import { historyPanel } from "./history";
import { knowledgePanel } from "./knowledge";
import { sharingPanel } from "./sharing";
import { toolsPanel } from "./tools";

const TABS = ["Conversation", "Settings", "Knowledge", "Tools", "Contacts", "Widget & API keys", "History", "Insights"] as const;
type Tab = (typeof TABS)[number];

const OFFLINE_NOTICE =
  "Offline mode: no language model key is configured, so answers are put together from the knowledge base alone. Set an LLM key on the server for full answers.";

class Studio {
  private avatars: Avatar[] = [];
  private selected: string | null = null;
  private tab: Tab = "Conversation";
  private closeConversation: (() => void) | null = null;
  /** A confirmation shown once in the next pane ("Saved."). */
  private flash: string | null = null;
  /** Where focus goes after the next render: the pane's heading, or the selected tab. */
  private focusAfter: "heading" | "tab" | "avatar" | null = null;

  constructor(
    private readonly api: ApiClient,
    private readonly config: ClientConfig,
    private readonly main: HTMLElement,
  ) {}

  async load(): Promise<void> {
    this.avatars = await this.api.json<Avatar[]>("GET", "/v1/avatars");
    this.selected ??= this.avatars[0]?.id ?? null;
    this.focusAfter = "heading";
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
            {
              type: "button",
              "aria-current": String(avatar.id === this.selected),
              onclick: () => {
                this.focusAfter = "avatar";
                this.select(avatar.id);
              },
            },
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
      h(
        "button",
        {
          type: "button",
          class: "primary",
          onclick: () => {
            this.focusAfter = "heading";
            this.select(null, "Settings");
          },
        },
        "New avatar",
      ),
    );
    this.main.replaceChildren(h("div", { class: "layout" }, nav, this.pane()));
    const focus = this.focusAfter;
    this.focusAfter = null;
    if (focus === "heading") this.main.querySelector<HTMLElement>(".pane-heading")?.focus();
    if (focus === "tab") this.main.querySelector<HTMLElement>("[role=tab][aria-selected=true]")?.focus();
    if (focus === "avatar") this.main.querySelector<HTMLElement>(".avatars [aria-current=true]")?.focus();
  }

  /** Arrow keys, Home and End move between tabs (and open them), as in every tab list. */
  private tabKey(event: KeyboardEvent, avatarId: string): void {
    const moves: Record<string, (index: number) => number> = {
      ArrowRight: (index) => (index + 1) % TABS.length,
      ArrowLeft: (index) => (index - 1 + TABS.length) % TABS.length,
      Home: () => 0,
      End: () => TABS.length - 1,
    };
    const move = moves[event.key];
    if (!move) return;
    event.preventDefault();
    this.focusAfter = "tab";
    this.select(avatarId, TABS[move(TABS.indexOf(this.tab))]);
  }

  private pane(): HTMLElement {
    const avatar = this.avatars.find((a) => a.id === this.selected) ?? null;
    if (!avatar) {
      const first = this.avatars.length === 0;
      const onSaved = (created: Avatar): void => {
        this.avatars.push(created);
        this.flash = first
          ? `${created.name} is ready. Next, give it something to know: upload documents below, then talk to it in Conversation.`
          : `${created.name} is created.`;
        this.focusAfter = "heading";
        this.select(created.id, "Knowledge");
      };
      const title = first ? "Create your first avatar" : "New avatar";
      const intro = first
        ? h(
            "div",
            { class: "intro" },
            h("p", {}, "Three steps to a talking avatar on your website:"),
            h(
              "ol",
              {},
              h("li", {}, "Create it: the built-in avatar and voice below work at once, without any account or key."),
              h("li", {}, "Give it knowledge: upload your documents (Markdown, text, HTML or PDF)."),
              h("li", {}, "Talk to it here, then paste its widget snippet into your website."),
            ),
          )
        : null;
      return h(
        "section",
        { class: "card", "aria-label": title },
        h("h2", { class: "pane-heading", tabindex: -1 }, title),
        intro,
        avatarForm(
          this.api,
          null,
          this.config.provider_catalog,
          this.config.providers,
          this.config.hands_free?.end_of_speech_default_ms,
          onSaved,
          () => this.select(null),
        ),
      );
    }
    const tablist = h("div", { role: "tablist", "aria-label": `${avatar.name} sections` });
    tablist.addEventListener("keydown", (event) => this.tabKey(event, avatar.id));
    for (const tab of TABS) {
      const selected = tab === this.tab;
      tablist.append(
        h(
          "button",
          {
            type: "button",
            role: "tab",
            id: `tab-${TABS.indexOf(tab)}`,
            "aria-selected": String(selected),
            "aria-controls": "avatar-panel",
            tabindex: selected ? 0 : -1,
            onclick: () => {
              this.focusAfter = "tab";
              this.select(avatar.id, tab);
            },
          },
          tab,
        ),
      );
    }
    const panel = h("div", { role: "tabpanel", id: "avatar-panel", "aria-labelledby": `tab-${TABS.indexOf(this.tab)}` });
    if (this.flash) panel.append(h("p", { class: "flash", role: "status" }, this.flash));
    this.flash = null;
    panel.append(this.tabContent(avatar));
    return h(
      "section",
      { class: "card", "aria-label": avatar.name },
      h("h2", { class: "pane-heading", tabindex: -1 }, avatar.name),
      tablist,
      panel,
    );
  }

  private tabContent(avatar: Avatar): HTMLElement {
    switch (this.tab) {
      case "Conversation": {
        const holder = h("div", {});
        this.closeConversation = mountConversation(holder, {
          api: this.api,
          avatarId: avatar.id,
          avatarName: avatar.name,
          greeting: avatar.greeting,
          appearance: avatar.appearance,
          endOfSpeechMs: avatar.end_of_speech_ms,
          showLatency: true,
        });
        return holder;
      }
      case "Settings":
        return avatarForm(
          this.api,
          avatar,
          this.config.provider_catalog,
          this.config.providers,
          this.config.hands_free?.end_of_speech_default_ms,
          (saved) => {
            this.avatars = this.avatars.map((a) => (a.id === saved.id ? saved : a));
            this.flash = `Saved ${saved.name} at ${new Date().toLocaleTimeString()}.`;
            this.render();
          },
          () => {
            this.avatars = this.avatars.filter((a) => a.id !== avatar.id);
            this.flash = null;
            this.focusAfter = "heading";
            this.select(this.avatars[0]?.id ?? null, "Conversation");
          },
        );
      case "Knowledge":
        return knowledgePanel(this.api, avatar.id);
      case "Tools":
        return toolsPanel(this.api, avatar.id);
      case "Contacts":
        return contactsPanel(this.api, avatar.id);
      case "Widget & API keys":
        return sharingPanel(this.api, avatar, location.origin, (stored) => {
          this.avatars = this.avatars.map((a) => (a.id === stored.id ? stored : a));
        });
      case "History":
        return historyPanel(this.api, avatar.id);
      case "Insights": {
        // Charts load only when an owner opens the tab.
        const holder = h("div", {}, "Loading insights…");
        const names = new Map(this.avatars.map((a) => [a.id, a.name]));
        import("./insights/view").then(
          ({ insightsPanel }) => holder.replaceChildren(insightsPanel(this.api, avatar.id, names)),
          (failure: unknown) => holder.replaceChildren(h("p", { class: "error", role: "alert" }, humanMessage(failure))),
        );
        return holder;
      }
    }
  }
}

async function boot(): Promise<void> {
  const main = document.getElementById("main") as HTMLElement;
  const account = document.getElementById("account") as HTMLElement;
  const banner = document.getElementById("banner") as HTMLElement;
  document.head.append(h("style", {}, css));
  const api = new ApiClient(await loadAddresses(location.origin));
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
