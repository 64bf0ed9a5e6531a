/**
 * Energy-based voice-activity detection over short frames (about 20 ms each).
 * Speech starts when the level stays above the noise floor plus `startMarginDb` for `startFrames` frames,
 * and ends only after it stays below the floor plus the lower `stopMarginDb` for `hangoverFrames` frames
 * (hysteresis, so a pause between words does not cut the utterance). The floor follows the room noise
 * slowly while nobody speaks.
 */

export interface VadOptions {
  startMarginDb: number;
  stopMarginDb: number;
  startFrames: number;
  hangoverFrames: number;
  /** Quietest floor assumed, so a silent fake microphone does not turn a whisper into speech. */
  minFloorDb: number;
  floorAdaptation: number;
}

export const DEFAULT_VAD: VadOptions = {
  startMarginDb: 15,
  stopMarginDb: 9,
  startFrames: 4,
  hangoverFrames: 35,
  minFloorDb: -65,
  floorAdaptation: 0.05,
};

export type VadTransition = "speech-start" | "speech-end" | null;

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
  private below = 0;
  speaking = false;

  constructor(options: Partial<VadOptions> = {}) {
    this.options = { ...DEFAULT_VAD, ...options };
    this.floorDb = this.options.minFloorDb;
  }

  get noiseFloorDb(): number {
    return this.floorDb;
  }

  /** Feeds one frame's level in dBFS; returns the transition it caused, if any. */
  process(levelDb: number): VadTransition {
    const o = this.options;
    if (!this.speaking) {
      if (levelDb > this.floorDb + o.startMarginDb) {
        this.above += 1;
        if (this.above >= o.startFrames) {
          this.speaking = true;
          this.above = 0;
          this.below = 0;
          return "speech-start";
        }
      } else {
        this.above = 0;
        this.floorDb = Math.max(o.minFloorDb, this.floorDb + (levelDb - this.floorDb) * o.floorAdaptation);
      }
      return null;
    }
    if (levelDb < this.floorDb + o.stopMarginDb) {
      this.below += 1;
      if (this.below >= o.hangoverFrames) {
        this.speaking = false;
        this.below = 0;
        return "speech-end";
      }
    } else this.below = 0;
    return null;
  }

  reset(): void {
    this.speaking = false;
    this.above = 0;
    this.below = 0;
  }
}
