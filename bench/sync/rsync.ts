/**
 * rsync as a baseline: B is an rsync daemon on 127.0.0.1 in the run's
 * namespace (module [B] -> B's folder), A is a client pushing
 * `rsync -a --delete A/ rsync://127.0.0.1:PORT/B/` over plain TCP, delta
 * algorithm on, as for any non-local transfer. rsync does not fsync.
 *
 * Both sides run under /usr/bin/time, whose rusage covers the daemon's
 * forked receiver too: that gives peak RSS and CPU of each side. A fresh
 * daemon serves each timed push, so its figures are that push's alone.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { OneShotTool, OneShotUsage, RunDirs, Server } from './measure.js';
import { hasCommand, processTree, runChecked, startProcess, waitExit } from './system.js';

const port = 8730;
const timeFormat = '%M %U %S';

function usageFrom(file: string): OneShotUsage {
  const fields = readFileSync(file, 'utf8').trim().split('\n').pop()?.trim().split(/\s+/).map(Number) ?? [];
  const [maxRssKb, user, system] = fields;
  if (maxRssKb === undefined || user === undefined || system === undefined) throw new Error(`cannot read ${file}`);
  return { peakRssMb: maxRssKb / 1024, cpuSeconds: user + system };
}

let serial = 0;

export function rsyncTool(): OneShotTool {
  return {
    name: 'rsync',
    kind: 'oneshot',
    unavailable: () => (!hasCommand('rsync') ? 'rsync is not installed' : !hasCommand('/usr/bin/time') ? '/usr/bin/time is not installed' : null),

    async startServer(run: RunDirs): Promise<Server> {
      serial++;
      const conf = join(run.root, 'rsyncd.conf');
      writeFileSync(conf, `use chroot = no\nuid = root\ngid = root\n[B]\n  path = ${run.b}\n  read only = no\n`);
      const timeFile = join(run.root, `rsyncd-${serial}.time`);
      const daemon: ChildProcess = startProcess('/usr/bin/time', ['-f', timeFormat, '-o', timeFile,
        'rsync', '--daemon', '--no-detach', '--address=127.0.0.1', `--port=${port}`, `--config=${conf}`, `--log-file=${join(run.root, 'rsyncd.log')}`], {
        prefix: run.ns.prefix, logFile: join(run.root, 'rsyncd.out'),
      });
      for (let i = 0; ; i++) {
        try {
          runChecked('rsync', [`rsync://127.0.0.1:${port}/`], { prefix: run.ns.prefix, timeoutMs: 5_000 });
          break;
        } catch (e) {
          if (i > 100) throw e;
          await sleep(50);
        }
      }
      return {
        pid: daemon.pid as number,
        async stop() {
          // time's child is the rsync daemon: stop it, and time reports (reaped receivers included).
          const rsyncd = processTree(daemon.pid as number).slice(1, 2);
          for (const pid of rsyncd) process.kill(pid, 'SIGTERM');
          await waitExit(daemon);
          return usageFrom(timeFile);
        },
      };
    },

    async push(run: RunDirs): Promise<OneShotUsage> {
      serial++;
      const timeFile = join(run.root, `rsync-client-${serial}.time`);
      const client = startProcess('/usr/bin/time', ['-f', timeFormat, '-o', timeFile, 'rsync', '-a', '--delete', `${run.a}/`, `rsync://127.0.0.1:${port}/B/`], {
        prefix: run.ns.prefix, logFile: join(run.root, 'rsync-client.log'),
      });
      const code = await waitExit(client);
      if (code !== 0) throw new Error(`rsync client exited with ${code}: ${readFileSync(join(run.root, 'rsync-client.log'), 'utf8').slice(-2000)}`);
      return usageFrom(timeFile);
    },
  };
}
