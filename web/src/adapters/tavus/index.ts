/**
 * Tavus CVI: the conversation runs in Tavus's own call room (its persona listens and answers), shown in
 * an iframe in the stage. The backend created the conversation and ends it when our session ends.
 */

import type { AdapterContext, AvatarAdapter } from "../../lib/adapter";
import { CloudAdapter, text } from "../cloud/base";

const UNSUPPORTED = "A Tavus avatar holds the conversation in its own call; speak to it there.";

export function conversationUrl(credentials: Record<string, unknown>): string {
  const url = new URL(text(credentials, "conversation_url"));
  if (typeof credentials.meeting_token === "string") url.searchParams.set("t", credentials.meeting_token);
  return url.toString();
}

class TavusAvatar extends CloudAdapter implements AvatarAdapter {
  readonly conversational = true;
  private frame: HTMLIFrameElement | null = null;

  async start(credentials: Record<string, unknown>): Promise<void> {
    const frame = document.createElement("iframe");
    frame.className = "avs-call";
    frame.title = "The avatar's video call";
    frame.allow = "camera; microphone; autoplay; display-capture";
    const loaded = new Promise<void>((resolve, reject) => {
      frame.addEventListener("load", () => resolve(), { once: true });
      frame.addEventListener("error", () => reject(new Error("The Tavus call could not be opened.")), { once: true });
    });
    frame.src = conversationUrl(credentials);
    this.frame = frame;
    this.context.stage.replaceChildren(frame);
    await loaded;
    this.events.emit("ready", undefined);
  }

  speakSentence(): Promise<boolean> {
    return Promise.reject(new Error(UNSUPPORTED));
  }

  speakAudio(): Promise<boolean> {
    return Promise.reject(new Error(UNSUPPORTED));
  }

  interrupt(): void {
    // The call room handles barge-in itself; there is nothing of ours queued.
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.frame?.remove();
    this.frame = null;
    this.streamEnded();
  }
}

export function createTavusAdapter(context: AdapterContext): AvatarAdapter {
  return new TavusAvatar(context);
}
