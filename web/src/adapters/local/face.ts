/** The local avatar's face on a canvas: breathing, blinking, eyes on the user while listening, a talking mouth. */

export type FaceState = "loading" | "idle" | "listening" | "speaking" | "stopped";

export class Face {
  readonly canvas: HTMLCanvasElement;
  state: FaceState = "loading";
  private readonly analyser: AnalyserNode;
  private readonly samples: Float32Array<ArrayBuffer>;
  private mouth = 0;
  private nextBlink = 0;
  private frame = 0;

  constructor(canvas: HTMLCanvasElement, analyser: AnalyserNode) {
    this.canvas = canvas;
    this.analyser = analyser;
    this.samples = new Float32Array(analyser.fftSize);
    this.setState("loading");
  }

  setState(state: FaceState): void {
    this.state = state;
    this.canvas.dataset.state = state;
  }

  start(): void {
    const tick = (time: number): void => {
      this.draw(time);
      this.frame = requestAnimationFrame(tick);
    };
    this.frame = requestAnimationFrame(tick);
  }

  stop(): void {
    cancelAnimationFrame(this.frame);
    this.setState("stopped");
    this.canvas.dataset.mouth = "0";
  }

  /** The loudness of what plays now, 0..1, smoothed so the mouth opens fast and closes a little slower. */
  private loudness(): number {
    this.analyser.getFloatTimeDomainData(this.samples);
    let sum = 0;
    for (const sample of this.samples) sum += sample * sample;
    const target = Math.min(1, Math.sqrt(sum / this.samples.length) * 5);
    this.mouth += (target - this.mouth) * (target > this.mouth ? 0.6 : 0.25);
    return this.mouth;
  }

  private blink(time: number): number {
    if (this.nextBlink === 0) this.nextBlink = time + 2000 + Math.random() * 3000;
    const into = time - this.nextBlink;
    if (into < 0) return 0;
    if (into > 160) {
      this.nextBlink = time + 2500 + Math.random() * 3500;
      return 0;
    }
    return Math.sin((into / 160) * Math.PI);
  }

  private draw(time: number): void {
    const context = this.canvas.getContext("2d");
    if (!context) return;
    const { width, height } = this.canvas;
    const mouth = this.loudness();
    this.canvas.dataset.mouth = mouth.toFixed(3);
    const breath = 1 + Math.sin((time / 4000) * Math.PI * 2) * 0.012;
    const closed = this.blink(time);
    const gaze =
      this.state === "listening"
        ? { x: 0, y: 0.15 }
        : { x: Math.sin(time / 2300) * 0.35, y: Math.cos(time / 3100) * 0.2 };

    context.clearRect(0, 0, width, height);
    context.save();
    context.translate(width / 2, height / 2 + 8);
    context.scale(breath, breath);
    const r = Math.min(width, height) * 0.36;

    context.fillStyle = "#f2c9a0";
    context.beginPath();
    context.ellipse(0, 0, r * 0.86, r, 0, 0, Math.PI * 2);
    context.fill();
    context.fillStyle = "#4a3426";
    context.beginPath();
    context.ellipse(0, -r * 0.62, r * 0.9, r * 0.5, 0, Math.PI, Math.PI * 2);
    context.fill();

    for (const side of [-1, 1]) {
      const x = side * r * 0.34;
      const y = -r * 0.12;
      context.fillStyle = "#fff";
      context.beginPath();
      context.ellipse(x, y, r * 0.16, r * 0.11 * (1 - closed * 0.95), 0, 0, Math.PI * 2);
      context.fill();
      if (closed < 0.6) {
        context.fillStyle = "#2b4a6f";
        context.beginPath();
        context.arc(x + gaze.x * r * 0.07, y + gaze.y * r * 0.05, r * 0.065, 0, Math.PI * 2);
        context.fill();
      }
    }

    context.fillStyle = "#8a3b3b";
    context.beginPath();
    context.ellipse(0, r * 0.45, r * 0.24, r * (0.025 + mouth * 0.17), 0, 0, Math.PI * 2);
    context.fill();
    context.restore();
  }
}
