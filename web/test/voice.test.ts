import assert from "node:assert/strict";
import { mock, test } from "node:test";
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

/** A microphone whose level the test sets, heard through fakes of the Web Audio and MediaRecorder APIs. */
function fakeMicrophone(): { level: { value: number } } {
  const level = { value: 0 };
  const stream = { getTracks: () => [] } as unknown as MediaStream;
  Object.defineProperty(globalThis, "navigator", {
    value: { mediaDevices: { getUserMedia: async () => stream } },
    configurable: true,
  });
  class FakeAudioContext {
    createAnalyser() {
      return { fftSize: 0, getFloatTimeDomainData: (frame: Float32Array) => frame.fill(level.value) };
    }
    createMediaStreamSource() {
      return { connect: () => undefined };
    }
    close() {
      return Promise.resolve();
    }
  }
  class FakeRecorder {
    static isTypeSupported = () => true;
    mimeType = "audio/webm";
    ondataavailable: ((event: { data: Blob }) => void) | null = null;
    onstop: (() => void) | null = null;
    start(): void {}
    stop(): void {
      this.ondataavailable?.({ data: new Blob(["speech"]) });
      this.onstop?.();
    }
  }
  Object.assign(globalThis, { AudioContext: FakeAudioContext, MediaRecorder: FakeRecorder });
  return { level };
}

/** How long after the speaker fell silent the utterance was handed over, in ms on the injected clock. */
async function endOfSpeechAfter(endOfSpeechMs: number | undefined): Promise<number> {
  const { level } = fakeMicrophone();
  const clock = { ms: 0 };
  let sentAt: number | null = null;
  const voice = new VoiceInput(
    { utterance: () => (sentAt = clock.ms), speechStart: () => undefined },
    { endOfSpeechMs, now: () => clock.ms },
  );
  mock.timers.enable({ apis: ["setInterval"] });
  try {
    await voice.startHandsFree();
    const advance = async (ms: number): Promise<void> => {
      for (let step = 0; step < ms; step += 10) {
        clock.ms += 10;
        mock.timers.tick(10);
        // The recorder starts and stops after a microphone promise settles.
        await Promise.resolve();
        await Promise.resolve();
      }
    };
    await advance(500);
    level.value = 0.3;
    await advance(1000);
    level.value = 0;
    const silentFrom = clock.ms;
    await advance(4000);
    assert.notEqual(sentAt, null, "the utterance was never sent");
    return (sentAt ?? 0) - silentFrom;
  } finally {
    voice.close();
    mock.timers.reset();
  }
}

test("the avatar's end-of-speech wait decides when a hands-free utterance is sent", async () => {
  const waited = await endOfSpeechAfter(1500);
  assert.ok(waited >= 1500 && waited <= 1500 + 20, `sent ${waited} ms after the silence began`);
  const short = await endOfSpeechAfter(300);
  assert.ok(short >= 300 && short <= 300 + 20, `sent ${short} ms after the silence began`);
});

test("without a setting, 700 ms of silence end the utterance", async () => {
  const waited = await endOfSpeechAfter(undefined);
  assert.ok(waited >= 700 && waited <= 700 + 20, `sent ${waited} ms after the silence began`);
});
