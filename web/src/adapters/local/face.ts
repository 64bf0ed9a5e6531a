/**
 * The local avatar's face, alive: lip-sync by visemes read from the audio being played, blinking, eyes
 * and head in motion, and a distinct bearing for each state (idle, listening, thinking, speaking).
 *
 * Visemes come from the spectrum of what plays, frame by frame: quiet is the rest shape; energy in the
 * first-formant band opens the jaw (A); a strong second formant over the first stretches the lips (E, I);
 * energy low in the spectrum with little second formant rounds them (O, U); hiss above 3.5 kHz with
 * little voice is the teeth-together S. Each shape is eased toward, so the mouth moves like one.
 */

import { drawPortrait, REST_POSE, type Appearance, type Pose } from "./portrait";

export type FaceState = "loading" | "idle" | "listening" | "thinking" | "speaking" | "stopped";
export type Viseme = "rest" | "A" | "E" | "O" | "S";

interface Bands {
  loud: number;
  low: number;
  mid: number;
  high: number;
}

/** The viseme and mouth targets for one frame's band energies (each 0..1 of the frame's voice). */
export function visemeOf(bands: Bands): { viseme: Viseme; open: number; wide: number; round: number } {
  const { loud, low, mid, high } = bands;
  if (loud < 0.04) return { viseme: "rest", open: 0, wide: 0, round: 0 };
  const voiced = low + mid;
  if (high > voiced * 1.2) return { viseme: "S", open: 0.12, wide: 0.8, round: 0 };
  const open = Math.min(1, loud * 1.6);
  // Thresholds from Piper's voice: the second formant band holds under a tenth of the first's in the
  // median voiced frame, over a quarter in the brightest quarter (E), under 3 % in the darkest (O).
  if (mid > low * 0.25) return { viseme: "E", open: open * 0.6, wide: 0.9, round: 0 };
  if (mid < low * 0.03) return { viseme: "O", open: open * 0.75, wide: 0, round: 0.9 };
  return { viseme: "A", open, wide: 0.2, round: 0.1 };
}

const EASE_OPEN = 0.45;
const EASE_CLOSE = 0.3;
const FRAME_WINDOW = 120;
/** Attentive this long after the avatar last spoke or heard; then it relaxes into idle. */
const ATTENTIVE_MS = 8000;

export class Face {
  readonly canvas: HTMLCanvasElement;
  state: FaceState = "loading";
  private readonly analyser: AnalyserNode;
  private readonly appearance: Appearance;
  private readonly samples: Float32Array<ArrayBuffer>;
  private readonly spectrum: Float32Array<ArrayBuffer>;
  private readonly pose: Pose = { ...REST_POSE };
  private nextBlink = 0;
  private stateSince = 0;
  private frame = 0;
  private readonly frameTimes: number[] = [];

  constructor(canvas: HTMLCanvasElement, analyser: AnalyserNode, appearance: Appearance) {
    this.canvas = canvas;
    this.analyser = analyser;
    this.appearance = appearance;
    this.samples = new Float32Array(analyser.fftSize);
    this.spectrum = new Float32Array(analyser.frequencyBinCount);
    canvas.dataset.look = appearance.look;
    this.setState("loading");
  }

  setState(state: FaceState): void {
    if (state !== this.state) this.stateSince = performance.now();
    this.state = state;
    this.canvas.dataset.state = state;
  }

  start(): void {
    const tick = (time: number): void => {
      const started = performance.now();
      this.draw(time);
      this.recordFrame(performance.now() - started);
      this.frame = requestAnimationFrame(tick);
    };
    this.frame = requestAnimationFrame(tick);
  }

  stop(): void {
    cancelAnimationFrame(this.frame);
    this.setState("stopped");
    this.canvas.dataset.mouth = "0";
    this.canvas.dataset.viseme = "rest";
  }

  /** Main-thread time of the last frames, for benchmarks and tests: mean and worst, in ms. */
  private recordFrame(ms: number): void {
    this.frameTimes.push(ms);
    if (this.frameTimes.length > FRAME_WINDOW) this.frameTimes.shift();
    const mean = this.frameTimes.reduce((a, b) => a + b, 0) / this.frameTimes.length;
    this.canvas.dataset.frameMs = mean.toFixed(3);
    this.canvas.dataset.frameMaxMs = Math.max(...this.frameTimes).toFixed(3);
  }

