/** The SVG/HTML timeline: well-formed, self-contained, one lane per peer involved, every step drawn and escaped. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { escapeXml, explain, timelineHtml, timelineSvg } from '../../../src/audit/index.js';
import type { RecordedEvent } from '../../../src/events/types.js';
import { A, B, C, logsOf, relayed } from './scenarios.js';

/** Tags open and close in order (a minimal well-formedness check; no XML parser is at hand). */
function balanced(xml: string): boolean {
  const stack: string[] = [];
  for (const m of xml.matchAll(/<(\/?)([a-zA-Z][\w-]*)[^>]*?(\/?)>/g)) {
    const [, close, name, selfClose] = m;
    if (selfClose === '/') continue;
    if (close === '/') {
      if (stack.pop() !== name) return false;
    } else stack.push(name as string);
  }
  return stack.length === 0;
}

describe('audit: timeline', () => {
  it('draws A, B and C as lanes for a version relayed through B, with arrows and one node per step', async () => {
    const records = (await logsOf(relayed())).a as RecordedEvent[];
    const x = explain(records, 'notes.txt');
    const svg = timelineSvg(x);
    assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
    assert.ok(balanced(svg), 'tags balance');
    assert.doesNotMatch(svg, /href=|<script|<image/, 'no external references');
    for (const peer of [A, B, C]) assert.ok(svg.includes(`<title>${peer}</title>`), `a lane for ${peer}`);
    const stepNodes = (svg.match(/<title>#\d+ /g) ?? []).length;
    assert.equal(stepNodes, x.steps.length);
    assert.ok((svg.match(/marker-end="url\(#arrow\)"/g) ?? []).length >= 4, 'made -> relayed -> arrived, for both versions');
    assert.ok(svg.includes('relayed'));
  });

  it('escapes what it did not write (paths, peer text) and wraps the SVG in a page with every step', async () => {
    const records = (await logsOf(relayed())).a as RecordedEvent[];
    const x = { ...explain(records, 'notes.txt'), path: 'a<b>&"c\'.txt' };
    const html = timelineHtml(x);
    assert.ok(html.includes(escapeXml('a<b>&"c\'.txt')));
    assert.ok(!html.includes('a<b>'));
    assert.equal((html.match(/<tr><td>/g) ?? []).length, x.steps.length);
    assert.ok(balanced(html.replace(/<!doctype html>/i, '').replace(/<meta[^>]*>/g, '')));
  });
});
