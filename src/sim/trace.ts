/**
 * The run's trace: one line per step, folded into a SHA-256 as it goes (the
 * trace hash: same seed, same hash), the last lines kept in a ring for failure
 * reports, and optionally every line kept for `--trace FILE`.
 *
 * Lines are handed to the hash in chunks of about `chunkChars` characters
 * rather than one by one: the digest is the same (SHA-256 of the same bytes
 * in the same order), and a hash update per line cost more than the line.
 */
import { createHash, type Hash } from 'node:crypto';

const chunkChars = 64 * 1024;

export class Trace {
  private readonly hash: Hash = createHash('sha256');
  /** Lines not yet handed to the hash, and their length with a newline each. */
  private pending: string[] = [];
  private pendingChars = 0;
  private readonly ring: string[];
  private next = 0;
  private count = 0;
  readonly full: string[] | null;

  constructor(private readonly tailLines: number, keepAll: boolean) {
    this.ring = new Array<string>(tailLines);
    this.full = keepAll ? [] : null;
  }

  add(line: string): void {
    this.pending.push(line);
    this.pendingChars += line.length + 1;
    if (this.pendingChars >= chunkChars) this.hashPending(this.hash);
    this.count++;
    if (this.tailLines > 0) {
      this.ring[this.next] = line;
      this.next = (this.next + 1) % this.tailLines;
    }
    this.full?.push(line);
  }

  get lines(): number {
    return this.count;
  }

  /** The hash of everything so far (the trace keeps accumulating). */
  digest(): string {
    return this.hash.copy().update(this.pendingText()).digest('hex');
  }

  /** The pending lines, each followed by a newline, as one flat string (a join, not a rope of pieces). */
  private pendingText(): string {
    return this.pending.length === 0 ? '' : `${this.pending.join('\n')}\n`;
  }

  private hashPending(h: Hash): void {
    h.update(this.pendingText());
    this.pending = [];
    this.pendingChars = 0;
  }

  /** The last lines, oldest first. */
  tail(): string[] {
    const n = Math.min(this.count, this.tailLines);
    const out: string[] = [];
    for (let i = n; i > 0; i--) out.push(this.ring[(this.next - i + this.tailLines) % this.tailLines] as string);
    return out;
  }
}
