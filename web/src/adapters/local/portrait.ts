/**
 * The built-in avatar's illustrated character, drawn as vector paths on a 2D canvas: head, neck and
 * shoulders, hair, brows, eyes, nose and lips. `drawPortrait` draws one frame for a pose (mouth shape,
 * blink, gaze, head motion, brows); the face animates the pose, the conversation view draws a still one
 * before the conversation starts. Three looks; the clothes and background take the avatar's theme colour.
 */

export type LookName = "ada" | "kai" | "noor";

export interface Appearance {
  look: LookName;
  theme: string;
}

export const DEFAULT_APPEARANCE: Appearance = { look: "ada", theme: "#2563eb" };

interface Look {
  label: string;
  skin: string;
  shade: string;
  hair: string;
  hairLight: string;
  lips: string;
  iris: string;
  brows: string;
  hairStyle: "bob" | "crop" | "bun";
  glasses: boolean;
  earrings: boolean;
}

export const LOOKS: Record<LookName, Look> = {
  ada: {
    label: "Ada: auburn bob, green eyes",
    skin: "#f3cfb3",
    shade: "#e0ae8f",
    hair: "#8a3b1e",
    hairLight: "#b0532c",
    lips: "#c0605c",
    iris: "#4d7f4a",
    brows: "#6e2f18",
    hairStyle: "bob",
    glasses: false,
    earrings: false,
  },
  kai: {
    label: "Kai: short black hair, glasses",
    skin: "#c98e63",
    shade: "#ad7449",
    hair: "#1f1a17",
    hairLight: "#3a322c",
    lips: "#9c5a48",
    iris: "#4a2f1f",
    brows: "#1f1a17",
    hairStyle: "crop",
    glasses: true,
    earrings: false,
  },
  noor: {
    label: "Noor: dark hair in a bun, earrings",
    skin: "#8d5a3b",
    shade: "#734529",
    hair: "#17110e",
    hairLight: "#2f241d",
    lips: "#6e3a2e",
    iris: "#3a2416",
    brows: "#17110e",
    hairStyle: "bun",
    glasses: false,
    earrings: true,
  },
};

/** Everything that moves. Mouth values and blink are 0..1; gaze -1..1; tilt in radians; the rest in face units. */
export interface Pose {
  /** Jaw opening. */
  open: number;
  /** Lips stretched sideways (E, I, S). */
  wide: number;
  /** Lips rounded forward (O, U, W). */
  round: number;
  blink: number;
  gazeX: number;
  gazeY: number;
  tilt: number;
  turn: number;
  nod: number;
  /** -1 knitted (thinking) .. 1 raised (listening). */
  brow: number;
  smile: number;
  breath: number;
}

export const REST_POSE: Pose = {
  open: 0,
  wide: 0,
  round: 0,
  blink: 0,
  gazeX: 0,
  gazeY: 0,
  tilt: 0,
  turn: 0,
  nod: 0,
  brow: 0,
  smile: 0.35,
  breath: 0,
};

export function appearanceOf(value: unknown): Appearance {
  const candidate = (value ?? {}) as Partial<Appearance>;
  const look = candidate.look && candidate.look in LOOKS ? candidate.look : DEFAULT_APPEARANCE.look;
  const theme = typeof candidate.theme === "string" && /^#[0-9a-f]{6}$/i.test(candidate.theme) ? candidate.theme : DEFAULT_APPEARANCE.theme;
  return { look, theme };
}

/** `hex` mixed with white (amount > 0) or black (amount < 0). */
function tint(hex: string, amount: number): string {
  const value = Number.parseInt(hex.slice(1), 16);
  const target = amount > 0 ? 255 : 0;
  const mix = (channel: number): number => Math.round(channel + (target - channel) * Math.abs(amount));
  const [r, g, b] = [(value >> 16) & 255, (value >> 8) & 255, value & 255].map(mix);
  return `rgb(${r},${g},${b})`;
}

function fill(context: CanvasRenderingContext2D, color: string | CanvasGradient, path: () => void): void {
  context.fillStyle = color;
  context.beginPath();
  path();
  context.fill();
}

function shoulders(context: CanvasRenderingContext2D, look: Look, theme: string): void {
  // Neck, then the top of a round-necked top in the theme colour.
  fill(context, look.shade, () => {
    context.moveTo(-22, 40);
    context.lineTo(-24, 92);
    context.quadraticCurveTo(0, 104, 24, 92);
    context.lineTo(22, 40);
    context.closePath();
  });
  fill(context, theme, () => {
    context.moveTo(-118, 160);
    context.bezierCurveTo(-116, 112, -84, 96, -34, 88);
    context.quadraticCurveTo(0, 112, 34, 88);
    context.bezierCurveTo(84, 96, 116, 112, 118, 160);
    context.closePath();
  });
  context.strokeStyle = tint(theme, -0.25);
  context.lineWidth = 3;
  context.beginPath();
  context.moveTo(-34, 88);
  context.quadraticCurveTo(0, 112, 34, 88);
  context.stroke();
}

