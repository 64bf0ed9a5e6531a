/** The conversation UI shared by the studio and the widget: stage, status, transcript, inputs. */

import { ApiClient, STT_MESSAGE, humanMessage } from "./api";
import { ConversationController, type Latency } from "./controller";
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
  endOfSpeechMs: number;
  /** The visitor-facing texts; English by default. */
  texts?: Texts;
  /** Show each answer's timings (retrieval, first sentence, first audio): for the owner, not visitors. */
  showLatency?: boolean;
  /** Called with each conversation's controller once it exists (the widget's contact form follows it). */
  onController?: (controller: ConversationController) => void;
}

const PORTRAIT_PIXELS = 400;
// How near its end the transcript counts as showing it (a fraction of a line: rounding, not reading).
const END_SLACK_PX = 8;

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
  const heading = source.heading_path.join(" › ");
  return `[${source.index}] ${source.title}${heading ? ` — ${heading}` : ""}`;
}

/** The elements of one conversation's UI. */
interface View {
  container: HTMLElement;
  stage: HTMLElement;
  state: HTMLElement;
  duration: HTMLElement;
  latency: HTMLElement | null;
  notice: HTMLElement;
  transcript: HTMLElement;
  input: HTMLInputElement;
  send: HTMLButtonElement;
  form: HTMLFormElement;
  startButton: HTMLButtonElement;
  talk: HTMLButtonElement;
  handsFree: HTMLButtonElement;
  stopSpeaking: HTMLButtonElement;
  endButton: HTMLButtonElement;
  voiceNote: HTMLElement;
}

function buildView(options: ConversationOptions, texts: Texts): View {
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
  return {
    container,
    stage,
    state,
    duration,
    latency,
    notice,
    transcript,
    input,
    send,
    form,
    startButton,
    talk,
    handsFree,
    stopSpeaking,
    endButton,
    voiceNote,
  };
}

