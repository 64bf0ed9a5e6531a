/**
 * A page for the adapter tests in Chromium: the real conversation controller and adapters, with each
 * provider's SDK replaced by its stub (see build.mjs), against the real dev server.
 */

import { ApiClient } from "../../src/lib/api";
import { ConversationController, type ControllerEvents } from "../../src/lib/controller";
import { record } from "./stubs/recorder";

interface Seen {
  type: string;
  detail: unknown;
}

const RECORDED: (keyof ControllerEvents & string)[] = ["status", "user", "sentence", "answer", "error", "notice", "ended"];

const seen: Seen[] = [];
let controller: ConversationController | null = null;

const realFetch = window.fetch.bind(window);
window.fetch = (input, init) => {
  const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
  if (url.endsWith("/v1/tts") && typeof init?.body === "string") record(`tts ${JSON.parse(init.body).text}`);
  return realFetch(input, init);
};

const harness = {
  seen,
  controller: (): ConversationController | null => controller,
  async start(avatarId: string, token: string): Promise<void> {
    const stage = document.getElementById("stage");
    if (!stage) throw new Error("the page has no #stage");
    controller = new ConversationController({
      api: new ApiClient(location.origin, token),
      avatarId,
      stage,
      reconnectDelaysMs: [300],
    });
    for (const type of RECORDED) {
      controller.on(type, (detail) =>
        seen.push({ type, detail: detail instanceof Error ? { message: detail.message } : detail }),
      );
    }
    // In the SDK calls' log too, so that a test can tell what the stub did before and after each status.
    controller.on("status", (status) => record(`status ${status}`));
    await controller.start();
  },
};

declare global {
  var avatarHarness: typeof harness;
}

globalThis.avatarHarness = harness;
