/**
 * widget.js: the one tag a site adds. It draws a launcher in a shadow root and, only when a visitor
 * opens it, imports the conversation code (and through it the avatar adapter) next to its own URL.
 */

const script =
  (document.currentScript as HTMLScriptElement | null) ??
  document.querySelector<HTMLScriptElement>("script[data-avatar][src*='widget.js']");

const STYLE = `
:host{all:initial}
.launcher{position:fixed;right:20px;bottom:20px;z-index:2147483000;font:600 15px system-ui,sans-serif;
  background:#2563eb;color:#fff;border:0;border-radius:999px;padding:.8rem 1.2rem;cursor:pointer;
  box-shadow:0 6px 20px rgba(0,0,0,.25)}
.launcher:focus-visible,.close:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}
.panel{position:fixed;right:20px;bottom:84px;z-index:2147483000;width:min(380px,calc(100vw - 40px));
  max-height:calc(100vh - 110px);overflow:auto;background:#fff;border-radius:14px;padding:.8rem;
  box-shadow:0 12px 40px rgba(0,0,0,.3);font:15px/1.45 system-ui,sans-serif;color:#1d232b}
.panel[hidden]{display:none}
.head{display:flex;justify-content:space-between;align-items:center;margin-bottom:.4rem}
.close{border:0;background:none;font-size:1.4rem;cursor:pointer;line-height:1}
.refusal{background:#fdecec;border:1px solid #e58b8b;border-radius:8px;padding:.6rem}
`;

function mount(tag: HTMLScriptElement): void {
  const avatar = tag.dataset.avatar;
  if (!avatar) return;
  const api = tag.dataset.api ?? new URL(tag.src).origin;
  // The streaming routes (turns, speech) may live elsewhere than the rest (a Function URL in the cloud).
  const stream = tag.dataset.streamApi ?? api;
  const host = document.createElement("div");
  host.setAttribute("data-avatar-studio-widget", avatar);
  const root = host.attachShadow({ mode: "open" });
  const style = document.createElement("style");
  style.textContent = STYLE;
  const launcher = document.createElement("button");
  launcher.type = "button";
  launcher.className = "launcher";
  launcher.textContent = "Talk to our avatar";
  launcher.setAttribute("aria-expanded", "false");
  launcher.setAttribute("aria-controls", "avs-panel");
  const panel = document.createElement("div");
  panel.className = "panel";
  panel.id = "avs-panel";
  panel.hidden = true;
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", "Avatar conversation");
  const head = document.createElement("div");
  head.className = "head";
  const title = document.createElement("strong");
  title.textContent = "Ask our avatar";
  const close = document.createElement("button");
  close.type = "button";
  close.className = "close";
  close.textContent = "×";
  close.setAttribute("aria-label", "Close the avatar conversation");
  head.append(title, close);
  const body = document.createElement("div");
  panel.append(head, body);
  root.append(style, launcher, panel);
  document.body.append(host);

  let loaded = false;
  const toggle = (open: boolean): void => {
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", String(open));
    if (open && !loaded) {
      loaded = true;
      const app = new URL("chunks/widget-app.js", tag.src).href;
      import(app)
        .then((module: typeof import("./app")) => module.openWidget({ root, body, title, api: { api, stream }, avatar }))
        .catch(() => {
          loaded = false;
          body.textContent = "The avatar could not be loaded. Check your connection and try again.";
        });
    }
  };
  launcher.addEventListener("click", () => toggle(panel.hidden));
  close.addEventListener("click", () => {
    toggle(false);
    launcher.focus();
  });
}

if (script) {
  if (document.body) mount(script);
  else document.addEventListener("DOMContentLoaded", () => mount(script));
}
