/**
 * The targets of issue 5, judged on the figures of one run: ratios against
 * the baselines measured in the same run, and a few absolute bounds.
 */
import { editBytes } from './dataset.js';
import type { DatasetName, Measurement, Outcome, ToolName } from './measure.js';

export type Row = { dataset: DatasetName } & Partial<Record<ToolName, Outcome>>;

/** Block size ploppy picks for a 256 MiB file (the smallest power of two >= 128 KiB giving < 2,000 blocks). */
const largeBlockBytes = 256 * 1024;
const editedRegions = 4;
/** Allowance for everything but block bytes in `edit`: four new block lists (~70 KiB each as JSON), requests, framing, TLS and TCP/IP headers. */
const editMetadataBytes = 1024 * 1024;
const liveSecondsMax = 0.3;
const peakRssMbMax = 150; // MB, as the issue states it
const mibPerMb = 1_000_000 / (1024 * 1024);

const m = (o: Outcome | undefined): Measurement | null => (o !== undefined && 'seconds' in o ? o : null);

function ratio(row: Row, baseline: ToolName, limit: number): string {
  const p = m(row.ploppy);
  const b = m(row[baseline]);
  if (p === null || b === null) return `${row.dataset}: time <= ${limit} x ${baseline}: not judged (missing figures)`;
  const r = p.seconds / b.seconds;
  return `${row.dataset}: time <= ${limit} x ${baseline}: ${r <= limit ? 'MET' : 'NOT MET'} (${p.seconds.toFixed(2)} s vs ${b.seconds.toFixed(2)} s, ratio ${r.toFixed(2)})`;
}

function editBytesTarget(row: Row): string {
  const p = m(row.ploppy);
  const budget = 2 * largeBlockBytes * editedRegions + editMetadataBytes;
  if (p === null || p.bytesSent === null) return 'edit: bytes <= 2 blocks per edited region + metadata: not judged (missing figures)';
  const verdict = p.bytesSent <= budget ? 'MET' : 'NOT MET';
  return `edit: bytes <= 2 blocks per edited region (${editedRegions} x ${editBytes} B edits) + 1 MiB metadata = ${(budget / 1024).toFixed(0)} KiB: ${verdict} (${(p.bytesSent / 1024).toFixed(0)} KiB)`;
}

function rssTarget(rows: readonly Row[]): string {
  const peaks = rows.map((r) => m(r.ploppy)).filter((x): x is Measurement => x !== null).map((x) => Math.max(x.peakRssMbA, x.peakRssMbB));
  if (peaks.length === 0) return 'peak RSS <= 150 MB per daemon: not judged (no ploppy figures)';
  const worstMib = Math.max(...peaks);
  const worstMb = worstMib / mibPerMb;
  return `peak RSS <= ${peakRssMbMax} MB per daemon on every dataset: ${worstMb <= peakRssMbMax ? 'MET' : 'NOT MET'} (worst ${worstMb.toFixed(0)} MB = ${worstMib.toFixed(0)} MiB)`;
}

/** One line per target: MET, NOT MET, or not judged. */
export function judge(rows: readonly Row[]): string[] {
  const out: string[] = ['targets (issue 5):'];
  for (const row of rows) {
    switch (row.dataset) {
      case 'large':
      case 'mixed':
        out.push(ratio(row, 'syncthing', 0.5), ratio(row, 'rsync', 1.5));
        break;
      case 'small':
        out.push(ratio(row, 'syncthing', 0.3), ratio(row, 'rsync', 2));
        break;
      case 'edit':
        out.push(editBytesTarget(row), ratio(row, 'syncthing', 1));
        break;
      case 'live': {
        const p = m(row.ploppy);
        out.push(p === null ? 'live: median <= 0.3 s: not judged' : `live: median <= ${liveSecondsMax} s: ${p.seconds <= liveSecondsMax ? 'MET' : 'NOT MET'} (${p.seconds.toFixed(3)} s)`);
        break;
      }
    }
  }
  out.push(rssTarget(rows));
  return out.map((line, i) => (i === 0 ? line : `  ${line}`));
}
