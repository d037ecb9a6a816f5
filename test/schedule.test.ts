import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ariSelectedTime, backoffUntil, lifetimeRenewalTime } from '../src/core/schedule.js';
import type { RenewalInfo } from '../src/acme/index.js';
import type { RenewalState } from '../src/store/types.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const NOW = Date.parse('2030-01-01T00:00:00Z');

const info = (start: number, end: number): RenewalInfo => ({
  certificateId: 'aaaa.bbbb',
  suggestedWindow: { start: new Date(start), end: new Date(end) },
  retryAfter: new Date(NOW + 6 * HOUR),
});

const previousPick = (selected: number, start: number, end: number): NonNullable<RenewalState['ari']> => ({
  windowStart: new Date(start).toISOString(),
  windowEnd: new Date(end).toISOString(),
  selectedTime: new Date(selected).toISOString(),
  retryAfter: new Date(NOW + 6 * HOUR).toISOString(),
  certSerial: '01',
});

/** Wait in ms that backoffUntil asks for, relative to `now`. */
const waitFor = (failures: number, lifetimeMs: number, retryAfter?: Date): number =>
  backoffUntil(failures, lifetimeMs, NOW, retryAfter).getTime() - NOW;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};
const medianWait = (failures: number, lifetimeMs: number, n = 301): number =>
  median(Array.from({ length: n }, () => waitFor(failures, lifetimeMs)));

// ---- lifetimeRenewalTime ----

test('lifetimeRenewalTime: a 90-day certificate is due with 30 days (1/3) left', () => {
  const notBefore = new Date(NOW);
  const notAfter = new Date(NOW + 90 * DAY);
  const due = lifetimeRenewalTime(notBefore, notAfter);
  assert.equal(notAfter.getTime() - due.getTime(), 30 * DAY);
  assert.equal(due.getTime() - notBefore.getTime(), 60 * DAY);
});

test('lifetimeRenewalTime: a 6-day certificate is due with 3 days (1/2) left', () => {
  const notBefore = new Date(NOW);
  const notAfter = new Date(NOW + 6 * DAY);
  const due = lifetimeRenewalTime(notBefore, notAfter);
  assert.equal(notAfter.getTime() - due.getTime(), 3 * DAY);
});

test('lifetimeRenewalTime: the share switches from 1/2 to 1/3 at a 10-day lifetime', () => {
  const left = (days: number) => {
    const nb = new Date(NOW);
    const na = new Date(NOW + days * DAY);
    return (na.getTime() - lifetimeRenewalTime(nb, na).getTime()) / (days * DAY);
  };
  assert.equal(left(9.9), 1 / 2);
  assert.ok(Math.abs(left(10) - 1 / 3) < 1e-9);
  assert.ok(Math.abs(left(47) - 1 / 3) < 1e-9);
});

// ---- ariSelectedTime ----

test('ariSelectedTime: random()=0 picks the window start, random()=1 the end', () => {
  const start = NOW + 50 * DAY;
  const end = NOW + 52 * DAY;
  assert.equal(ariSelectedTime(info(start, end), undefined, () => 0).getTime(), start);
  assert.equal(ariSelectedTime(info(start, end), undefined, () => 1).getTime(), end);
});

test('ariSelectedTime: for any random value the pick lies inside the window, ordered by the value', () => {
  const start = NOW + 10 * DAY;
  const end = NOW + 11 * DAY + 7 * HOUR;
  let last = -Infinity;
  for (const r of [0, 0.001, 0.1, 0.25, 0.5, 0.6180339, 0.75, 0.9, 0.999, 0.9999999]) {
    const pick = ariSelectedTime(info(start, end), undefined, () => r).getTime();
    assert.ok(pick >= start && pick <= end, `pick for ${r} outside the window`);
    assert.ok(pick >= last, 'picks grow with the random value');
    last = pick;
  }
  // The default random source stays inside too.
  for (let i = 0; i < 200; i++) {
    const pick = ariSelectedTime(info(start, end), undefined).getTime();
    assert.ok(pick >= start && pick <= end);
  }
});

test('ariSelectedTime: a previous pick inside an updated window is kept, random is not consulted', () => {
  const oldStart = NOW + 20 * DAY;
  const oldEnd = NOW + 22 * DAY;
  const selected = NOW + 21 * DAY + 3 * HOUR;
  const prev = previousPick(selected, oldStart, oldEnd);
  // The CA moved the window, but the old pick still lies inside it.
  const newStart = NOW + 21 * DAY;
  const newEnd = NOW + 23 * DAY;
  let calls = 0;
  const pick = ariSelectedTime(info(newStart, newEnd), prev, () => {
    calls++;
    return 0.5;
  });
  assert.equal(pick.getTime(), selected);
  assert.equal(calls, 0);
  // The window bounds themselves count as inside.
  assert.equal(ariSelectedTime(info(selected, newEnd), prev, () => 0.9).getTime(), selected);
  assert.equal(ariSelectedTime(info(newStart, selected), prev, () => 0.1).getTime(), selected);
});

