/** Hands a turn's sentences to the adapter in index order as they arrive; on interrupt, says what was heard. */

import type { AvatarAdapter } from "./adapter";

export class SentenceQueue {
  private readonly adapter: AvatarAdapter;
  private readonly waiting = new Map<number, { text: string; speech: string }>();
  private readonly spoken: string[] = [];
  private readonly pending: Promise<boolean>[] = [];
  private current: string[] = [];
  private next = 0;
  private speaking = false;
  private heardAtInterrupt: string | null = null;
  private readonly unsubscribe: (() => void)[];

  constructor(adapter: AvatarAdapter) {
    this.adapter = adapter;
    this.unsubscribe = [
      adapter.on("speaking", () => (this.speaking = true)),
      adapter.on("idle", () => (this.speaking = false)),
    ];
  }

  /**
   * Accepts a sentence event; sentences may arrive out of order and are spoken by index. `speech` is what
   * the avatar says (the text without markup or citations); `text` is what was heard, for the transcript.
   */
  push(index: number, text: string, speech = text): void {
    if (this.heardAtInterrupt !== null || index < this.next) return;
    this.waiting.set(index, { text, speech });
    for (let sentence = this.waiting.get(this.next); sentence !== undefined; sentence = this.waiting.get(this.next)) {
      this.waiting.delete(this.next);
      this.next += 1;
      this.submit(sentence.text, sentence.speech);
    }
  }

  private submit(text: string, speech: string): void {
    this.current.push(text);
    // A sentence of markup alone (a code fence, a rule) has nothing to say: it counts as said after the one before.
    const before = this.pending[this.pending.length - 1] ?? Promise.resolve(true);
    const spoken = speech.trim() ? this.adapter.speakSentence(speech) : before.then(() => true);
    this.pending.push(
      spoken.then((finished) => {
        if (finished && this.heardAtInterrupt === null) this.spoken.push(this.current.shift() ?? text);
        return finished;
      }),
    );
  }

  /** Resolves once every sentence handed over so far has been spoken or discarded. */
  async drained(): Promise<void> {
    let seen = 0;
    while (seen < this.pending.length) {
      const batch = this.pending.slice(seen);
      seen = this.pending.length;
      await Promise.all(batch);
    }
  }

  /** Everything spoken to the end, plus the sentence being spoken right now (the user heard part of it). */
  heardText(): string {
    if (this.heardAtInterrupt !== null) return this.heardAtInterrupt;
    const heard = [...this.spoken];
    if (this.speaking && this.current.length > 0) heard.push(this.current[0]);
    return heard.join(" ");
  }

  /** Stops the adapter, discards what is queued and returns the heard text. */
  interrupt(): string {
    if (this.heardAtInterrupt === null) {
      this.heardAtInterrupt = this.heardText();
      this.waiting.clear();
      this.adapter.interrupt();
    }
    return this.heardAtInterrupt;
  }

  dispose(): void {
    for (const off of this.unsubscribe) off();
  }
}
