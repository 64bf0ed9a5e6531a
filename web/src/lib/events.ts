/**
 * A minimal typed event emitter: on() returns its own unsubscribe. `Events` maps each event's name to its
 * detail; an interface without an index signature, so a misspelt event name does not type-check.
 */
export class Emitter<Events extends object> {
  private readonly listeners = new Map<keyof Events, Set<(detail: never) => void>>();

  on<K extends keyof Events>(event: K, callback: (detail: Events[K]) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(callback as (detail: never) => void);
    return () => set.delete(callback as (detail: never) => void);
  }

  emit<K extends keyof Events>(event: K, detail: Events[K]): void {
    for (const callback of [...(this.listeners.get(event) ?? [])]) {
      (callback as (detail: Events[K]) => void)(detail);
    }
  }
}
