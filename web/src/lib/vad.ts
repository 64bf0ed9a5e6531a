/**
 * Energy-based voice-activity detection over short frames (about 20 ms each).
 * Speech starts when the level stays above the noise floor plus `startMarginDb` for `startFrames` frames,
 * and ends only after it stays below the floor plus the lower `stopMarginDb` for `endOfSpeechMs`
 * (hysteresis, so a pause between words does not cut the utterance). That wait is timed on the clock the
 * frames are stamped with, not counted in frames, so a timer the browser slows down does not stretch it.
 * The floor follows the room noise slowly while nobody speaks.
 * Part of the way through that wait (`pauseMs`), a pause is reported once, so the utterance so far can be
 * worked on while the rest of the wait is timed; sound before the wait is over resumes the utterance.
 */

export interface VadOptions {
  startMarginDb: number;
  stopMarginDb: number;
  startFrames: number;
  /** The avatar's end-of-speech wait: how long a silence ends the utterance. */
  endOfSpeechMs: number;
  /** How long a silence within speech is a pause (at most half the end-of-speech wait is used). */
  pauseMs: number;
  /** Quietest floor assumed, so a silent fake microphone does not turn a whisper into speech. */
  minFloorDb: number;
  floorAdaptation: number;
}

/** The detector's tuning; the end-of-speech wait is the avatar's own (the server's default for a new one). */
export const DEFAULT_VAD: Omit<VadOptions, "endOfSpeechMs"> = {
  startMarginDb: 15,
  stopMarginDb: 9,
  startFrames: 4,
  pauseMs: 200,
  minFloorDb: -65,
  floorAdaptation: 0.05,
};

export type VadTransition = "speech-start" | "speech-pause" | "speech-resume" | "speech-end" | null;

export function rmsDb(samples: Float32Array): number {
  let sum = 0;
  for (const sample of samples) sum += sample * sample;
  const rms = Math.sqrt(sum / Math.max(1, samples.length));
  return rms > 0 ? 20 * Math.log10(rms) : -120;
}

export class EnergyVad {
  private readonly options: VadOptions;
  private floorDb: number;
  private above = 0;
  /** When the current silence within speech began (the first quiet frame's time), or null. */
  private quietSince: number | null = null;
  /** The current silence was reported as a pause. */
  private paused = false;
  speaking = false;

  constructor(options: Partial<VadOptions> & Pick<VadOptions, "endOfSpeechMs">) {
    this.options = { ...DEFAULT_VAD, ...options };
    this.floorDb = this.options.minFloorDb;
  }

  get noiseFloorDb(): number {
    return this.floorDb;
  }

  /** Feeds one frame's level in dBFS, taken at `atMs`; returns the transition it caused, if any. */
  process(levelDb: number, atMs: number): VadTransition {
    const o = this.options;
    if (!this.speaking) {
      if (levelDb > this.floorDb + o.startMarginDb) {
        this.above += 1;
        if (this.above >= o.startFrames) {
          this.speaking = true;
          this.above = 0;
          this.quietSince = null;
          return "speech-start";
        }
      } else {
        this.above = 0;
        this.floorDb = Math.max(o.minFloorDb, this.floorDb + (levelDb - this.floorDb) * o.floorAdaptation);
      }
      return null;
    }
    if (levelDb < this.floorDb + o.stopMarginDb) {
      this.quietSince ??= atMs;
      const quietMs = atMs - this.quietSince;
      if (quietMs >= o.endOfSpeechMs) {
        this.speaking = false;
        this.quietSince = null;
        this.paused = false;
        return "speech-end";
      }
      if (!this.paused && quietMs >= Math.min(o.pauseMs, o.endOfSpeechMs / 2)) {
        this.paused = true;
        return "speech-pause";
      }
      return null;
    }
    this.quietSince = null;
    if (this.paused) {
      this.paused = false;
      return "speech-resume";
    }
    return null;
  }

  reset(): void {
    this.speaking = false;
    this.above = 0;
    this.quietSince = null;
    this.paused = false;
  }
}
