import assert from "node:assert/strict";
import { test } from "node:test";
import { EnergyVad, rmsDb } from "../src/lib/vad";

function feed(vad: EnergyVad, level: number, frames: number): string[] {
  const transitions: string[] = [];
  for (let i = 0; i < frames; i += 1) {
    const transition = vad.process(level);
    if (transition) transitions.push(transition);
  }
  return transitions;
}

test("speech starts only after enough loud frames", () => {
  const vad = new EnergyVad({ startFrames: 4 });
  feed(vad, -60, 50);
  assert.deepEqual(feed(vad, -20, 3), []);
  assert.deepEqual(feed(vad, -20, 1), ["speech-start"]);
});

test("a short click does not start speech", () => {
  const vad = new EnergyVad({ startFrames: 4 });
  feed(vad, -60, 50);
  assert.deepEqual([...feed(vad, -10, 2), ...feed(vad, -60, 10)], []);
});

test("a pause shorter than the hangover keeps the utterance, a longer one ends it", () => {
  const vad = new EnergyVad({ startFrames: 2, hangoverFrames: 10 });
  feed(vad, -60, 50);
  assert.deepEqual(feed(vad, -20, 5), ["speech-start"]);
  assert.deepEqual(feed(vad, -60, 9), []);
  assert.deepEqual(feed(vad, -20, 5), []);
  assert.deepEqual(feed(vad, -60, 10), ["speech-end"]);
});

test("hysteresis: a level between the stop and start margins keeps speech going but never starts it", () => {
  const vad = new EnergyVad({ startMarginDb: 15, stopMarginDb: 9, startFrames: 2, hangoverFrames: 5, minFloorDb: -60 });
  feed(vad, -60, 20);
  assert.deepEqual(feed(vad, -48, 40), []);
  const started = new EnergyVad({ startMarginDb: 15, stopMarginDb: 9, startFrames: 2, hangoverFrames: 5, minFloorDb: -60 });
  feed(started, -60, 20);
  assert.deepEqual(feed(started, -30, 2), ["speech-start"]);
  assert.deepEqual(feed(started, -48, 40), []);
});

test("the noise floor follows a louder room, so steady noise is not speech", () => {
  const vad = new EnergyVad({ startFrames: 4 });
  assert.deepEqual(feed(vad, -50, 300), []);
  assert.ok(vad.noiseFloorDb > -52);
});

test("rmsDb of a full-scale square wave is 0 dB and of silence very low", () => {
  assert.equal(Math.round(rmsDb(new Float32Array([1, -1, 1, -1]))), 0);
  assert.ok(rmsDb(new Float32Array(64)) <= -100);
});
