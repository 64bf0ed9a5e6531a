import assert from "node:assert/strict";
import { mock, test } from "node:test";
import { PRE_ROLL_MS, UPLOAD_RATE, VoiceClosedError, VoiceInput } from "../src/lib/voice";

test("a microphone that opens after the voice input was closed is released at once", async () => {
  const stopped: string[] = [];
  let grant!: () => void;
  const track = { readyState: "live", stop: () => stopped.push("track") };
  const stream = { getTracks: () => [track] } as unknown as MediaStream;
  const getUserMedia = () => new Promise<MediaStream>((resolve) => (grant = () => resolve(stream)));
  Object.defineProperty(globalThis, "navigator", { value: { mediaDevices: { getUserMedia } }, configurable: true });
  const voice = new VoiceInput({ utterance: () => undefined, speechStart: () => undefined }, { endOfSpeechMs: 500 });

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
  const voice = new VoiceInput({ utterance: () => undefined, speechStart: () => undefined }, { endOfSpeechMs: 500 });
  const microphone = (voice as unknown as { microphone(): Promise<MediaStream> }).microphone.bind(voice);
  const [first, second] = await Promise.all([microphone(), microphone()]);
  assert.equal(first, second);
  assert.equal(opened, 1);
});

/** A microphone whose level the test sets, heard through a fake of the Web Audio API at 48 kHz. */
function fakeMicrophone(): { level: { value: number }; hear(ms: number): void } {
  const rate = 48_000;
  const level = { value: 0 };
  let capture: { onaudioprocess: ((event: unknown) => void) | null } | null = null;
  const stream = { getTracks: () => [] } as unknown as MediaStream;
  Object.defineProperty(globalThis, "navigator", {
    value: { mediaDevices: { getUserMedia: async () => stream } },
    configurable: true,
  });
  class FakeAudioContext {
    sampleRate = rate;
    destination = {};
    createAnalyser() {
      return { fftSize: 0, connect: () => undefined, getFloatTimeDomainData: (frame: Float32Array) => frame.fill(level.value) };
    }
    createMediaStreamSource() {
      return { connect: () => undefined };
    }
    createScriptProcessor() {
      capture = { onaudioprocess: null };
      return Object.assign(capture, { connect: () => undefined });
    }
    close() {
      return Promise.resolve();
    }
  }
  Object.assign(globalThis, { AudioContext: FakeAudioContext });
  return {
    level,
    hear: (ms) => {
      const samples = new Float32Array((rate * ms) / 1000).fill(level.value);
      capture?.onaudioprocess?.({ inputBuffer: { getChannelData: () => samples } });
    },
  };
}

interface Sent {
  /** How long after the speaker fell silent the utterance was handed over, in ms on the injected clock. */
  afterSilenceMs: number;
  audio: Blob;
}

/** One second of speech between silences, heard hands-free by a voice input with this end-of-speech wait. */
async function speakOnce(endOfSpeechMs: number): Promise<Sent> {
  const microphone = fakeMicrophone();
  const clock = { ms: 0 };
  let sent: { at: number; audio: Blob } | null = null;
  const voice = new VoiceInput(
    { utterance: (audio) => (sent = { at: clock.ms, audio }), speechStart: () => undefined },
    { endOfSpeechMs, now: () => clock.ms },
  );
  mock.timers.enable({ apis: ["setInterval"] });
  try {
    await voice.startHandsFree();
    const advance = (ms: number): void => {
      for (let step = 0; step < ms; step += 10) {
        clock.ms += 10;
        microphone.hear(10);
        mock.timers.tick(10);
      }
    };
    advance(500);
    microphone.level.value = 0.3;
    advance(1000);
    microphone.level.value = 0;
    const silentFrom = clock.ms;
    advance(4000);
    const { at, audio } = sent ?? assert.fail("the utterance was never sent");
    return { afterSilenceMs: at - silentFrom, audio };
  } finally {
    voice.close();
    mock.timers.reset();
  }
}

test("the avatar's end-of-speech wait decides when a hands-free utterance is sent", async () => {
  for (const wait of [1500, 300]) {
    const { afterSilenceMs } = await speakOnce(wait);
    assert.ok(afterSilenceMs >= wait && afterSilenceMs <= wait + 20, `sent ${afterSilenceMs} ms after the silence began`);
  }
});

test("a hands-free utterance is 16 kHz WAV with all of the speech and the moment before it", async () => {
  const { audio } = await speakOnce(700);
  assert.equal(audio.type, "audio/wav");
  const bytes = new DataView(await audio.arrayBuffer());
  assert.equal(String.fromCharCode(...new Uint8Array(bytes.buffer, 0, 4)), "RIFF");
  assert.equal(bytes.getUint32(24, true), UPLOAD_RATE);
  const samples = new Int16Array(bytes.buffer, 44);
  const loud = samples.reduce((count, sample) => count + (sample > 0 ? 1 : 0), 0);
  const before = samples.findIndex((sample) => sample > 0);
  // The detector needs a few loud frames (60-80 ms here) to start speech: none of that second is lost, and
  // what is kept before it is the pre-roll less those frames.
  assert.equal(loud, UPLOAD_RATE);
  const beforeMs = (1000 * before) / UPLOAD_RATE;
  assert.ok(beforeMs >= PRE_ROLL_MS - 100 && beforeMs < PRE_ROLL_MS, `${beforeMs} ms of silence before the speech`);
});

test("the recording offered at a pause is the utterance, unless the speaker speaks on", async () => {
  const microphone = fakeMicrophone();
  const clock = { ms: 0 };
  const paused: Blob[] = [];
  const sent: Blob[] = [];
  const voice = new VoiceInput(
    { utterance: (audio) => sent.push(audio), speechStart: () => undefined, pause: (audio) => paused.push(audio) },
    { endOfSpeechMs: 500, now: () => clock.ms },
  );
  mock.timers.enable({ apis: ["setInterval"] });
  const advance = (ms: number): void => {
    for (let step = 0; step < ms; step += 10) {
      clock.ms += 10;
      microphone.hear(10);
      mock.timers.tick(10);
    }
  };
  const speak = (ms: number): void => {
    microphone.level.value = 0.3;
    advance(ms);
    microphone.level.value = 0;
  };
  try {
    await voice.startHandsFree();
    advance(500);
    // A pause within the question: offered ahead, then the speaker goes on; the longer utterance is sent.
    speak(1000);
    advance(300);
    assert.equal(paused.length, 1);
    assert.equal(sent.length, 0);
    speak(500);
    advance(1000);
    assert.equal(paused.length, 2);
    assert.equal(sent.length, 1);
    assert.notEqual(sent[0], paused[0]);
    // The last pause became the end of speech: what was offered then is what went, the same blob.
    assert.equal(sent[0], paused[1]);
    const samples = new Int16Array(await sent[0].arrayBuffer(), 44);
    assert.equal(samples.reduce((count, sample) => count + (sample > 0 ? 1 : 0), 0), 1.5 * UPLOAD_RATE);
  } finally {
    voice.close();
    mock.timers.reset();
  }
});
