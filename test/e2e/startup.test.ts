/**
 * Files written while a daemon starts (during its first scan, and between
 * that scan and the watcher being ready) are not missed: `create --detach`
 * returns as soon as the daemon listens, long before either is done.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cleanup, createPeer, describePeers, joinPeer, treesEqual, waitFor, type Peer } from './helpers.js';

describe('a daemon starting up', { timeout: 180_000 }, () => {
  const peers: Peer[] = [];
  after(async () => cleanup(peers));

  it('sees every file written while it scans and starts watching', async () => {
    let n = 0;
    let writing = true;
    const writeAll = (dir: string): (() => void) => {
      const timer = setInterval(() => {
        if (!writing) return;
        mkdirSync(join(dir, `d${n % 7}`), { recursive: true });
        writeFileSync(join(dir, `d${n % 7}`, `f${n}.txt`), `file ${n}\n`);
        n += 1;
      }, 5);
      return () => clearInterval(timer);
    };
    const a = await createPeer('start-a');
    peers.push(a);
    const stop = writeAll(a.dir);
    await new Promise((r) => setTimeout(r, 1500));
    writing = false;
    stop();
    const b = await joinPeer('start-b', a);
    peers.push(b);
    await waitFor(`all ${n} files on B`, () => treesEqual(peers), 60_000, () => describePeers(peers));
  });
});
