/** The conversation UI shared by the studio and the widget: stage, status, transcript, inputs. */

import { ApiClient, STT_MESSAGE, humanMessage } from "./api";
import { ConversationController, type ConversationStatus, type Latency } from "./controller";
import { h } from "./dom";
import { feedbackControls } from "./feedback";
import { textsFor, type Texts } from "./strings";
import type { Source } from "./turns";
import { VoiceClosedError, VoiceInput } from "./voice";

export interface ConversationOptions {
  api: ApiClient;
  avatarId: string;
  avatarName: string;
  greeting?: string;
  /** Sent with the session start (see `ControllerOptions.sessionFields`). */
  sessionFields?: { visitor_key?: string; page_url?: string };
  /** The avatar's look (`{look, theme}`): drawn in the stage before and after the conversation. */
  appearance?: unknown;
  /** The avatar's end-of-speech wait: how long silence ends an utterance in hands-free voice input. */
  endOfSpeechMs?: number;
  /** The visitor-facing texts; English by default. */
  texts?: Texts;
  /** Show each answer's timings (retrieval, first sentence, first audio): for the owner, not visitors. */
  showLatency?: boolean;
}

const PORTRAIT_PIXELS = 400;

function formatDuration(seconds: number): string {
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
}

export function formatLatency(latency: Latency): string {
  const parts: [string, number | null][] = [
    ["retrieval", latency.retrievalMs],
    ["first sentence", latency.firstSentenceMs],
    ["first audio", latency.firstAudioMs],
  ];
  return parts
    .filter(([, ms]) => ms !== null)
    .map(([name, ms]) => `${name} ${Math.round(ms ?? 0)} ms`)
    .join(" · ");
}

function sourceLabel(source: Source): string {
  const heading = Array.isArray(source.heading_path) ? source.heading_path.join(" › ") : source.heading_path;
  return `[${source.index}] ${source.title}${heading ? ` — ${heading}` : ""}`;
}