function hairBack(context: CanvasRenderingContext2D, look: Look): void {
  if (look.hairStyle === "bob") {
    fill(context, look.hair, () => {
      context.moveTo(-62, -40);
      context.bezierCurveTo(-74, 10, -70, 46, -58, 62);
      context.lineTo(58, 62);
      context.bezierCurveTo(70, 46, 74, 10, 62, -40);
      context.closePath();
    });
  } else if (look.hairStyle === "bun") {
    fill(context, look.hair, () => context.arc(0, -104, 30, 0, Math.PI * 2));
    fill(context, look.hairLight, () => context.ellipse(-8, -112, 12, 7, -0.4, 0, Math.PI * 2));
  }
}

function headShape(context: CanvasRenderingContext2D): void {
  context.moveTo(0, -86);
  context.bezierCurveTo(40, -86, 58, -56, 58, -18);
  context.bezierCurveTo(58, 22, 40, 54, 0, 64);
  context.bezierCurveTo(-40, 54, -58, 22, -58, -18);
  context.bezierCurveTo(-58, -56, -40, -86, 0, -86);
}

function hairFront(context: CanvasRenderingContext2D, look: Look): void {
  if (look.hairStyle === "bob") {
    fill(context, look.hair, () => {
      context.moveTo(-64, -6);
      context.bezierCurveTo(-70, -70, -30, -98, 6, -94);
      context.bezierCurveTo(46, -92, 70, -62, 64, -6);
      context.bezierCurveTo(52, -40, 30, -52, 4, -58);
      context.bezierCurveTo(-18, -50, -44, -40, -64, -6);
    });
    context.strokeStyle = look.hairLight;
    context.lineWidth = 3;
    context.beginPath();
    context.moveTo(-30, -82);
    context.quadraticCurveTo(-8, -66, 10, -60);
    context.stroke();
  } else if (look.hairStyle === "crop") {
    fill(context, look.hair, () => {
      context.moveTo(-59, -22);
      context.bezierCurveTo(-64, -78, -24, -98, 6, -96);
      context.bezierCurveTo(44, -94, 66, -70, 59, -22);
      context.bezierCurveTo(54, -50, 40, -62, 14, -66);
      context.bezierCurveTo(-12, -72, -44, -58, -59, -22);
    });
  } else {
    fill(context, look.hair, () => {
      context.moveTo(-58, -14);
      context.bezierCurveTo(-62, -74, -26, -94, 0, -92);
      context.bezierCurveTo(26, -94, 62, -74, 58, -14);
      context.bezierCurveTo(50, -52, 24, -70, 0, -66);
      context.bezierCurveTo(-24, -70, -50, -52, -58, -14);
    });
    context.strokeStyle = look.hairLight;
    context.lineWidth = 2.5;
    context.beginPath();
    context.moveTo(0, -90);
    context.quadraticCurveTo(-20, -78, -40, -50);
    context.moveTo(0, -90);
    context.quadraticCurveTo(20, -78, 40, -50);
    context.stroke();
  }
}

function eye(context: CanvasRenderingContext2D, look: Look, side: number, pose: Pose): void {
  const x = side * 23;
  const y = -12;
  const open = 1 - pose.blink;
  context.save();
  context.translate(x, y);
  // The almond of the eye, clipped, so iris and lid stay inside it.
  context.beginPath();
  context.moveTo(-13, 0);
  context.bezierCurveTo(-7, -9 * open, 7, -9 * open, 13, 0);
  context.bezierCurveTo(7, 7 * open, -7, 7 * open, -13, 0);
  context.closePath();
  context.fillStyle = "#fbfaf7";
  context.fill();
  if (open > 0.15) {
    context.save();
    context.clip();
    const ix = pose.gazeX * 5;
    const iy = pose.gazeY * 3;
    fill(context, look.iris, () => context.arc(ix, iy, 6.2, 0, Math.PI * 2));
    fill(context, "#16110d", () => context.arc(ix, iy, 2.8, 0, Math.PI * 2));
    fill(context, "rgba(255,255,255,0.9)", () => context.arc(ix + 2, iy - 2.2, 1.5, 0, Math.PI * 2));
    context.restore();
  }
  // Upper lid line and lashes.
  context.strokeStyle = "#2a1d16";
  context.lineWidth = 2.2;
  context.beginPath();
  context.moveTo(-14, 0.5);
  context.bezierCurveTo(-7, -9.5 * open, 7, -9.5 * open, 14, 0.5);
  context.stroke();
  context.restore();
}

function brows(context: CanvasRenderingContext2D, look: Look, pose: Pose): void {
  context.strokeStyle = look.brows;
  context.lineCap = "round";
  context.lineWidth = 4.2;
  for (const side of [-1, 1]) {
    const lift = pose.brow * 4;
    const knit = Math.min(0, pose.brow) * -3;
    context.beginPath();
    context.moveTo(side * (11 - knit), -27 - lift + knit);
    context.quadraticCurveTo(side * 24, -34 - lift * 1.2, side * 35, -28 - lift * 0.6);
    context.stroke();
  }
}

