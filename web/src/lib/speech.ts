/** Our own TTS for one sentence as raw PCM16 mono, for the avatars that are driven by audio. */

import type { ApiClient } from "./api";

export interface PcmAudio {
  pcm: Int16Array;
  sampleRate: number;
}

/** Fetches `/v1/tts` in the session's voice; the server says the rate it produced in `X-Sample-Rate`. */
export async function fetchPcm(
  api: ApiClient,
  sessionId: string,
  text: string,
  sampleRate: number,
  signal: AbortSignal,
): Promise<PcmAudio> {
  const response = await api.request(
    "POST",
    "/v1/tts",
    { session_id: sessionId, text, format: `pcm16_${sampleRate}` },
    { signal },
  );
  const bytes = await response.arrayBuffer();
  const rate = Number(response.headers.get("x-sample-rate")) || sampleRate;
  return { pcm: new Int16Array(bytes, 0, Math.floor(bytes.byteLength / 2)), sampleRate: rate };
}

export function durationMs(audio: PcmAudio): number {
  return (audio.pcm.length / audio.sampleRate) * 1000;
}
