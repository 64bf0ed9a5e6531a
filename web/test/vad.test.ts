import assert from "node:assert/strict";
import { test } from "node:test";
import { EnergyVad, rmsDb } from "../src/lib/vad";

const FRAME_MS = 20;
/** An end-of-speech wait for the tests that are not about it (every avatar has its own). */
const WAIT_MS = 500;

/** A clock the frames are stamped with, advanced by the feeds alone. */
const clock = { ms: 0 };

function feed(vad: EnergyVad, level: number, frames: number, frameMs = FRAME_MS): string[] {
  const transitions: string[] = [];
  for (let i = 0; i < frames; i += 1) {
    clock.ms += frameMs;
    const transition = vad.process(level, clock.ms);
    if (transition) transitions.push(transition);
  }
  return transitions;
}

test("speech starts only after enough loud frames", () => {
  const vad = new EnergyVad({ startFrames: 4, endOfSpeechMs: WAIT_MS });
  feed(vad, -60, 50);
  assert.deepEqual(feed(vad, -20, 3), []);
  assert.deepEqual(feed(vad, -20, 1), ["speech-start"]);
});

test("a short click does not start speech", () => {
  const vad = new EnergyVad({ startFrames: 4, endOfSpeechMs: WAIT_MS });
  feed(vad, -60, 50);
  assert.deepEqual([...feed(vad, -10, 2), ...feed(vad, -60, 10)], []);
});

test("a pause shorter than the end-of-speech wait keeps the utterance, a longer one ends it", () => {
  const vad = new EnergyVad({ startFrames: 2, endOfSpeechMs: 400, pauseMs: 200 });
  feed(vad, -60, 50);
  assert.deepEqual(feed(vad, -20, 5), ["speech-start"]);
  // The silence is timed from its first quiet frame: 10 quiet frames span 180 ms of it, 11 span 200.
  assert.deepEqual(feed(vad, -60, 10), []);
  assert.deepEqual(feed(vad, -60, 1), ["speech-pause"]);
  assert.deepEqual(feed(vad, -60, 9), []);
  assert.deepEqual(feed(vad, -20, 5), ["speech-resume"]);
  // One pause per silence, then the end once the whole wait has passed.
  assert.deepEqual(feed(vad, -60, 20), ["speech-pause"]);
  assert.deepEqual(feed(vad, -60, 1), ["speech-end"]);
});

test("a pause is reported halfway through a wait shorter than twice the pause", () => {
  const vad = new EnergyVad({ startFrames: 2, endOfSpeechMs: 200, pauseMs: 200 });
  feed(vad, -60, 10);
  assert.deepEqual(feed(vad, -20, 2), ["speech-start"]);
  assert.deepEqual(feed(vad, -60, 5), []);
  assert.deepEqual(feed(vad, -60, 1), ["speech-pause"]);
  assert.deepEqual(feed(vad, -60, 4), []);
  assert.deepEqual(feed(vad, -60, 1), ["speech-end"]);
});

test("the end-of-speech wait is time on the clock, however often frames come", () => {
  for (const frameMs of [10, 20, 250]) {
    const vad = new EnergyVad({ startFrames: 2, endOfSpeechMs: 1000 });
    feed(vad, -60, 10);
    assert.deepEqual(feed(vad, -20, 2), ["speech-start"]);
    const quietFrom = clock.ms + frameMs;
    const transitions: string[] = [];
    while (!transitions.includes("speech-end")) transitions.push(...feed(vad, -60, 1, frameMs));
    assert.deepEqual(transitions, ["speech-pause", "speech-end"]);
    assert.ok(clock.ms - quietFrom >= 1000 && clock.ms - quietFrom < 1000 + frameMs, `${frameMs} ms frames`);
  }
});

test("hysteresis: a level between the stop and start margins keeps speech going but never starts it", () => {
  const vad = new EnergyVad({ startMarginDb: 15, stopMarginDb: 9, startFrames: 2, endOfSpeechMs: 100, minFloorDb: -60 });
  feed(vad, -60, 20);
  assert.deepEqual(feed(vad, -48, 40), []);
  const started = new EnergyVad({ startMarginDb: 15, stopMarginDb: 9, startFrames: 2, endOfSpeechMs: 100, minFloorDb: -60 });
  feed(started, -60, 20);
  assert.deepEqual(feed(started, -30, 2), ["speech-start"]);
  assert.deepEqual(feed(started, -48, 40), []);
});

test("the noise floor follows a louder room, so steady noise is not speech", () => {
  const vad = new EnergyVad({ startFrames: 4, endOfSpeechMs: WAIT_MS });
  assert.deepEqual(feed(vad, -50, 300), []);
  assert.ok(vad.noiseFloorDb > -52);
});

test("rmsDb of a full-scale square wave is 0 dB and of silence very low", () => {
  assert.equal(Math.round(rmsDb(new Float32Array([1, -1, 1, -1]))), 0);
  assert.ok(rmsDb(new Float32Array(64)) <= -100);
});
