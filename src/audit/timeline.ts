/**
 * A picture of an explanation: `ploppy explain PATH --svg FILE` (or --html).
 *
 * Layout: one horizontal lane per peer (this peer first, then the others in
 * order of appearance); time runs left to right, one column per step in log
 * order. A remote version gets a node on its author's lane in the column
 * before it first reaches us, a relay node on the lane of the neighbour that
 * passed it on (when that is not its author), and arrows from there to the
 * step on our lane where its message arrived. Decisions are shapes on our
 * lane: diamonds for decisions (red for a conflict), squares for disk
 * outcomes, circles for versions. Every node has a tooltip with the full step.
 *
 * The SVG is written by hand: no library, no external reference, so the file
 * opens anywhere on its own.
 */
import type { Explanation } from './explain.js';
import type { Step } from './story.js';
import { formatVector } from './versions.js';

const laneHeightPx = 90;
const columnWidthPx = 96;
const marginLeftPx = 150;
const marginTopPx = 60;

export const escapeXml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');

interface Node {
  readonly lane: number;
  readonly column: number;
  readonly shape: 'circle' | 'diamond' | 'square';
  readonly colour: string;
  readonly label: string;
  readonly title: string;
}

interface Arrow {
  readonly from: { lane: number; column: number };
  readonly to: { lane: number; column: number };
  readonly dashed: boolean;
  readonly label: string;
}

function styleOf(step: Step): { shape: Node['shape']; colour: string; label: string } {
  switch (step.event) {
    case 'LocalFileChanged': case 'LocalFileDeleted': case 'LocalFileMoved':
      return { shape: 'circle', colour: '#2f6fbf', label: step.event === 'LocalFileDeleted' ? 'deleted here' : step.event === 'LocalFileMoved' ? 'renamed here' : 'edited here' };
    case 'MessageReceived':
      return { shape: 'circle', colour: '#7a7a7a', label: step.cmd ?? 'message' };
    case 'VersionAccepted':
      return { shape: 'diamond', colour: '#2e8b57', label: 'accepted' };
    case 'VersionSuperseded':
      return { shape: 'diamond', colour: '#9a9a9a', label: 'superseded' };
    case 'VersionsMerged':
      return { shape: 'diamond', colour: '#8a4fbf', label: 'merged' };
    case 'ConflictDetected':
      return { shape: 'diamond', colour: '#c0392b', label: `conflict (${step.rule ?? ''})` };
    case 'ConflictResolved':
      return { shape: 'diamond', colour: '#d68910', label: 'resolved' };
    case 'FileCommitted':
      return { shape: 'square', colour: '#1e6b3a', label: 'on disk' };
    case 'TransferFailed': case 'BlockRejected':
      return { shape: 'square', colour: '#e67e22', label: step.event === 'BlockRejected' ? 'block rejected' : 'failed' };
    case 'BlockVerified':
      return { shape: 'square', colour: '#5d9b74', label: `${step.blocks ?? 1} blocks` };
    default:
      return { shape: 'circle', colour: '#555555', label: step.event };
  }
}

/** Lanes and columns for every node and arrow of the picture. */
function layout(x: Explanation): { lanes: string[]; nodes: Node[]; arrows: Arrow[]; columns: number } {
  const self = x.self ?? 'this peer';
  const lanes = [self];
  const laneOf = (peer: string): number => {
    const i = lanes.indexOf(peer);
    if (i >= 0) return i;
    lanes.push(peer);
    return lanes.length - 1;
  };
  const nodes: Node[] = [];
  const arrows: Arrow[] = [];
  const made = new Map<string, { lane: number; column: number }>();
  let column = 0;
  for (const step of x.steps) {
    const v = step.version;
    if (step.route !== undefined && v !== undefined && step.from !== undefined && step.versionId !== undefined) {
      let origin = made.get(step.versionId);
      if (origin === undefined && v.author !== x.self) {
        origin = { lane: laneOf(v.author), column: column++ };
        made.set(step.versionId, origin);
        nodes.push({ ...origin, shape: 'circle', colour: '#2f6fbf', label: `{${formatVector(v.vv)}}`, title: `version made by ${v.author} at ${v.time}` });
      }
      if (origin !== undefined && step.from !== v.author) {
        const relay = { lane: laneOf(step.from), column: column++ };
        nodes.push({ ...relay, shape: 'circle', colour: '#b0b0b0', label: 'relayed', title: `${step.from} passed it on` });
        arrows.push({ from: origin, to: relay, dashed: step.route.hops.includes('…'), label: '' });
        origin = relay;
      }
      if (origin !== undefined) arrows.push({ from: origin, to: { lane: 0, column }, dashed: false, label: step.cmd ?? '' });
    }
    const style = styleOf(step);
    nodes.push({ lane: 0, column, shape: style.shape, colour: style.colour, label: style.label, title: `#${step.seq} ${step.time}: ${step.what}` });
    if (step.versionId !== undefined && !made.has(step.versionId) && v?.author === x.self) made.set(step.versionId, { lane: 0, column });
    column++;
  }
  return { lanes, nodes, arrows, columns: Math.max(column, 1) };
}

