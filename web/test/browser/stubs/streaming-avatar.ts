/** A stand-in for `@heygen/streaming-avatar` 2.1: the members our adapter uses, with HeyGen's event names. */

import { fakeStream, later, record, register } from "./recorder";

export enum StreamingEvents {
  AVATAR_START_TALKING = "avatar_start_talking",
  AVATAR_STOP_TALKING = "avatar_stop_talking",
  STREAM_READY = "stream_ready",
  STREAM_DISCONNECTED = "stream_disconnected",
}

export enum TaskType {
  TALK = "talk",
  REPEAT = "repeat",
}

export enum TaskMode {
  SYNC = "sync",
  ASYNC = "async",
}

interface Task {
  id: string;
  text: string;
}

export default class StreamingAvatar {
  private readonly target = new EventTarget();
  private readonly token: string;
  private queue: Task[] = [];
  private talking: Task | null = null;
  private tasks = 0;
  readonly room = { disconnect: async (): Promise<void> => record("heygen.room.disconnect") };

  async stopAvatar(): Promise<void> {
    record("heygen.stopAvatar");
  }

  constructor({ token, basePath }: { token: string; basePath?: string }) {
    this.token = token;
    record(`heygen.new token=${token} base=${basePath}`);
    register({ sdk: "heygen", token, drop: () => this.emit(StreamingEvents.STREAM_DISCONNECTED, "NETWORK") });
  }

  on(event: string, listener: (event: CustomEvent) => void): this {
    this.target.addEventListener(event, listener as EventListener);
    return this;
  }

  private emit(event: string, detail: unknown): void {
    this.target.dispatchEvent(new CustomEvent(event, { detail }));
  }

  async startAvatar(_request: unknown, info: { session_id: string; url: string; access_token: string }): Promise<unknown> {
    record(`heygen.start session=${info.session_id} url=${info.url}`);
    await later(10);
    this.emit(StreamingEvents.STREAM_READY, fakeStream());
    return info;
  }

  async speak({ text, taskType, taskMode }: { text: string; taskType?: TaskType; taskMode?: TaskMode }): Promise<unknown> {
    const task = { id: `task-${++this.tasks}`, text };
    record(`heygen.speak ${taskType}/${taskMode} ${text}`);
    this.queue.push(task);
    if (!this.talking) void this.talk();
    return { task_id: task.id, duration_ms: globalThis.stubSdk.sentenceMs };
  }

  private async talk(): Promise<void> {
    const task = this.queue.shift();
    this.talking = task ?? null;
    if (!task) return;
    this.emit(StreamingEvents.AVATAR_START_TALKING, { task_id: task.id });
    await later(globalThis.stubSdk.sentenceMs);
    if (this.talking !== task) return;
    record(`heygen.spoken ${task.text}`);
    this.emit(StreamingEvents.AVATAR_STOP_TALKING, { task_id: task.id });
    void this.talk();
  }

  async interrupt(): Promise<void> {
    record("heygen.interrupt");
    const task = this.talking;
    this.queue = [];
    this.talking = null;
    if (task) this.emit(StreamingEvents.AVATAR_STOP_TALKING, { task_id: task.id });
  }
}
