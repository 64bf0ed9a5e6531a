/**
 * A stand-in for `@daily-co/daily-js` 0.92 `createFrame`, with what the Tavus adapter relies on (index.d.ts): the
 * frame in the parent element, `join` / `leave` / `destroy`, `meetingState()`, `sendAppMessage`, and the
 * `left-meeting` / `error` / `app-message` events. The Tavus replica answers a `conversation.respond` with its
 * `conversation.utterance`, as Tavus's Interactions Protocol describes.
 */

import { record, register } from "./recorder";

type Listener = (event: Record<string, unknown>) => void;

class StubCall {
  private readonly frame: HTMLIFrameElement;
  private readonly listeners = new Map<string, Listener[]>();
  private state = "new";

  constructor(parent: HTMLElement) {
    this.frame = document.createElement("iframe");
    parent.append(this.frame);
  }

  iframe(): HTMLIFrameElement {
    return this.frame;
  }

  on(event: string, callback: Listener): this {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), callback]);
    return this;
  }

  private emit(event: string, detail: Record<string, unknown>): void {
    for (const callback of this.listeners.get(event) ?? []) callback({ action: event, ...detail });
  }

  meetingState(): string {
    return this.state;
  }

  async join({ url, token }: { url: string; token?: string }): Promise<void> {
    record(`daily.join url=${url} token=${token ?? ""}`);
    this.frame.dataset.url = url;
    register({ sdk: "daily", token: url, drop: () => this.drop() });
    this.state = "joined-meeting";
  }

  /** A network failure: Daily reports an error and that the meeting was left. */
  private drop(): void {
    this.state = "error";
    this.emit("error", { errorMsg: "network connection lost" });
    this.emit("left-meeting", {});
  }

  sendAppMessage(data: { event_type: string; properties?: { text?: string } }, to: string): this {
    if (this.state !== "joined-meeting") throw new Error("not joined");
    record(`daily.app-message to=${to} ${data.event_type} ${data.properties?.text ?? ""}`.trimEnd());
    if (data.event_type === "conversation.respond") {
      const speech = `You asked: ${data.properties?.text ?? ""}`;
      setTimeout(() => {
        this.emit("app-message", {
          data: { message_type: "conversation", event_type: "conversation.utterance", properties: { role: "replica", speech } },
        });
      }, 10);
    }
    return this;
  }

  async leave(): Promise<void> {
    record("daily.leave");
    this.state = "left-meeting";
  }

  async destroy(): Promise<void> {
    record("daily.destroy");
    this.frame.remove();
  }
}

const Daily = {
  createFrame(parent: HTMLElement, properties: { showLeaveButton?: boolean }): StubCall {
    record(`daily.createFrame leaveButton=${properties.showLeaveButton}`);
    return new StubCall(parent);
  },
};

export type DailyCall = StubCall;
export default Daily;