const at = (p: { lane: number; column: number }): { x: number; y: number } => ({
  x: marginLeftPx + p.column * columnWidthPx + columnWidthPx / 2,
  y: marginTopPx + p.lane * laneHeightPx + laneHeightPx / 2,
});

function shapeSvg(n: Node): string {
  const { x, y } = at(n);
  const r = 9;
  const body = n.shape === 'circle'
    ? `<circle cx="${x}" cy="${y}" r="${r}" fill="${n.colour}"/>`
    : n.shape === 'square'
      ? `<rect x="${x - r}" y="${y - r}" width="${2 * r}" height="${2 * r}" fill="${n.colour}"/>`
      : `<polygon points="${x},${y - r - 2} ${x + r + 2},${y} ${x},${y + r + 2} ${x - r - 2},${y}" fill="${n.colour}"/>`;
  const label = `<text x="${x}" y="${y + 26}" text-anchor="middle" font-size="10">${escapeXml(n.label)}</text>`;
  return `<g><title>${escapeXml(n.title)}</title>${body}${label}</g>`;
}

function arrowSvg(a: Arrow): string {
  const f = at(a.from);
  const t = at(a.to);
  const dash = a.dashed ? ' stroke-dasharray="5,4"' : '';
  const mid = { x: (f.x + t.x) / 2, y: (f.y + t.y) / 2 };
  const label = a.label === '' ? '' : `<text x="${mid.x + 4}" y="${mid.y - 4}" font-size="9" fill="#555">${escapeXml(a.label)}</text>`;
  return `<line x1="${f.x}" y1="${f.y}" x2="${t.x}" y2="${t.y}" stroke="#666" stroke-width="1.5"${dash} marker-end="url(#arrow)"/>${label}`;
}

/** The explanation as a standalone SVG document. */
export function timelineSvg(x: Explanation): string {
  const { lanes, nodes, arrows, columns } = layout(x);
  const width = marginLeftPx + columns * columnWidthPx + 20;
  const height = marginTopPx + lanes.length * laneHeightPx + 20;
  const laneSvg = lanes.map((peer, i) => {
    const y = marginTopPx + i * laneHeightPx + laneHeightPx / 2;
    const name = i === 0 ? `${peer.slice(0, 8)} (this peer)` : peer.slice(0, 8);
    return `<line x1="${marginLeftPx}" y1="${y}" x2="${width - 10}" y2="${y}" stroke="#ddd" stroke-width="2"/>` +
      `<text x="10" y="${y + 4}" font-size="12" font-family="monospace"><title>${escapeXml(peer)}</title>${escapeXml(name)}</text>`;
  });
  const title = `ploppy explain ${x.path} (as of seq ${x.head})`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<title>${escapeXml(title)}</title>`,
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="18" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#666"/></marker></defs>',
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="10" y="24" font-size="15" font-weight="bold">${escapeXml(title)}</text>`,
    `<text x="10" y="44" font-size="11" fill="#555">${escapeXml(x.status === null ? 'unknown to this peer' : `now: ${x.status.state}`)}</text>`,
    ...laneSvg,
    ...arrows.map(arrowSvg),
    ...nodes.map(shapeSvg),
    '</svg>',
  ].join('\n') + '\n';
}

/** The explanation as a standalone HTML page: the picture, then every step as a table row. */
export function timelineHtml(x: Explanation): string {
  const rows = x.steps.map((s) => `<tr><td>${s.seq}</td><td>${escapeXml(s.time)}</td><td>${escapeXml(s.event)}</td><td>${escapeXml(s.what)}</td></tr>`);
  const reasons = x.notInSync.map((r) => `<li>${escapeXml(r)}</li>`).join('');
  return [
    '<!doctype html>',
    `<html lang="en"><head><meta charset="utf-8"><title>ploppy explain ${escapeXml(x.path)}</title>`,
    '<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;vertical-align:top}td:nth-child(1){text-align:right}svg{max-width:100%;height:auto;border:1px solid #eee}</style>',
    '</head><body>',
    `<h1>${escapeXml(x.path)}</h1>`,
    `<p>On ${escapeXml(x.self ?? 'this peer')}, as of seq ${x.head}: ${escapeXml(x.status?.state ?? 'unknown')}.</p>`,
    reasons === '' ? '' : `<ul>${reasons}</ul>`,
    timelineSvg(x),
    '<table><thead><tr><th>seq</th><th>time (this peer)</th><th>event</th><th>what</th></tr></thead><tbody>',
    ...rows,
    '</tbody></table></body></html>',
  ].join('\n') + '\n';
}
