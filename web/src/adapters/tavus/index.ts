/**
 * Tavus CVI: the conversation runs in Tavus's own Daily call room (its persona listens and answers), joined with
 * Daily's `@daily-co/daily-js` (`createFrame`) in the stage. The backend created the conversation and ends it
 * when our session ends.
 *
 * A bare iframe never says the call dropped; Daily's frame emits `left-meeting` and `error` (docs.daily.co,
 * daily-js events), which reach our fallback. Typed questions go to the persona through Tavus's Interactions
 * Protocol as `conversation.respond` app-messages, and its `conversation.utterance` events fill the transcript
 * (docs.tavus.io/sections/event-schemas/conversation-respond, …/conversation-utterance).
 */

import Daily, { type DailyCall } from "@daily-co/daily-js";
import type { AdapterContext, AvatarAdapter } from "../../lib/adapter";
import { CloudAdapter, text } from "../cloud/base";

const UNSUPPORTED = "A Tavus avatar holds the conversation in its own call; speak to it there.";

interface TavusEvent {
  message_type?: string;
  event_type?: string;
  properties?: { role?: string; speech?: string };
}

class TavusAvatar extends CloudAdapter implements AvatarAdapter {
  readonly conversational = true;
  private call: DailyCall | null = null;
  private conversationId = "";

  async start(credentials: Record<string, unknown>): Promise<void> {
    this.conversationId = text(credentials, "conversation_id");
    const url = text(credentials, "conversation_url");
    this.context.stage.replaceChildren();
    const call = Daily.createFrame(this.context.stage, {
      showLeaveButton: false,
      iframeStyle: { width: "100%", height: "100%", border: "0" },
    });
    this.call = call;
    const frame = call.iframe();
    if (frame) {
      frame.className = "avs-call";
      frame.title = "The avatar's video call";
    }
    call.on("left-meeting", () => this.streamEnded());
    call.on("error", (event) => {
      this.events.emit("error", this.asError(event?.errorMsg, "The Tavus call failed."));
      this.streamEnded();
    });
    call.on("app-message", (event) => this.heard((event?.data ?? {}) as TavusEvent));
    const token = typeof credentials.meeting_token === "string" ? credentials.meeting_token : undefined;
    await call.join(token ? { url, token } : { url });
  }

  private heard(event: TavusEvent): void {
    if (event.event_type === "conversation.replica.started_speaking") this.events.emit("speaking", undefined);
    else if (event.event_type === "conversation.replica.stopped_speaking") this.events.emit("idle", undefined);
    else if (event.event_type === "conversation.utterance" && event.properties?.speech) {
      const role = event.properties.role === "user" ? "user" : "avatar";
      this.events.emit("transcript", { role, text: event.properties.speech });
    }
  }

  /** Sends a Tavus interaction to the persona; after a drop there is no call to send it to, and nothing throws. */
  private interact(eventType: string, properties?: Record<string, unknown>): void {
    const call = this.call;
    if (!call || call.meetingState() !== "joined-meeting") return;
    try {
      call.sendAppMessage(
        { message_type: "conversation", event_type: eventType, conversation_id: this.conversationId, properties },
        "*",
      );
    } catch (error) {
      this.events.emit("error", this.asError(error, "The Tavus call did not take the message."));
    }
  }

  sendText(question: string): void {
    this.interact("conversation.respond", { text: question });
  }

  speakSentence(): Promise<boolean> {
    return Promise.reject(new Error(UNSUPPORTED));
  }

  interrupt(): void {
    this.interact("conversation.interrupt");
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const call = this.call;
    this.call = null;
    try {
      await call?.leave();
    } finally {
      await call?.destroy();
      this.streamEnded();
    }
  }
}

export function createTavusAdapter(context: AdapterContext): AvatarAdapter {
  return new TavusAvatar(context);
}
