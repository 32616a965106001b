/**
 * What the daemon answers on its control socket: one function per op, each
 * reading the engine's projections (or a rebuild of a prefix of the log for
 * `--as-of`) and returning plain JSON.
 */
import { conflictsFromLog, diffFromLog, directPeers, explainedPath, explainFromLog, exportFromLog, foldUntil } from '../audit/index.js';
import { PloppyError } from '../core/errors.js';
import { ignoredPath } from '../audit/ignored.js';
import { checkPath } from '../core/path.js';
import type { State } from '../projections/state.js';
import { conflictsView, networkView, statusView } from '../projections/views.js';
import { matches, parseBound, seqRange } from '../store/log-query.js';
import { replayReport } from '../store/replay.js';
import { decisionVerifier } from '../store/verify-decisions.js';
import { filterFrom } from '../cli/commands/log.js';
import type { ControlHandler, ControlRequest } from './control.js';
import type { Daemon } from './daemon.js';

const text = (r: ControlRequest, key: string): string | undefined => (typeof r[key] === 'string' ? (r[key] as string) : undefined);

/** The projections as of a sequence number or time (the live state when no bound is given). */
export async function stateAsOf(daemon: Daemon, asOf: string | undefined): Promise<State> {
  const bound = parseBound(asOf, '--as-of');
  if (bound === undefined) return daemon.state;
  return foldUntil(daemon.log.read(), bound);
}

export { foldUntil };

export function controlHandler(daemon: Daemon): ControlHandler {
  return async (request, emitItem) => {
    switch (request.op) {
      case 'hello':
        return { name: daemon.config.name, peer: daemon.config.peer, address: daemon.address, dir: daemon.config.dir, pid: process.pid };
      case 'status': {
        const asOf = text(request, 'asOf');
        const s = await stateAsOf(daemon, asOf);
        const path = text(request, 'path');
        // In the past, who was connected is what that state says, and no scan was running.
        const connected = asOf === undefined ? daemon.connectedPeers : directPeers(s);
        const view = statusView(s, { ...(path !== undefined ? { path: path.replace(/\/+$/, '') } : {}), all: request.all === true, connected });
        const p = asOf === undefined ? daemon.scanning : null;
        return { ...view, scanning: p === null ? null : { filesDone: p.filesHashed, bytesDone: p.bytesHashed } };
      }
      case 'network':
        return networkView(await stateAsOf(daemon, text(request, 'asOf')), daemon.address);
      case 'conflicts':
        if (request.details !== true) return conflictsView(daemon.state);
        await daemon.whenIdle();
        return conflictsFromLog(daemon.log, conflictsView(daemon.state));
      case 'explain':
        return explain(daemon, request);
      case 'diff':
        return diffFromLog(daemon.log, text(request, 'from') ?? '', text(request, 'to'));
      case 'export':
        await daemon.whenIdle();
        return exportFromLog(daemon.log, typeof request.from === 'number' ? request.from : 1, emitItem);
      case 'resolve':
        return resolve(daemon, request);
      case 'log': {
        const filter = filterFrom((request.filter ?? {}) as Record<string, string>);
        for await (const e of daemon.log.read(seqRange(filter))) if (matches(e, filter)) emitItem(e);
        return null;
      }
      case 'replay': {
        const until = typeof request.until === 'number' ? request.until : undefined;
        await daemon.whenIdle();
        return replayReport(daemon.log, daemon.state, { ...(until !== undefined ? { until } : {}), ...(request.verify === true ? { verifyDecisions: decisionVerifier } : {}) });
      }
      case 'stop':
        setImmediate(() => void daemon.stop());
        return { stopping: true };
      case 'leave':
        setImmediate(() => void daemon.leave(request.deleteDir === true));
        return { leaving: true };
      default:
        throw new PloppyError('USAGE', `unknown control op ${JSON.stringify(request.op)}`);
    }
  };
}

async function explain(daemon: Daemon, request: ControlRequest) {
  const path = explainedPath(text(request, 'path') ?? '');
  const asOf = text(request, 'asOf');
  const ignored = await ignoredPath(daemon.config.dir, path);
  await daemon.whenIdle();
  return explainFromLog(daemon.log, path, asOf, { ignored, ...(asOf === undefined ? { connected: daemon.connectedPeers } : {}) });
}

async function resolve(daemon: Daemon, request: ControlRequest): Promise<{ path: string; copyPath: string }> {
  const asked = checkPath(text(request, 'path'));
  const keep = request.keep;
  if (keep !== 'winner' && keep !== 'other' && keep !== 'both') throw new PloppyError('USAGE', '--keep must be winner, other or both');
  const conflict = [...daemon.state.conflicts.values()].find((c) => c.path === asked || c.copyPath === asked);
  if (conflict === undefined) throw new PloppyError('CONFLICT_NOT_FOUND', `no unresolved conflict at ${asked}`);
  daemon.submit({ kind: 'command', command: { kind: 'resolve', path: conflict.path, keep } });
  await daemon.whenIdle();
  return { path: conflict.path, copyPath: conflict.copyPath };
}
