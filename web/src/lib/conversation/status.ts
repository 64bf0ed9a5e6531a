/** The conversation's status as a state machine: the one place that says which change may follow which. */

export type ConversationStatus = "idle" | "connecting" | "listening" | "thinking" | "speaking" | "ended";

/**
 * Every change allowed, from each status. "ended" leads nowhere: once a conversation is over, no adapter event
 * or late answer can bring it back. A provider may start talking while it connects (its own greeting).
 */
export const TRANSITIONS: Readonly<Record<ConversationStatus, readonly ConversationStatus[]>> = {
  idle: ["connecting", "ended"],
  connecting: ["listening", "speaking", "ended"],
  listening: ["thinking", "speaking", "ended"],
  thinking: ["listening", "speaking", "ended"],
  speaking: ["listening", "thinking", "ended"],
  ended: [],
};

export class StatusMachine {
  private current: ConversationStatus = "idle";

  /** `changed` hears each change that happened, after it happened. */
  constructor(private readonly changed: (status: ConversationStatus, previous: ConversationStatus) => void) {}

  get status(): ConversationStatus {
    return this.current;
  }

  get ended(): boolean {
    return this.current === "ended";
  }

  /** Started and not ended: turns may run. */
  get live(): boolean {
    return this.current === "listening" || this.current === "thinking" || this.current === "speaking";
  }

  /** Moves to `status` when the table allows it; false when it is refused (or already there). */
  go(status: ConversationStatus): boolean {
    if (!TRANSITIONS[this.current].includes(status)) return false;
    const previous = this.current;
    this.current = status;
    this.changed(status, previous);
    return true;
  }
}