  private bands(): Bands {
    this.analyser.getFloatTimeDomainData(this.samples);
    let sum = 0;
    for (const sample of this.samples) sum += sample * sample;
    const loud = Math.min(1, Math.sqrt(sum / this.samples.length) * 5);
    if (loud < 0.04) return { loud, low: 0, mid: 0, high: 0 };
    this.analyser.getFloatFrequencyData(this.spectrum);
    const hz = this.analyser.context.sampleRate / this.analyser.fftSize;
    const power = (from: number, to: number): number => {
      let total = 0;
      const last = Math.min(this.spectrum.length - 1, Math.round(to / hz));
      for (let bin = Math.round(from / hz); bin <= last; bin += 1) total += 10 ** (this.spectrum[bin] / 10);
      return total;
    };
    const low = power(200, 900);
    const mid = power(900, 2600);
    const high = power(3500, 8000);
    const all = low + mid + high || 1;
    return { loud, low: low / all, mid: mid / all, high: high / all };
  }

  private blink(time: number): number {
    if (this.nextBlink === 0) this.nextBlink = time + 1500 + Math.random() * 2500;
    const into = time - this.nextBlink;
    if (into < 0) return 0;
    if (into > 150) {
      // Now and then a double blink, as people do.
      this.nextBlink = time + (Math.random() < 0.15 ? 180 : 2200 + Math.random() * 3800);
      return 0;
    }
    return Math.sin((into / 150) * Math.PI);
  }

  private ease(key: keyof Pose, target: number, rate: number): void {
    this.pose[key] += (target - this.pose[key]) * rate;
  }

  private draw(time: number): void {
    const context = this.canvas.getContext("2d");
    if (!context) return;
    const speaking = this.state === "speaking";
    const mouth = speaking ? visemeOf(this.bands()) : { viseme: "rest" as Viseme, open: 0, wide: 0, round: 0 };
    this.ease("open", mouth.open, mouth.open > this.pose.open ? EASE_OPEN : EASE_CLOSE);
    this.ease("wide", mouth.wide, 0.35);
    this.ease("round", mouth.round, 0.35);
    this.canvas.dataset.viseme = mouth.viseme;
    this.canvas.dataset.mouth = this.pose.open.toFixed(3);

    if (this.state === "listening" && time - this.stateSince > ATTENTIVE_MS) this.setState("idle");
    const since = (time - this.stateSince) / 1000;
    const t = time / 1000;
    let target: Partial<Pose>;
    switch (this.state) {
      case "listening":
        // Eyes on the person, brows up, head a little to one side, a slow nod now and then.
        target = { gazeX: 0, gazeY: 0.1, tilt: 0.06, turn: 0, nod: Math.max(0, Math.sin(t * 1.6)) * 2, brow: 0.6, smile: 0.45 };
        break;
      case "thinking":
        // Looking up and away, brows knitted, head turned.
        target = { gazeX: -0.7, gazeY: -0.8, tilt: -0.05, turn: -0.6, nod: 0, brow: -0.7, smile: 0.1 };
        break;
      case "speaking":
        // Engaged: eyes mostly on the person with small saccades, the head moving with the voice.
        target = {
          gazeX: Math.sin(t * 0.9) * 0.2,
          gazeY: 0.05,
          tilt: Math.sin(t * 1.3) * 0.035,
          turn: Math.sin(t * 0.7) * 0.4,
          nod: this.pose.open * 2.5,
          brow: 0.2 + this.pose.open * 0.4,
          smile: 0.3,
        };
        break;
      default:
        // Idle: a calm, slow look around.
        target = {
          gazeX: Math.sin(t * 0.45) * 0.6,
          gazeY: Math.cos(t * 0.31) * 0.3,
          tilt: Math.sin(t * 0.23) * 0.03,
          turn: Math.sin(t * 0.19) * 0.5,
          nod: 0,
          brow: 0,
          smile: 0.35,
        };
    }
    const rate = Math.min(1, 0.08 + since * 0.05);
    for (const [key, value] of Object.entries(target) as [keyof Pose, number][]) this.ease(key, value, rate);
    this.pose.blink = this.blink(time);
    this.pose.breath = Math.sin((t / 4.2) * Math.PI * 2) * 0.008;
    drawPortrait(context, this.canvas.width, this.canvas.height, this.appearance, this.pose);
  }
}
