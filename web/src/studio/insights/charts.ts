/** Small hand-drawn SVG charts, each in a figure with the same numbers as a table beside it. */

import { h } from "../../lib/dom";

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 640;
const HEIGHT = 220;
const PAD = { top: 12, right: 12, bottom: 28, left: 48 };

export interface Series {
  name: string;
  color: string;
  values: (number | null)[];
}

export interface ChartSpec {
  title: string;
  labels: string[];
  series: Series[];
  unit: string;
}

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attributes: Record<string, string | number>, ...children: Node[]): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  element.append(...children);
  return element;
}

/** A round upper bound for the axis: 1, 2 or 5 times a power of ten. */
export function niceMax(value: number): number {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

export function formatNumber(value: number | null, unit = ""): string {
  if (value === null || Number.isNaN(value)) return "–";
  const rounded = Math.abs(value) >= 100 ? Math.round(value) : Math.round(value * 100) / 100;
  return `${rounded.toLocaleString("en")}${unit ? ` ${unit}` : ""}`;
}

function frame(max: number, labels: string[]): SVGSVGElement {
  const chart = svg("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-hidden": "true", class: "chart" });
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  for (const fraction of [0, 0.5, 1]) {
    const y = PAD.top + plotHeight * (1 - fraction);
    chart.append(
      svg("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: y, y2: y, class: "grid" }),
      svg("text", { x: PAD.left - 6, y: y + 4, "text-anchor": "end", class: "tick" }, document.createTextNode(formatNumber(max * fraction))),
    );
  }
  const step = Math.max(1, Math.ceil(labels.length / 8));
  labels.forEach((label, i) => {
    if (i % step !== 0) return;
    chart.append(svg("text", { x: xCenter(i, labels.length), y: HEIGHT - 8, "text-anchor": "middle", class: "tick" }, document.createTextNode(label)));
  });
  return chart;
}

function xCenter(i: number, count: number): number {
  const plotWidth = WIDTH - PAD.left - PAD.right;
  return PAD.left + (plotWidth / Math.max(1, count)) * (i + 0.5);
}

function yOf(value: number, max: number): number {
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  return PAD.top + plotHeight * (1 - value / max);
}

function legend(series: Series[]): HTMLElement {
  return h("ul", { class: "legend" }, ...series.map((s) => h("li", {}, h("span", { class: "swatch", style: `background:${s.color}` }), s.name)));
}

function table(spec: ChartSpec): HTMLElement {
  const head = h("tr", {}, h("th", { scope: "col" }, "Day"), ...spec.series.map((s) => h("th", { scope: "col" }, s.name)));
  const rows = spec.labels.map((label, i) =>
    h("tr", {}, h("th", { scope: "row" }, label), ...spec.series.map((s) => h("td", {}, formatNumber(s.values[i] ?? null)))),
  );
  return h("table", {}, h("caption", {}, `${spec.title} (${spec.unit})`), h("thead", {}, head), h("tbody", {}, ...rows));
}

function figure(spec: ChartSpec, chart: SVGSVGElement, summary: string): HTMLElement {
  const id = `chart-${spec.title.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`;
  return h(
    "figure",
    { class: "chart-card", "aria-labelledby": id, "data-chart": id },
    h("figcaption", { id }, `${spec.title} (${spec.unit})`),
    h("p", { class: "chart-summary" }, summary),
    chart,
    legend(spec.series),
    h("details", {}, h("summary", {}, "Show as table"), table(spec)),
  );
}

/** Bars per label; stacked series add up, as conversations by how they ended. */
export function stackedBars(spec: ChartSpec, summary: string): HTMLElement {
  const totals = spec.labels.map((_, i) => spec.series.reduce((sum, s) => sum + (s.values[i] ?? 0), 0));
  const max = niceMax(Math.max(0, ...totals));
  const chart = frame(max, spec.labels);
  const plotWidth = WIDTH - PAD.left - PAD.right;
  const barWidth = Math.max(2, (plotWidth / Math.max(1, spec.labels.length)) * 0.7);
  spec.labels.forEach((label, i) => {
    let base = 0;
    for (const s of spec.series) {
      const value = s.values[i] ?? 0;
      if (value <= 0) continue;
      const top = yOf(base + value, max);
      const bar = svg("rect", { x: xCenter(i, spec.labels.length) - barWidth / 2, y: top, width: barWidth, height: yOf(base, max) - top, fill: s.color });
      bar.append(svg("title", {}, document.createTextNode(`${label} · ${s.name}: ${formatNumber(value)}`)));
      chart.append(bar);
      base += value;
    }
  });
  return figure(spec, chart, summary);
}

/** One line per series; a missing value breaks the line. */
export function lines(spec: ChartSpec, summary: string): HTMLElement {
  const values = spec.series.flatMap((s) => s.values.filter((v): v is number => v !== null));
  const max = niceMax(Math.max(0, ...values));
  const chart = frame(max, spec.labels);
  for (const s of spec.series) {
    let path = "";
    s.values.forEach((value, i) => {
      if (value === null) return;
      const command = path && s.values[i - 1] !== null && i > 0 ? "L" : "M";
      path += `${command}${xCenter(i, spec.labels.length).toFixed(1)},${yOf(value, max).toFixed(1)} `;
      const dot = svg("circle", { cx: xCenter(i, spec.labels.length), cy: yOf(value, max), r: 2.5, fill: s.color });
      dot.append(svg("title", {}, document.createTextNode(`${spec.labels[i]} · ${s.name}: ${formatNumber(value, spec.unit)}`)));
      chart.append(dot);
    });
    if (path) chart.prepend(svg("path", { d: path.trim(), fill: "none", stroke: s.color, "stroke-width": 2 }));
  }
  return figure(spec, chart, summary);
}
