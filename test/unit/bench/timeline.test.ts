import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DecisionRecord } from '../../../lib/drain/decision-log.ts';
import { escapeXml, layoutLabels, marksFromDecisions, renderTimelineSvg, runsOf, tickStepSeconds } from '../../../lib/bench/timeline.ts';
import { sample } from './fixtures.ts';

describe('marksFromDecisions', () => {
  it('places gate, transfer, leave and removal decisions on the run clock, skipping the rest', () => {
    const origin = Date.parse('2026-11-22T03:00:00.000Z');
    const at = (ms: number) => new Date(origin + ms).toISOString();
    const records: DecisionRecord[] = [
      { at: at(1_000), elapsedMs: 0, procedure: 'gate', target: 'green-4', event: 'gate-waiting', message: '' },
      { at: at(9_500), elapsedMs: 0, procedure: 'gate', target: 'green-4', event: 'gate-passed', message: '' },
      { at: at(12_000), elapsedMs: 0, procedure: 'drain', target: 'blue-1', event: 'lock-acquired', message: '' },
      { at: at(12_100), elapsedMs: 0, procedure: 'drain', target: 'blue-1', event: 'leadership-transferred', message: '' },
      { at: at(12_200), elapsedMs: 0, procedure: 'drain', target: 'blue-1', event: 'leave-sent', message: '' },
      { at: at(14_000), elapsedMs: 0, procedure: 'drain', target: 'blue-1', event: 'removal-confirmed', message: '' },
    ];
    assert.deepEqual(marksFromDecisions(records, origin), [
      { atMs: 9_500, kind: 'gate', label: 'gate green-4' },
      { atMs: 12_100, kind: 'transfer', label: 'transfer blue-1' },
      { atMs: 12_200, kind: 'leave', label: 'leave blue-1' },
      { atMs: 14_000, kind: 'removed', label: 'removed blue-1' },
    ]);
  });
});

describe('runsOf', () => {
  it('merges consecutive equal points into runs lasting until the next change', () => {
    const points = [0, 100, 200, 300, 400].map((atMs, i) => ({ atMs, on: i !== 2 && i !== 3 }));
    assert.deepEqual(runsOf(points, 500), [
      { fromMs: 0, toMs: 200, on: true },
      { fromMs: 200, toMs: 400, on: false },
      { fromMs: 400, toMs: 500, on: true },
    ]);
    assert.deepEqual(runsOf([], 10), []);
  });
});

describe('renderTimelineSvg', () => {
  const svg = renderTimelineSvg({
    title: 'naive-terminate: 3 servers <run 1>',
    samples: [sample(0, 'a', 1, 2), sample(100, 'a', 1, 2), sample(200, '', undefined, undefined), sample(300, 'b', 0, 3)],
    writes: [
      { atMs: 0, acknowledged: true },
      { atMs: 200, acknowledged: false },
      { atMs: 250, acknowledged: true },
    ],
    marks: [{ atMs: 150, kind: 'kill', label: 'kill -9 blue-1 (leader)' }],
  });

  it('is one well-formed SVG document with an escaped title', () => {
    assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.match(svg, /<\/svg>\n$/);
    assert.ok(svg.includes('naive-terminate: 3 servers &lt;run 1&gt;'));
    assert.equal(svg.split('<svg').length, 2);
  });

  it('breaks the tolerance line where there was no leader, and marks leaderless time and failed writes red', () => {
    assert.equal((svg.match(/stroke="#1565c0" stroke-width="2"/g) ?? []).length, 2, 'two tolerance segments around the gap');
    assert.equal((svg.match(/fill="#e53935"/g) ?? []).length, 2, 'one leaderless run, one failed-writes run');
    assert.ok(svg.includes('kill -9 blue-1 (leader)'));
  });
});

describe('layoutLabels', () => {
  it('stacks labels that would overlap into further rows, and turns labels at the right edge leftwards', () => {
    const placed = layoutLabels(
      [
        { x: 100, text: 'kill -9 blue-1' },
        { x: 101, text: 'kill -9 blue-2' },
        { x: 400, text: 'gate green-4' },
        { x: 995, text: 'last action done' },
      ],
      1000,
    );
    assert.deepEqual(placed, [
      { row: 0, anchor: 'start' },
      { row: 1, anchor: 'start' },
      { row: 0, anchor: 'start' },
      { row: 0, anchor: 'end' },
    ]);
  });
});

describe('helpers', () => {
  it('picks at most ~12 ticks and escapes XML', () => {
    assert.equal(tickStepSeconds(9), 1);
    assert.equal(tickStepSeconds(70), 10);
    assert.equal(tickStepSeconds(200), 30);
    assert.equal(escapeXml(`a<b>&"c'`), 'a&lt;b&gt;&amp;&quot;c&apos;');
  });
});