test('ariSelectedTime: a previous pick outside the new window is replaced by a fresh one inside', () => {
  const selected = NOW + 21 * DAY;
  const prev = previousPick(selected, NOW + 20 * DAY, NOW + 22 * DAY);
  // The CA pulled the window forward (e.g. a revocation is coming): the old pick is too late.
  const start = NOW + 1 * HOUR;
  const end = NOW + 3 * HOUR;
  const early = ariSelectedTime(info(start, end), prev, () => 0.25).getTime();
  assert.notEqual(early, selected);
  assert.equal(early, start + 0.25 * (end - start));
  // Window pushed back past the old pick: replaced as well.
  const later = ariSelectedTime(info(NOW + 30 * DAY, NOW + 31 * DAY), prev, () => 0).getTime();
  assert.equal(later, NOW + 30 * DAY);
});

// ---- backoffUntil ----

test('backoffUntil: the wait doubles with each failure until it reaches a cap', (t) => {
  // Jitter neutralised: Math.random()=0.5 gives a factor of exactly 1.
  t.mock.method(Math, 'random', () => 0.5);
  const lifetime = 90 * DAY;
  const waits = Array.from({ length: 16 }, (_, i) => waitFor(i + 1, lifetime));
  let capped = -1;
  for (let i = 1; i < waits.length; i++) {
    const ratio = waits[i]! / waits[i - 1]!;
    if (capped < 0 && ratio < 2 - 1e-9) capped = i;
    if (capped < 0) assert.ok(Math.abs(ratio - 2) < 1e-9, `failure ${i + 1}: ratio ${ratio}`);
    else assert.ok(ratio <= 2 && ratio >= 1, `failure ${i + 1}: ratio ${ratio}`);
  }
  assert.ok(capped > 1, 'a few doublings happen before the cap');
  // Once capped, more failures do not wait longer.
  const top = waits[waits.length - 1]!;
  assert.equal(waits[waits.length - 2], top);
  assert.equal(waitFor(60, lifetime), top);
  assert.ok(top < lifetime, 'the cap is well below the lifetime');
  assert.ok(waits[0]! > 0);
  // Zero failures waits like one (no negative exponent).
  assert.equal(waitFor(0, lifetime), waits[0]);
});

test('backoffUntil: with the real ±10% jitter, medians still double and samples stay within bounds', () => {
  const lifetime = 90 * DAY;
  const m1 = medianWait(1, lifetime);
  const m2 = medianWait(2, lifetime);
  const m3 = medianWait(3, lifetime);
  for (const [a, b] of [
    [m1, m2],
    [m2, m3],
  ] as const) {
    const ratio = b / a;
    assert.ok(ratio > 1.8 && ratio < 2.2, `median ratio ${ratio}`);
  }
  // Every sample lies within ±10% of the median-derived centre.
  for (let i = 0; i < 300; i++) {
    const w = waitFor(2, lifetime);
    assert.ok(w >= m2 * 0.9 * 0.97 && w <= m2 * 1.1 * 1.03, `sample ${w} vs median ${m2}`);
  }
  // Capped: huge failure counts stay bounded by (cap × 1.1) — and the cap is reached.
  const mCap = medianWait(40, lifetime);
  assert.ok(Math.abs(medianWait(50, lifetime) / mCap - 1) < 0.05);
  for (let i = 0; i < 300; i++) assert.ok(waitFor(40, lifetime) <= (mCap / 0.97) * 1.1);
});

test('backoffUntil: a 6-day certificate waits less than a 90-day one for the same failure count', (t) => {
  t.mock.method(Math, 'random', () => 0.5);
  for (const failures of [1, 2, 3, 5, 8, 12, 30]) {
    const short = waitFor(failures, 6 * DAY);
    const long = waitFor(failures, 90 * DAY);
    assert.ok(short < long, `failures=${failures}: 6-day ${short} ms vs 90-day ${long} ms`);
  }
  // Even the short certificate's capped wait leaves room for several retries within its lifetime.
  assert.ok(waitFor(100, 6 * DAY) * 5 < 6 * DAY);
});

test('backoffUntil: a later Retry-After wins, an earlier one does not shorten the wait', (t) => {
  t.mock.method(Math, 'random', () => 0.5);
  const ours = waitFor(1, 90 * DAY);
  const later = new Date(NOW + ours + 3 * HOUR);
  assert.equal(backoffUntil(1, 90 * DAY, NOW, later).getTime(), later.getTime());
  const earlier = new Date(NOW + Math.floor(ours / 2));
  assert.equal(backoffUntil(1, 90 * DAY, NOW, earlier).getTime(), NOW + ours);
  assert.equal(backoffUntil(1, 90 * DAY, NOW).getTime(), NOW + ours);
});