export function mountConversation(root: HTMLElement | ShadowRoot, options: ConversationOptions): () => void {
  const texts = options.texts ?? textsFor("en");
  const stage = h("div", { class: "avs-stage", role: "group", "aria-label": texts.stage(options.avatarName) });
  // Only the state is announced: a clock ticking every second inside a live region would drown it out.
  const state = h("span", { "data-part": "state", role: "status" }, texts.status.idle);
  const duration = h("span", { "data-part": "duration" }, "0:00");
  const status = h(
    "div",
    { class: "avs-status" },
    state,
    h("span", {}, h("span", { class: "avs-sr" }, `${texts.duration} `), duration),
  );
  const latency = options.showLatency ? h("span", { "data-part": "latency", title: "Timings of the last answer" }) : null;
  if (latency) status.append(latency);
  const notice = h("div", { class: "avs-notice", role: "alert", hidden: true });
  // Focusable, so a keyboard can scroll a long transcript.
  const transcript = h("ol", {
    class: "avs-transcript",
    "aria-live": "polite",
    "aria-label": texts.transcript,
    tabindex: 0,
  });
  const input = h("input", {
    type: "text",
    name: "question",
    autocomplete: "off",
    placeholder: texts.placeholder,
    "aria-label": texts.question,
    disabled: true,
  });
  const send = h("button", { type: "submit", class: "avs-primary", disabled: true }, texts.send);
  const form = h("form", { class: "avs-ask", "aria-label": texts.ask }, input, send);
  const startButton = h("button", { type: "button", class: "avs-primary" }, texts.start);
  const talk = h("button", { type: "button", disabled: true, "aria-label": texts.holdToTalk }, texts.holdToTalk);
  const handsFree = h(
    "button",
    { type: "button", disabled: true, "aria-pressed": "false", "aria-label": texts.handsFreeLabel },
    texts.handsFree,
  );
  const stopSpeaking = h("button", { type: "button", disabled: true, "aria-label": texts.interruptLabel }, texts.interrupt);
  const endButton = h("button", { type: "button", disabled: true, "aria-label": texts.endLabel }, texts.end);
  const voiceNote = h("p", { class: "avs-voice-note", "data-part": "voice-note", hidden: true });
  const controls = h(
    "div",
    { class: "avs-controls" },
    startButton,
    talk,
    handsFree,
    stopSpeaking,
    endButton,
    voiceNote,
  );
  const container = h("section", { class: "avs-conversation", "aria-label": texts.conversationWith(options.avatarName) });
  container.append(stage, status, notice, transcript, form, controls);
  root.append(container);
  showPortrait();

  /** The character at rest, so the stage is never an empty box; its drawing code is loaded on demand. */
  function showPortrait(): void {
    const canvas = h("canvas", {
      width: PORTRAIT_PIXELS,
      height: PORTRAIT_PIXELS,
      class: "avs-face avs-portrait",
      role: "img",
      "aria-label": `${options.avatarName}, ready to talk`,
    });
    stage.replaceChildren(canvas);
    void import("../adapters/local/portrait").then(({ appearanceOf, drawPortrait, REST_POSE }) => {
      const context = canvas.getContext("2d");
      const appearance = appearanceOf(options.appearance);
      if (context) drawPortrait(context, canvas.width, canvas.height, appearance, REST_POSE);
      canvas.dataset.look = appearance.look;
    });
  }

  let controller: ConversationController | null = null;
  /** The notice is about the avatar itself (a dropped stream) and stays until the controller clears it. */
  let standing = false;
  let clock: ReturnType<typeof setInterval> | null = null;
  const answers = new Map<string, { text: HTMLElement; item: HTMLElement }>();
  const voice = new VoiceInput(
    {
      utterance: (audio) => void controller?.askAudio(audio),
      speechStart: () => controller?.interrupt(),
    },
    { endOfSpeechMs: options.endOfSpeechMs },
  );

  /** The focused element, also inside a shadow root (the widget), where document.activeElement is the host. */
  function activeInRoot(): Element | null {
    return container.getRootNode() instanceof ShadowRoot ? (container.getRootNode() as ShadowRoot).activeElement : null;
  }

  function showNotice(message: string, action?: { label: string; run: () => void }): void {
    notice.replaceChildren(message);
    if (action) {
      notice.append(" ", h("button", { type: "button", onclick: () => action.run() }, action.label));
    }
    notice.hidden = false;
  }

  function line(kind: "user" | "avatar", who: string, text: string): { item: HTMLElement; text: HTMLElement } {
    const body = h("span", { class: "avs-text" }, text);
    const item = h("li", { class: `avs-${kind}` }, h("span", { class: "avs-who" }, `${who}:`), " ", body);
    transcript.append(item);
    item.scrollIntoView?.({ block: "nearest" });
    return { item, text: body };
  }

  function answer(turnId: string): { text: HTMLElement; item: HTMLElement } {
    let entry = answers.get(turnId);
    if (!entry) {
      entry = line("avatar", options.avatarName, "");
      entry.item.dataset.turn = turnId;
      answers.set(turnId, entry);
    }
    return entry;
  }

  /** No transcription for this avatar: the voice buttons say why instead of failing when pressed. */
  function showVoiceInput(unavailable: string | null): void {
    for (const control of [talk, handsFree]) {
      if (unavailable === null) {
        control.removeAttribute("title");
        control.removeAttribute("aria-description");
      } else {
        control.disabled = true;
        control.title = unavailable;
        control.setAttribute("aria-description", unavailable);
      }
    }
    voiceNote.textContent = unavailable ?? "";
    voiceNote.hidden = unavailable === null;
  }

  function setRunning(running: boolean): void {
    for (const control of [input, send, talk, handsFree, stopSpeaking, endButton]) control.disabled = !running;
    startButton.disabled = running;
  }

  function wire(conversation: ConversationController): void {
    conversation.on("status", (value) => {
      state.textContent = texts.status[value];
      container.dataset.status = value;
    });
    conversation.on("greeting", (text) => line("avatar", options.avatarName, text));
    conversation.on("user", ({ text }) => {
      // A new question was taken: an earlier error's message has done its job.
      if (!standing) notice.hidden = true;
      line("user", texts.you, text);
    });
    conversation.on("sentence", ({ turnId, text }) => {
      const entry = answer(turnId);
      entry.text.textContent = `${entry.text.textContent ?? ""} ${text}`.trim();
    });
    conversation.on("sources", ({ turnId, sources }) => {
      if (sources.length === 0) return;
      const list = h("ul", { class: "avs-sources", "aria-label": texts.sources });
      for (const source of sources) list.append(h("li", { "data-document": source.document_id }, sourceLabel(source)));
      answer(turnId).item.append(list);
    });
    conversation.on("answer", ({ turnId, reply, interrupted, heard, messageId }) => {
      const entry = answer(turnId);
      entry.text.textContent = interrupted ? heard : reply;
      if (messageId && !interrupted) entry.item.append(feedbackControls(options.api, messageId));
      if (interrupted) {
        entry.item.dataset.interrupted = "true";
        entry.item.append(" ", h("span", { class: "avs-interrupted" }, texts.interrupted));
      }
    });
    conversation.on("latency", ({ latency: value }) => latency && (latency.textContent = formatLatency(value)));
    conversation.on("error", (error) => {
      if ("code" in error && error.code === "autoplay_blocked") {
        showNotice(texts.soundBlocked, {
          label: texts.startSound,
          run: () => void conversation.resumeAudio().then((ok) => ok && (notice.hidden = true)),
        });
      } else showNotice(humanMessage(error));
    });
    conversation.on("notice", (message) => {
      standing = message !== null;
      if (message) showNotice(message);
      else notice.hidden = true;
    });
    conversation.on("ended", () => {
      // Focus was on a control that is now disabled: Start is where the visitor goes next.
      const hadFocus = container.contains(document.activeElement) || container.contains(activeInRoot());
      setRunning(false);
      showPortrait();
      voice.close();
      handsFree.setAttribute("aria-pressed", "false");
      if (clock) clearInterval(clock);
      if (hadFocus) startButton.focus();
    });
  }

  startButton.addEventListener("click", () => {
    notice.hidden = true;
    transcript.replaceChildren();
    answers.clear();
    if (latency) latency.textContent = "";
    controller = new ConversationController({
      api: options.api,
      avatarId: options.avatarId,
      stage,
      appearance: options.appearance,
      greeting: options.greeting,
      pageEvents: window,
      sessionFields: options.sessionFields,
    });
    wire(controller);
    const current = controller;
    startButton.disabled = true;
    void current.start().then(() => {
      if (current.status === "ended") {
        // It never started: no "ended 0:00" for a conversation that did not happen.
        state.textContent = texts.status.idle;
        container.dataset.status = "idle";
        startButton.disabled = false;
        startButton.focus();
        return;
      }
      setRunning(true);
      // A provider that listens by itself (LiveAvatar FULL, Tavus) takes the microphone; ours stays off.
      if (current.conversational) for (const control of [talk, handsFree]) control.disabled = true;
      else showVoiceInput(current.voiceInput.available ? null : (current.voiceInput.reason ?? STT_MESSAGE));
      input.focus();
      clock = setInterval(() => (duration.textContent = formatDuration(current.durationSeconds())), 1000);
    });
  });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text || !controller) return;
    input.value = "";
    void controller.ask(text);
  });

  const voiceError = (error: unknown): void => {
    if (!(error instanceof VoiceClosedError)) showNotice(humanMessage(error));
  };
  const pressTalk = (): void => {
    if (talk.dataset.recording === "true") return;
    talk.dataset.recording = "true";
    controller?.interrupt();
    voice.startRecording().catch(voiceError);
  };
  const releaseTalk = (): void => {
    if (talk.dataset.recording !== "true") return;
    talk.dataset.recording = "false";
    void voice.stopRecording();
  };
  talk.addEventListener("pointerdown", pressTalk);
  talk.addEventListener("pointerup", releaseTalk);
  talk.addEventListener("pointerleave", releaseTalk);
  talk.addEventListener("keydown", (event) => {
    if ((event.key === " " || event.key === "Enter") && !event.repeat) {
      event.preventDefault();
      pressTalk();
    }
  });
  talk.addEventListener("keyup", (event) => {
    if (event.key === " " || event.key === "Enter") releaseTalk();
  });

  handsFree.addEventListener("click", () => {
    if (voice.handsFree) {
      voice.stopHandsFree();
      handsFree.setAttribute("aria-pressed", "false");
    } else {
      voice.startHandsFree().then(() => handsFree.setAttribute("aria-pressed", "true"), voiceError);
    }
  });
  stopSpeaking.addEventListener("click", () => controller?.interrupt());
  // Escape stops the avatar mid-answer; when it is not answering, Escape is left to the page (the widget closes).
  container.addEventListener("keydown", (event) => {
    const status = controller?.status;
    if (event.key !== "Escape" || (status !== "speaking" && status !== "thinking")) return;
    event.preventDefault();
    controller?.interrupt();
  });
  endButton.addEventListener("click", () => void controller?.end());

  return () => {
    void controller?.end();
    voice.close();
    container.remove();
  };
}