function nose(context: CanvasRenderingContext2D, look: Look): void {
  context.strokeStyle = look.shade;
  context.lineWidth = 2.4;
  context.lineCap = "round";
  context.beginPath();
  context.moveTo(3, -6);
  context.quadraticCurveTo(7, 10, 4, 17);
  context.stroke();
  for (const side of [-1, 1]) fill(context, look.shade, () => context.ellipse(side * 5, 19, 3.2, 1.8, side * -0.2, 0, Math.PI * 2));
}

function mouth(context: CanvasRenderingContext2D, look: Look, pose: Pose): void {
  const width = 17 * (1 + 0.28 * pose.wide - 0.38 * pose.round);
  const open = 2 + pose.open * 15 * (1 - 0.25 * pose.wide);
  const corner = 36.5 - pose.smile * 5 * (1 - pose.open);
  const top = 35 - open * 0.35;
  const bottom = 35 + open * 0.65;
  const inner = (): void => {
    context.moveTo(-width, corner);
    context.bezierCurveTo(-width * 0.5, top, width * 0.5, top, width, corner);
    context.bezierCurveTo(width * 0.5, bottom + 1, -width * 0.5, bottom + 1, -width, corner);
    context.closePath();
  };
  if (pose.open > 0.08) {
    fill(context, "#3b1513", inner);
    if (pose.open > 0.2) {
      context.save();
      context.beginPath();
      inner();
      context.clip();
      fill(context, "#f4efe8", () => context.rect(-width, top - 2, width * 2, 4 + open * 0.18));
      fill(context, "#c25b5f", () => context.ellipse(0, bottom + 1, width * 0.6, open * 0.3, 0, 0, Math.PI * 2));
      context.restore();
    }
  }
  // Upper lip with its cupid's bow, lower lip fuller.
  fill(context, look.lips, () => {
    context.moveTo(-width - 2, corner);
    context.bezierCurveTo(-width * 0.6, top - 6, -4, top - 6, 0, top - 3);
    context.bezierCurveTo(4, top - 6, width * 0.6, top - 6, width + 2, corner);
    context.bezierCurveTo(width * 0.5, top, -width * 0.5, top, -width - 2, corner);
  });
  fill(context, look.lips, () => {
    context.moveTo(-width - 2, corner);
    context.bezierCurveTo(-width * 0.5, bottom + 1, width * 0.5, bottom + 1, width + 2, corner);
    context.bezierCurveTo(width * 0.6, bottom + 9, -width * 0.6, bottom + 9, -width - 2, corner);
  });
  fill(context, "rgba(255,255,255,0.18)", () => context.ellipse(0, bottom + 4.5, width * 0.35, 1.6, 0, 0, Math.PI * 2));
}

function glasses(context: CanvasRenderingContext2D): void {
  context.strokeStyle = "#1c2733";
  context.lineWidth = 2.6;
  for (const side of [-1, 1]) {
    context.beginPath();
    context.roundRect(side * 23 - 17, -25, 34, 25, 8);
    context.stroke();
  }
  context.beginPath();
  context.moveTo(-6, -15);
  context.quadraticCurveTo(0, -19, 6, -15);
  context.moveTo(-57, -16);
  context.lineTo(-40, -14);
  context.moveTo(57, -16);
  context.lineTo(40, -14);
  context.stroke();
}

/** Draws the character in `pose` filling the canvas; the character is 320 units tall. */
export function drawPortrait(
  context: CanvasRenderingContext2D,
  width: number,
  height: number,
  appearance: Appearance,
  pose: Pose,
): void {
  const look = LOOKS[appearance.look];
  const backdrop = context.createLinearGradient(0, 0, 0, height);
  backdrop.addColorStop(0, tint(appearance.theme, 0.86));
  backdrop.addColorStop(1, tint(appearance.theme, 0.68));
  context.fillStyle = backdrop;
  context.fillRect(0, 0, width, height);

  context.save();
  const scale = Math.min(width, height) / 320;
  context.translate(width / 2, height * 0.47);
  context.scale(scale * (1 + pose.breath), scale * (1 + pose.breath));
  shoulders(context, look, appearance.theme);

  // The head turns and tilts about the top of the neck.
  context.translate(pose.turn * 4, 40 + pose.nod);
  context.rotate(pose.tilt);
  context.translate(0, -40);
  hairBack(context, look);
  for (const side of [-1, 1]) {
    fill(context, look.shade, () => context.ellipse(side * 57, -8, 8, 14, 0, 0, Math.PI * 2));
    if (look.earrings) fill(context, appearance.theme, () => context.arc(side * 57, 9, 4, 0, Math.PI * 2));
  }
  fill(context, look.skin, () => headShape(context));
  for (const side of [-1, 1]) {
    fill(context, "rgba(215,110,100,0.16)", () => context.ellipse(side * 32, 16, 12, 7, 0, 0, Math.PI * 2));
  }
  // Features shift a little with the turn, so the face reads as turning, not sliding.
  context.translate(pose.turn * 3, 0);
  hairFront(context, look);
  brows(context, look, pose);
  for (const side of [-1, 1]) eye(context, look, side, pose);
  nose(context, look);
  mouth(context, look, pose);
  if (look.glasses) glasses(context);
  context.restore();
}
