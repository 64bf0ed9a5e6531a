/**
 * HeyGen Interactive Avatar through `@heygen/streaming-avatar`. The backend created the session
 * (`streaming.new`) and keeps it alive; here we join its LiveKit room and have the avatar repeat each
 * sentence of our answer, sent as soon as it arrives so HeyGen queues it behind the one being spoken.
 */

import StreamingAvatar, { StreamingEvents, TaskMode, TaskType } from "@heygen/streaming-avatar";
import type { AdapterContext, AvatarAdapter } from "../../lib/adapter";
import { CloudAdapter, text } from "../cloud/base";
import { SpeechLine, sleep, whenAborted, type Delivery } from "../cloud/speech-line";

/** HeyGen answers a speak task with its expected duration; a stop event later than this much past it is not awaited. */
const STOP_EVENT_GRACE_MS = 3_000;
const SENTENCES_AHEAD = 3;

interface TalkingEvent {
  task_id?: string;
}

interface Pending {
  taskId: string | null;
  delivery: Delivery;
  done(): void;
}

class HeyGenAvatar extends CloudAdapter implements AvatarAdapter {
  private sdk: StreamingAvatar | null = null;
  private serverSpeech = false;
  private pending: Pending[] = [];
  private readonly line = new SpeechLine<string>(
    {
      prepare: async (sentence) => sentence,
      deliver: (sentence, delivery) => this.say(sentence, delivery),
      halt: () => this.halt(),
    },
    this.events,
    SENTENCES_AHEAD,
  );

  async start(credentials: Record<string, unknown>): Promise<void> {
    const sdk = new StreamingAvatar({ token: text(credentials, "token"), basePath: text(credentials, "api_base") });
    this.sdk = sdk;
    this.serverSpeech = credentials.server_speech === true;
    const video = this.video("The avatar's video");
    sdk.on(StreamingEvents.STREAM_READY, (event: CustomEvent<MediaStream>) => {
      video.srcObject = event.detail;
    });
    sdk.on(StreamingEvents.STREAM_DISCONNECTED, () => this.streamEnded());
    sdk.on(StreamingEvents.AVATAR_START_TALKING, (event: CustomEvent<TalkingEvent>) =>
      this.find(event.detail)?.delivery.started(),
    );
    sdk.on(StreamingEvents.AVATAR_STOP_TALKING, (event: CustomEvent<TalkingEvent>) => this.find(event.detail)?.done());
    await sdk.startAvatar(
      { avatarName: "" },
      {
        session_id: text(credentials, "session_id"),
        url: text(credentials, "url"),
        access_token: text(credentials, "access_token"),
        is_paid: true,
        session_duration_limit: Number(credentials.session_duration_limit) || 0,
      },
    );
  }

  /** The pending sentence an avatar event is about: by task id when HeyGen names it, else the oldest. */
  private find(event: TalkingEvent | null | undefined): Pending | undefined {
    const byTask = event?.task_id ? this.pending.find((item) => item.taskId === event.task_id) : undefined;
    return byTask ?? this.pending[0];
  }

  private async say(sentence: string, delivery: Delivery): Promise<void> {
    const sdk = this.sdk;
    if (!sdk) return;
    let done!: () => void;
    const spoken = new Promise<void>((resolve) => (done = resolve));
    const pending: Pending = { taskId: null, delivery, done };
    this.pending.push(pending);
    try {
      // With server speech the backend sends each sentence to HeyGen itself; we follow the avatar's events.
      if (!this.serverSpeech) {
        const task = (await sdk.speak({ text: sentence, taskType: TaskType.REPEAT, taskMode: TaskMode.ASYNC })) as
          | { task_id?: string; duration_ms?: number }
          | undefined;
        pending.taskId = task?.task_id ?? null;
        if (task?.duration_ms) {
          void sleep(task.duration_ms + STOP_EVENT_GRACE_MS, delivery.signal).then(done);
        }
      }
      await Promise.race([spoken, whenAborted(delivery.signal)]);
    } finally {
      this.pending = this.pending.filter((item) => item !== pending);
    }
  }

  private halt(): void {
    this.pending = [];
    this.sdk?.interrupt().catch((error: unknown) => this.events.emit("error", this.asError(error, "interrupt failed")));
  }

  speakSentence(sentence: string): Promise<boolean> {
    return this.line.speak(sentence);
  }

  interrupt(): void {
    this.line.interrupt();
  }

  /**
   * `stopAvatar()` closes the SDK's chat WebSocket and connection-quality timer, which leaving the room alone
   * leaks (SDK 2.1.0 lib/index.esm.js), and asks HeyGen to stop; the backend stops it too when our session ends,
   * and takes HeyGen's "Session does not exist" for the stop it is. Then we leave the room.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    this.line.interrupt();
    try {
      await this.sdk?.stopAvatar();
    } catch {
      // Already stopped at HeyGen (by the backend, or a drop): nothing is left to close.
    }
    await this.sdk?.room?.disconnect();
    this.streamEnded();
  }
}

export function createHeyGenAdapter(context: AdapterContext): AvatarAdapter {
  return new HeyGenAvatar(context);
}
