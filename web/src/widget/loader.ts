/**
 * widget.js: the one tag a site adds. It draws a launcher in a shadow root and, only when a visitor
 * opens it, imports the conversation code (and through it the avatar adapter) next to its own URL.
 */

import { textsFor } from "../lib/strings";
import { fetchLook, lookFromDataset, type WidgetLook } from "./look";

const script =
  (document.currentScript as HTMLScriptElement | null) ??
  document.querySelector<HTMLScriptElement>("script[data-avatar][src*='widget.js']");

const STYLE = `
:host{all:initial;--avs-accent:#2563eb;--avs-on-accent:#fff}
.launcher{position:fixed;bottom:20px;z-index:2147483000;font:600 15px system-ui,sans-serif;
  background:var(--avs-accent);color:var(--avs-on-accent);border:0;border-radius:999px;padding:.8rem 1.2rem;
  cursor:pointer;box-shadow:0 6px 20px rgba(0,0,0,.25);max-width:calc(100vw - 40px)}
.launcher:focus-visible,.close:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}
.panel{position:fixed;bottom:84px;z-index:2147483000;width:min(380px,calc(100vw - 40px));
  max-height:calc(100vh - 110px);overflow:auto;background:#fff;border-radius:14px;padding:.8rem;
  box-shadow:0 12px 40px rgba(0,0,0,.3);font:15px/1.45 system-ui,sans-serif;color:#1d232b;box-sizing:border-box}
:host([data-position=right]) .launcher,:host([data-position=right]) .panel{right:20px}
:host([data-position=left]) .launcher,:host([data-position=left]) .panel{left:20px}
:host([data-size=full]) .panel{width:min(560px,calc(100vw - 40px));height:calc(100vh - 110px)}
.panel[hidden]{display:none}
.head{display:flex;justify-content:space-between;align-items:center;gap:.5rem;margin-bottom:.4rem}
.close{border:0;background:none;font-size:1.6rem;cursor:pointer;line-height:1;padding:.2rem .5rem;color:#1d232b}
.refusal{background:#fdecec;border:1px solid #e58b8b;border-radius:8px;padding:.6rem;margin:0}
@media (max-width:520px){
  :host([data-position][data-size]) .panel{inset:0;width:100%;height:100%;max-height:none;border-radius:0;
    display:flex;flex-direction:column}
  :host([data-position][data-size]) .panel[hidden]{display:none}
  .body{flex:1;min-height:0;display:flex;flex-direction:column}
  .body .avs-conversation{flex:1;min-height:0;display:flex;flex-direction:column}
  .body .avs-stage{flex:none;min-height:min(34vh,220px)}
  .body .avs-stage canvas,.body .avs-stage video{width:min(100%,34vh)}
  .body .avs-transcript{flex:1 1 0;min-height:4rem;max-height:none}
  .launcher[aria-expanded=true]{display:none}
}
`;

/** Black or white text, whichever reads better on the accent colour. */
function onAccent(color: string): string {
  const match = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(color);
  if (!match) return "#fff";
  const [r, g, b] = match.slice(1).map((part) => {
    const c = parseInt(part, 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  }) as [number, number, number];
  const luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  return luminance > 0.18 ? "#111" : "#fff";
}

async function mount(tag: HTMLScriptElement): Promise<void> {
  const avatar = tag.dataset.avatar;
  if (!avatar) return;
  const api = tag.dataset.api ?? new URL(tag.src).origin;
  // The streaming routes (turns, speech) may live elsewhere than the rest (a Function URL in the cloud).
  const stream = tag.dataset.streamApi ?? api;
  const look: WidgetLook = lookFromDataset(tag.dataset, await fetchLook(api, avatar));
  const texts = textsFor(look.language);
  const host = document.createElement("div");
  host.setAttribute("data-avatar-studio-widget", avatar);
  host.dataset.position = look.position;
  host.dataset.size = look.size;
  host.style.setProperty("--avs-accent", look.color);
  host.style.setProperty("--avs-on-accent", onAccent(look.color));
  const root = host.attachShadow({ mode: "open" });
  const style = document.createElement("style");
  style.textContent = STYLE;
  const launcher = document.createElement("button");
  launcher.type = "button";
  launcher.className = "launcher";
  launcher.textContent = look.launcherText ?? texts.launcher;
  launcher.setAttribute("aria-expanded", "false");
  launcher.setAttribute("aria-controls", "avs-panel");
  const panel = document.createElement("div");
  panel.className = "panel";
  panel.id = "avs-panel";
  panel.hidden = true;
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", texts.dialog);
  panel.lang = look.language;
  const head = document.createElement("div");
  head.className = "head";
  const title = document.createElement("strong");
  title.textContent = texts.title;
  const close = document.createElement("button");
  close.type = "button";
  close.className = "close";
  close.textContent = "×";
  close.setAttribute("aria-label", texts.close);
  head.append(title, close);
  const body = document.createElement("div");
  body.className = "body";
  panel.append(head, body);
  root.append(style, launcher, panel);
  document.body.append(host);

  let loaded = false;
  const focusInside = (): void => {
    const start = body.querySelector<HTMLButtonElement>("button.avs-primary:not(:disabled)");
    (start ?? close).focus();
  };
  const toggle = (open: boolean, focus = true): void => {
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", String(open));
    if (!open) {
      if (focus) launcher.focus();
      return;
    }
    if (loaded) {
      if (focus) focusInside();
      return;
    }
    loaded = true;
    if (focus) close.focus();
    const app = new URL("chunks/widget-app.js", tag.src).href;
    import(app)
      .then((module: typeof import("./app")) => module.openWidget({ root, body, title, api: { api, stream }, avatar, look, texts }))
      .then(() => focus && !panel.hidden && root.activeElement === close && focusInside())
      .catch(() => {
        loaded = false;
        const failed = document.createElement("p");
        failed.className = "refusal";
        failed.setAttribute("role", "alert");
        failed.textContent = texts.loadFailed;
        body.replaceChildren(failed);
      });
  };
  launcher.addEventListener("click", () => toggle(panel.hidden));
  close.addEventListener("click", () => toggle(false));
  // Escape first interrupts a speaking avatar (the conversation stops it there), then closes the widget.
  panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !event.defaultPrevented) {
      event.preventDefault();
      toggle(false);
    }
  });
  if (look.open) toggle(true, false);
}

if (script) {
  if (document.body) void mount(script);
  else document.addEventListener("DOMContentLoaded", () => void mount(script));
}
