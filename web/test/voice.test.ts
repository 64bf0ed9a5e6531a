import assert from "node:assert/strict";
import { test } from "node:test";
import { VoiceClosedError, VoiceInput } from "../src/lib/voice";

test("a microphone that opens after the voice input was closed is released at once", async () => {
  const stopped: string[] = [];
  let grant!: () => void;
  const track = { readyState: "live", stop: () => stopped.push("track") };
  const stream = { getTracks: () => [track] } as unknown as MediaStream;
  const getUserMedia = () => new Promise<MediaStream>((resolve) => (grant = () => resolve(stream)));
  Object.defineProperty(globalThis, "navigator", { value: { mediaDevices: { getUserMedia } }, configurable: true });
  const voice = new VoiceInput({ utterance: () => undefined, speechStart: () => undefined });

  const recording = voice.startRecording();
  voice.close();
  grant();

  await assert.rejects(recording, VoiceClosedError);
  assert.deepEqual(stopped, ["track"]);
});

test("callers asking for the microphone at the same time share one stream", async () => {
  let opened = 0;
  const stream = { getTracks: () => [] } as unknown as MediaStream;
  const getUserMedia = async () => {
    opened += 1;
    return stream;
  };
  Object.defineProperty(globalThis, "navigator", { value: { mediaDevices: { getUserMedia } }, configurable: true });
  const voice = new VoiceInput({ utterance: () => undefined, speechStart: () => undefined });
  const microphone = (voice as unknown as { microphone(): Promise<MediaStream> }).microphone.bind(voice);
  const [first, second] = await Promise.all([microphone(), microphone()]);
  assert.equal(first, second);
  assert.equal(opened, 1);
});
