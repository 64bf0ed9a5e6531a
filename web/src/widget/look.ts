/** How the widget looks on a site: the avatar's look set in the studio, overridden by the script tag's
 * data- attributes. */

export interface WidgetLook {
  /** The launcher's text; the language's default when null. */
  launcherText: string | null;
  /** The accent colour (launcher, main buttons), as #rrggbb. */
  color: string;
  position: "left" | "right";
  /** compact: a small floating panel; full: a tall one. On a phone the panel always fills the screen. */
  size: "compact" | "full";
  /** Open the panel as soon as the page loads. */
  open: boolean;
  /** The language of the widget's own texts (see lib/strings.ts). */
  language: string;
  /** Show the answer timings (retrieval, first sentence, first audio): for the site's developers. */
  latency: boolean;
}

export const DEFAULT_LOOK: WidgetLook = {
  launcherText: null,
  color: "#2563eb",
  position: "right",
  size: "compact",
  open: false,
  language: "en",
  latency: false,
};

const COLOR = /^#[0-9a-f]{6}$/i;

function flag(value: string | undefined, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  return value === "" || value === "true";
}

/** `data-launcher-text`, `data-color`, `data-position`, `data-size`, `data-open`, `data-lang`, `data-latency`. */
export function lookFromDataset(data: DOMStringMap, base: WidgetLook = DEFAULT_LOOK): WidgetLook {
  const text = data.launcherText?.trim();
  return {
    launcherText: text ? text.slice(0, 60) : base.launcherText,
    color: data.color && COLOR.test(data.color) ? data.color : base.color,
    position: data.position === "left" || data.position === "right" ? data.position : base.position,
    size: data.size === "compact" || data.size === "full" ? data.size : base.size,
    open: flag(data.open, base.open),
    language: data.lang && /^[a-z]{2,3}(-[a-z0-9]+)*$/i.test(data.lang) ? data.lang : base.language,
    latency: flag(data.latency, base.latency),
  };
}

/** The avatar's look as GET /v1/widget/look/{public_id} returns it. */
export interface ServerLook {
  launcher_text: string | null;
  color: string;
  position: "left" | "right";
  size: "compact" | "full";
  open: boolean;
  language: string;
  show_latency: boolean;
}

export function lookFromServer(look: ServerLook): WidgetLook {
  return {
    launcherText: look.launcher_text,
    color: look.color,
    position: look.position,
    size: look.size,
    open: look.open,
    language: look.language,
    latency: look.show_latency,
  };
}

/** The avatar's look from the studio; the defaults when it cannot be read (the launcher still shows). */
export async function fetchLook(api: string, avatar: string): Promise<WidgetLook> {
  try {
    const response = await fetch(`${api.replace(/\/+$/, "")}/v1/widget/look/${encodeURIComponent(avatar)}`);
    return response.ok ? lookFromServer((await response.json()) as ServerLook) : DEFAULT_LOOK;
  } catch {
    return DEFAULT_LOOK;
  }
}
