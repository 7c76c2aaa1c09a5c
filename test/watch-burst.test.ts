/**
 * How the watcher tells a burst of uploads from one uploader at a time (BurstWatch in
 * src/hooks/watch-round.ts): uploads waiting when a round ends mean a burst, and the next round waits
 * until the scans see no new upload for QUIET_MS; an upload arriving after a verdict is taken at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BurstWatch, QUIET_MS } from '../src/hooks/watch-round.js';

test('an upload that arrives after the round ended is taken at once', () => {
  const b = new BurstWatch();
  b.scanned(['a.tram'], 1000);
  assert.equal(b.arriving(1000), false, 'the first upload of an idle watcher goes at once');
  b.roundStarted();
  b.roundEnded();
  b.scanned([], 1400); // the scan right after the round: nothing waited
  b.scanned(['b.tram'], 1500); // the same uploader's next upload
  assert.equal(b.arriving(1500), false);
});

test('uploads waiting when a round ends: the next round waits until no new upload appeared for QUIET_MS', () => {
  const b = new BurstWatch();
  b.scanned(['a.tram'], 1000);
  b.roundStarted();
  b.roundEnded();
  b.scanned(['b.tram', 'c.tram'], 1400); // arrived while the round published
  assert.equal(b.arriving(1400), true);
  b.scanned(['b.tram', 'c.tram', 'd.tram'], 1450);
  assert.equal(b.arriving(1450 + QUIET_MS - 1), true, 'a new one restarts the quiet time');
  b.scanned(['b.tram', 'c.tram', 'd.tram'], 1450 + QUIET_MS);
  assert.equal(b.arriving(1450 + QUIET_MS), false, 'quiet: take the round');
  b.roundStarted();
  assert.equal(b.arriving(1450 + QUIET_MS), false);
});

test('a burst that drained ends: an empty scan forgets it', () => {
  const b = new BurstWatch();
  b.roundEnded();
  b.scanned(['x.tram'], 10);
  assert.equal(b.arriving(10), true);
  b.scanned([], 20);
  b.scanned(['y.tram'], 30);
  assert.equal(b.arriving(30), false);
});