/** The character at rest, so the stage is never an empty box; its drawing code is loaded on demand. */
function showPortrait(stage: HTMLElement, options: ConversationOptions): void {
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

/** The notice line: an error's message (until the next question), or a standing one about the avatar itself. */
class Notice {
  /** Set while the message is about the avatar itself (a dropped stream), which stays until it is cleared. */
  standing = false;

  constructor(private readonly element: HTMLElement) {}

  show(message: string, action?: { label: string; run: () => void }): void {
    this.element.replaceChildren(message);
    if (action) {
      this.element.append(" ", h("button", { type: "button", onclick: () => action.run() }, action.label));
    }
    this.element.hidden = false;
  }

  hide(): void {
    this.element.hidden = true;
  }

  /** A new question was taken: an earlier error's message has done its job. */
  questionTaken(): void {
    if (!this.standing) this.hide();
  }
}

/**
 * The transcript's lines; an answer's line is found again by its turn. While its end is in view, it stays
 * in view as an answer grows and its sources arrive; scrolled up to read, it is left where it is.
 */
class TranscriptLines {
  private readonly answers = new Map<string, { text: HTMLElement; item: HTMLElement }>();
  private atEnd = true;

  constructor(
    private readonly list: HTMLElement,
    private readonly avatarName: string,
  ) {
    list.addEventListener(
      "scroll",
      () => {
        this.atEnd = list.scrollHeight - list.scrollTop - list.clientHeight < END_SLACK_PX;
      },
      { passive: true },
    );
    new MutationObserver(() => {
      if (this.atEnd) list.scrollTop = list.scrollHeight;
    }).observe(list, { childList: true, subtree: true, characterData: true });
  }

  clear(): void {
    this.list.replaceChildren();
    this.answers.clear();
  }

  line(kind: "user" | "avatar", who: string, text: string): { item: HTMLElement; text: HTMLElement } {
    const body = h("span", { class: "avs-text" }, text);
    const item = h("li", { class: `avs-${kind}` }, h("span", { class: "avs-who" }, `${who}:`), " ", body);
    this.list.append(item);
    item.scrollIntoView?.({ block: "nearest" });
    return { item, text: body };
  }

  answer(turnId: string): { text: HTMLElement; item: HTMLElement } {
    let entry = this.answers.get(turnId);
    if (!entry) {
      entry = this.line("avatar", this.avatarName, "");
      entry.item.dataset.turn = turnId;
      this.answers.set(turnId, entry);
    }
    return entry;
  }
}

/** No transcription for this avatar: the voice buttons say why instead of failing when pressed. */
function showVoiceInput(view: View, unavailable: string | null): void {
  for (const control of [view.talk, view.handsFree]) {
    if (unavailable === null) {
      control.removeAttribute("title");
      control.removeAttribute("aria-description");
    } else {
      control.disabled = true;
      control.title = unavailable;
      control.setAttribute("aria-description", unavailable);
    }
  }
  view.voiceNote.textContent = unavailable ?? "";
  view.voiceNote.hidden = unavailable === null;
}

function setRunning(view: View, running: boolean): void {
  for (const control of [view.input, view.send, view.talk, view.handsFree, view.stopSpeaking, view.endButton]) {
    control.disabled = !running;
  }
  view.startButton.disabled = running;
}

/** The focused element, also inside a shadow root (the widget), where document.activeElement is the host. */
function hasFocus(container: HTMLElement): boolean {
  const root = container.getRootNode();
  return container.contains(document.activeElement) || (root instanceof ShadowRoot && container.contains(root.activeElement));
}

/** What one conversation needs of the mounted UI, while it runs and when it ends. */
interface Mounted {
  view: View;
  texts: Texts;
  options: ConversationOptions;
  notice: Notice;
  lines: TranscriptLines;
  voice: VoiceInput;
}

/** Shows what the controller says: status, transcript, sources, answers, timings, notices, the end. */
function showConversation(conversation: ConversationController, mounted: Mounted, ended: () => void): void {
  const { view, texts, options, notice, lines } = mounted;
  conversation.on("status", (value) => {
    view.state.textContent = texts.status[value];
    view.container.dataset.status = value;
  });
  conversation.on("greeting", (text) => lines.line("avatar", options.avatarName, text));
  conversation.on("user", ({ text }) => {
    notice.questionTaken();
    lines.line("user", texts.you, text);
  });
  conversation.on("sentence", ({ turnId, text }) => {
    const entry = lines.answer(turnId);
    entry.text.textContent = `${entry.text.textContent ?? ""} ${text}`.trim();
  });
  conversation.on("sources", ({ turnId, sources }) => {
    if (sources.length === 0) return;
    const list = h("ul", { class: "avs-sources", "aria-label": texts.sources });
    for (const source of sources) list.append(h("li", { "data-document": source.document_id }, sourceLabel(source)));
    lines.answer(turnId).item.append(list);
  });
  conversation.on("answer", ({ turnId, reply, interrupted, heard, messageId }) => {
    const entry = lines.answer(turnId);
    entry.text.textContent = interrupted ? heard : reply;
    if (messageId && !interrupted) entry.item.append(feedbackControls(options.api, messageId));
    if (interrupted) {
      entry.item.dataset.interrupted = "true";
      entry.item.append(" ", h("span", { class: "avs-interrupted" }, texts.interrupted));
    }
  });
  conversation.on("latency", ({ latency }) => view.latency && (view.latency.textContent = formatLatency(latency)));
  conversation.on("error", (error) => {
    if ("code" in error && error.code === "autoplay_blocked") {
      notice.show(texts.soundBlocked, {
        label: texts.startSound,
        run: () => void conversation.resumeAudio().then((ok) => ok && notice.hide()),
      });
    } else notice.show(humanMessage(error));
  });
  conversation.on("notice", (message) => {
    notice.standing = message !== null;
    if (message) notice.show(message);
    else notice.hide();
  });
  conversation.on("ended", () => {
    // Focus was on a control that is now disabled: Start is where the visitor goes next.
    const hadFocus = hasFocus(view.container);
    setRunning(view, false);
    showPortrait(view.stage, options);
    mounted.voice.close();
    view.handsFree.setAttribute("aria-pressed", "false");
    ended();
    if (hadFocus) view.startButton.focus();
  });
}

/** A new conversation from the Start button: a clean transcript, then the session; the clock once it runs. */
function startConversation(mounted: Mounted): ConversationController {
  const { view, texts, options, notice, lines } = mounted;
  notice.hide();
  lines.clear();
  if (view.latency) view.latency.textContent = "";
  const conversation = new ConversationController({
    api: options.api,
    avatarId: options.avatarId,
    stage: view.stage,
    appearance: options.appearance,
    greeting: options.greeting,
    pageEvents: window,
    sessionFields: options.sessionFields,
  });
  let clock: ReturnType<typeof setInterval> | null = null;
  showConversation(conversation, mounted, () => clock !== null && clearInterval(clock));
  options.onController?.(conversation);
  view.startButton.disabled = true;
  void conversation.start().then(() => {
    if (conversation.status === "ended") {
      // It never started: no "ended 0:00" for a conversation that did not happen.
      view.state.textContent = texts.status.idle;
      view.container.dataset.status = "idle";
      view.startButton.disabled = false;
      view.startButton.focus();
      return;
    }
    setRunning(view, true);
    // A provider that listens by itself (LiveAvatar FULL, Tavus) takes the microphone; ours stays off.
    if (conversation.conversational) for (const control of [view.talk, view.handsFree]) control.disabled = true;
    else showVoiceInput(view, conversation.voiceInput.available ? null : (conversation.voiceInput.reason ?? STT_MESSAGE));
    view.input.focus();
    clock = setInterval(() => (view.duration.textContent = formatDuration(conversation.durationSeconds())), 1000);
  });
  return conversation;
}

/** Hold-to-talk (pointer, Space or Enter) and the hands-free toggle. */
function wireVoiceControls(mounted: Mounted, current: () => ConversationController | null): void {
  const { view, notice, voice } = mounted;
  const { talk, handsFree } = view;
  const voiceError = (error: unknown): void => {
    if (!(error instanceof VoiceClosedError)) notice.show(humanMessage(error));
  };
  const pressTalk = (): void => {
    if (talk.dataset.recording === "true") return;
    talk.dataset.recording = "true";
    current()?.interrupt();
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
}

/** Typed questions, Stop (the button or Escape while the avatar answers) and End. */
function wireControls(view: View, current: () => ConversationController | null): void {
  view.form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = view.input.value.trim();
    const conversation = current();
    if (!text || !conversation) return;
    view.input.value = "";
    void conversation.ask(text);
  });
  view.stopSpeaking.addEventListener("click", () => current()?.interrupt());
  // Escape stops the avatar mid-answer; when it is not answering, Escape is left to the page (the widget closes).
  view.container.addEventListener("keydown", (event) => {
    const status = current()?.status;
    if (event.key !== "Escape" || (status !== "speaking" && status !== "thinking")) return;
    event.preventDefault();
    current()?.interrupt();
  });
  view.endButton.addEventListener("click", () => void current()?.end());
}

/** Mounts the conversation UI in `root`; returns what unmounts it (ending a conversation that runs). */
export function mountConversation(root: HTMLElement | ShadowRoot, options: ConversationOptions): () => void {
  const texts = options.texts ?? textsFor("en");
  const view = buildView(options, texts);
  root.append(view.container);
  showPortrait(view.stage, options);
  let controller: ConversationController | null = null;
  const current = (): ConversationController | null => controller;
  const voice = new VoiceInput(
    {
      utterance: (audio) => void controller?.askAudio(audio),
      speechStart: () => controller?.interrupt(),
      pause: (audio) => controller?.transcribeAhead(audio),
    },
    { endOfSpeechMs: options.endOfSpeechMs },
  );
  const mounted: Mounted = {
    view,
    texts,
    options,
    notice: new Notice(view.notice),
    lines: new TranscriptLines(view.transcript, options.avatarName),
    voice,
  };
  view.startButton.addEventListener("click", () => (controller = startConversation(mounted)));
  wireControls(view, current);
  wireVoiceControls(mounted, current);
  return () => {
    void controller?.end();
    voice.close();
    view.container.remove();
  };
}
