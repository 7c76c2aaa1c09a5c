/**
 * How the watcher gathers uploads into rounds (BurstWatch in src/hooks/watch-round.ts): a round waits
 * until the scans have seen no new upload for FIRST_QUIET_MS, or QUIET_MS when uploads were already
 * waiting as the previous round ended (a burst).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BurstWatch, FIRST_QUIET_MS, QUIET_MS } from '../src/hooks/watch-round.js';

test('a lone upload waits FIRST_QUIET_MS for company, then goes', () => {
  const b = new BurstWatch();
  b.scanned(['a.tram'], 1000);
  assert.equal(b.waitMs(1000), FIRST_QUIET_MS);
  assert.equal(b.waitMs(1000 + FIRST_QUIET_MS), 0);
  b.roundStarted();
  b.roundEnded();
  b.scanned([], 1400); // the scan right after the round: nothing waited
  b.scanned(['b.tram'], 1500); // the same uploader's next upload: no burst
  assert.equal(b.waitMs(1500), FIRST_QUIET_MS);
});

test('uploads waiting when a round ends: the next round waits until no new upload appeared for QUIET_MS', () => {
  const b = new BurstWatch();
  b.scanned(['a.tram'], 1000);
  b.roundStarted();
  b.roundEnded();
  b.scanned(['b.tram', 'c.tram'], 1400); // arrived while the round published
  assert.equal(b.waitMs(1400), QUIET_MS);
  b.scanned(['b.tram', 'c.tram', 'd.tram'], 1450);
  assert.equal(b.waitMs(1450 + QUIET_MS - 1), 1, 'a new one restarts the quiet time');
  b.scanned(['b.tram', 'c.tram', 'd.tram'], 1450 + QUIET_MS);
  assert.equal(b.waitMs(1450 + QUIET_MS), 0, 'quiet: take the round');
  b.roundStarted();
  assert.equal(b.waitMs(1450 + QUIET_MS), 0);
});

test('uploads seen before are not new: a steady queue does not keep a round waiting', () => {
  const b = new BurstWatch();
  b.scanned(['x.tram', 'y.tram'], 10);
  b.scanned(['x.tram', 'y.tram'], 10 + FIRST_QUIET_MS);
  assert.equal(b.waitMs(10 + FIRST_QUIET_MS), 0);
  b.roundEnded();
  b.scanned([], 200);
  b.scanned(['z.tram'], 300);
  assert.equal(b.waitMs(300), FIRST_QUIET_MS, 'a drained burst is forgotten');
});
