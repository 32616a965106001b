/**
 * fast-check arbitraries for ploppy's vocabulary: ids, paths, clocks, version
 * vectors, file versions, every logged protocol message and every event type.
 * Shared by every property suite.
 *
 * `eventArbitraries` and `loggedMessageArbitraries` are typed as complete maps
 * over the unions, so a new event type or command is a compile error here
 * until it has an arbitrary.
 *
 * Generators draw ids and paths from `Pools`: the defaults range over
 * everything valid (for codec round trips), `smallPools` over a handful of
 * values so that a sequence of events keeps touching the same files and peers
 * (what projections need to be exercised).
 */
import fc from 'fast-check';
import { tick, type Hlc } from '../../src/core/hlc.js';
import type { BlockHash, EventId, MessageId, PeerId } from '../../src/core/ids.js';
import { isSyncPath, type SyncPath } from '../../src/core/path.js';
import { normalise, type VersionVector } from '../../src/core/vv.js';
import type { StampedEvent } from '../../src/engine/types.js';
import type { Command, LoggedMessage, PeerInfo } from '../../src/events/messages.js';
import { currentVersions, type ConflictRule, type Event, type EventOf, type EventType, type LocalObservation, type PendingEvent, type ResolveKeep } from '../../src/events/types.js';
import type { FileType, FileVersion } from '../../src/events/version.js';

// ------------------------------------------------------------------ scalars

const hexDigit = fc.constantFrom(...'0123456789abcdef');
const hex = (length: number): fc.Arbitrary<string> => fc.string({ unit: hexDigit, minLength: length, maxLength: length });

export const peerIdArb: fc.Arbitrary<PeerId> = hex(16).map((s) => s as PeerId);
export const blockHashArb: fc.Arbitrary<BlockHash> = hex(64).map((s) => s as BlockHash);
export const messageIdArb: fc.Arbitrary<MessageId> = fc.uuid().map((s) => s as MessageId);
export const eventIdArb: fc.Arbitrary<EventId> = fc.uuid({ version: 7 }).map((s) => s as EventId);

/** Free text as peers and users may send it: any code point, lone surrogates included. */
export const textArb: fc.Arbitrary<string> = fc.string({ unit: 'binary', maxLength: 40 });
/** Short human-ish text (names, addresses, reasons). */
export const wordArb: fc.Arbitrary<string> = fc.string({ unit: 'grapheme', maxLength: 24 });

export const hlcArb: fc.Arbitrary<Hlc> = fc
  .record({ wallMs: fc.integer({ min: 0, max: 2 ** 47 }), counter: fc.nat({ max: 1000 }) }, { noNullPrototype: true })
  .map(({ wallMs, counter }) => ({ wallMs, counter }));

const segmentArb = fc
  .string({ unit: 'grapheme', minLength: 1, maxLength: 12 })
  .map((s) => s.normalize('NFC').replace(/[/\\\0]/g, '_'))
  .filter((s) => s !== '' && s !== '.' && s !== '..');

/** A valid sync path: NFC, relative, '/'-separated, no empty, '.' or '..' segments. */
export const syncPathArb: fc.Arbitrary<SyncPath> = fc
  .array(segmentArb, { minLength: 1, maxLength: 4 })
  .map((segments) => segments.join('/').normalize('NFC'))
  .filter(isSyncPath)
  .map((p) => p as SyncPath);

export const versionVectorArb = (peers: fc.Arbitrary<PeerId> = peerIdArb): fc.Arbitrary<VersionVector> =>
  fc.array(fc.tuple(peers, fc.integer({ min: 1, max: 1_000_000 })), { maxLength: 4 }).map((pairs) => {
    const v: Record<string, number> = {};
    for (const [peer, n] of pairs) v[peer] = n;
    return normalise(v);
  });

// ------------------------------------------------------------------ pools

/** Where generators draw the ids and paths an event refers to. */
export interface Pools {
  readonly paths: fc.Arbitrary<SyncPath>;
  readonly peers: fc.Arbitrary<PeerId>;
  readonly hashes: fc.Arbitrary<BlockHash>;
}

export const anyPools: Pools = { paths: syncPathArb, peers: peerIdArb, hashes: blockHashArb };

/** A few paths, peers and hashes, so consecutive events touch the same entries. */
export const smallPools: fc.Arbitrary<Pools> = fc
  .record(
    {
      paths: fc.uniqueArray(syncPathArb, { minLength: 1, maxLength: 5 }),
      peers: fc.uniqueArray(peerIdArb, { minLength: 1, maxLength: 4 }),
      hashes: fc.uniqueArray(blockHashArb, { minLength: 1, maxLength: 6 }),
    },
    { noNullPrototype: true },
  )
  .map(({ paths, peers, hashes }) => ({ paths: fc.constantFrom(...paths), peers: fc.constantFrom(...peers), hashes: fc.constantFrom(...hashes) }));

// ------------------------------------------------------------------ file versions

const fileTypeArb: fc.Arbitrary<FileType> = fc.constantFrom('file', 'directory', 'symlink');
const blockSizeArb = fc.constantFrom(128 * 1024, 256 * 1024, 1024 * 1024, 16 * 1024 * 1024);

export const fileVersionArb = (p: Pools = anyPools): fc.Arbitrary<FileVersion> =>
  fc
    .record(
      {
        path: p.paths,
        type: fileTypeArb,
        mode: fc.integer({ min: 0, max: 7 }),
        size: fc.nat({ max: 2 ** 40 }),
        mtimeMs: fc.integer({ min: -(2 ** 40), max: 2 ** 42 }),
        blockSizeBytes: blockSizeArb,
        blocks: fc.array(p.hashes, { maxLength: 5 }),
        target: textArb,
        deleted: fc.boolean(),
        vv: versionVectorArb(p.peers),
        hlc: hlcArb,
        author: p.peers,
      },
      { noNullPrototype: true },
    )
    .map((r) => {
      const v: FileVersion = {
        path: r.path, type: r.type, mode: r.mode, size: r.size, mtimeMs: r.mtimeMs, blockSizeBytes: r.blockSizeBytes,
        blocks: r.blocks, deleted: r.deleted, vv: r.vv, hlc: r.hlc, author: r.author,
      };
      return r.type === 'symlink' ? { ...v, target: r.target } : v;
    });

export const localObservationArb = (p: Pools = anyPools): fc.Arbitrary<LocalObservation> =>
  fileVersionArb(p).map((v) => {
    const o: LocalObservation = { path: v.path, type: v.type, mode: v.mode, size: v.size, mtimeMs: v.mtimeMs, blockSizeBytes: v.blockSizeBytes, blocks: v.blocks };
    return v.target === undefined ? o : { ...o, target: v.target };
  });

// ------------------------------------------------------------------ logged messages

const peerInfoArb = (p: Pools): fc.Arbitrary<PeerInfo> =>
  fc.record({ name: wordArb, uuid: p.peers, address: wordArb }, { noNullPrototype: true });

const rec = <T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> => fc.record(model, { noNullPrototype: true }) as fc.Arbitrary<T>;

type LoggedOf<C extends Command> = Extract<LoggedMessage, { cmd: C }>;

/** One arbitrary per protocol command, in its logged form (HEREIS without bytes). */
export const loggedMessageArbitraries = (p: Pools = anyPools): { [C in Command]: fc.Arbitrary<LoggedOf<C>> } => {
  const id = messageIdArb;
  const upTo = fc.nat({ max: 2 ** 40 });
  return {
    HELLO: rec<LoggedOf<'HELLO'>>({ cmd: fc.constant('HELLO'), id, name: wordArb, uuid: p.peers, address: wordArb, network: wordArb }),
    ICANSEE: rec<LoggedOf<'ICANSEE'>>({ cmd: fc.constant('ICANSEE'), id, via: p.peers, peer: peerInfoArb(p) }),
    IKNOWABOUT: rec<LoggedOf<'IKNOWABOUT'>>({ cmd: fc.constant('IKNOWABOUT'), id, via: p.peers, peer: peerInfoArb(p) }),
    ICANTSEE: rec<LoggedOf<'ICANTSEE'>>({ cmd: fc.constant('ICANTSEE'), id, via: p.peers, uuid: p.peers }),
    PING: rec<LoggedOf<'PING'>>({ cmd: fc.constant('PING'), id }),
    PONG: rec<LoggedOf<'PONG'>>({ cmd: fc.constant('PONG'), id, ping: id }),
    LIST: rec<LoggedOf<'LIST'>>({ cmd: fc.constant('LIST'), id, since: upTo }),
    IHAVE: rec<LoggedOf<'IHAVE'>>({ cmd: fc.constant('IHAVE'), id, files: fc.array(fileVersionArb(p), { maxLength: 3 }), upTo }),
    IMOVED: rec<LoggedOf<'IMOVED'>>({
      cmd: fc.constant('IMOVED'), id, oldpath: p.paths, newpath: p.paths, tombstone: fileVersionArb(p), version: fileVersionArb(p), upTo,
    }),
    IDELETED: rec<LoggedOf<'IDELETED'>>({ cmd: fc.constant('IDELETED'), id, oldpath: p.paths, version: fileVersionArb(p), upTo }),
    RESOLVED: rec<LoggedOf<'RESOLVED'>>({
      cmd: fc.constant('RESOLVED'), id, path: p.paths, copyPath: p.paths, keep: fc.constantFrom('winner', 'other', 'both'), by: p.peers,
    }),
    IWANT: rec<LoggedOf<'IWANT'>>({ cmd: fc.constant('IWANT'), id, hashes: fc.array(p.hashes, { maxLength: 4 }) }),
    HEREIS: rec<LoggedOf<'HEREIS'>>({ cmd: fc.constant('HEREIS'), id, hash: p.hashes, size: fc.nat({ max: 16 * 1024 * 1024 }) }),
    DONTHAVE: rec<LoggedOf<'DONTHAVE'>>({ cmd: fc.constant('DONTHAVE'), id, hashes: fc.array(p.hashes, { maxLength: 4 }) }),
    SEARCH: rec<LoggedOf<'SEARCH'>>({ cmd: fc.constant('SEARCH'), id, origin: p.peers, query: wordArb, hops: fc.integer({ min: 0, max: 4 }) }),
    FOUND: rec<LoggedOf<'FOUND'>>({
      cmd: fc.constant('FOUND'), id, search: id, peer: p.peers,
      matches: fc.array(rec<{ path: SyncPath; size: number; blocks: BlockHash[] }>({ path: p.paths, size: fc.nat(), blocks: fc.array(p.hashes, { maxLength: 3 }) }), { maxLength: 3 }),
    }),
    ERROR: rec<LoggedOf<'ERROR'>>({ cmd: fc.constant('ERROR'), id, code: wordArb, message: textArb }),
  };
};

export const loggedMessageArb = (p: Pools = anyPools): fc.Arbitrary<LoggedMessage> =>
  fc.oneof(...(Object.values(loggedMessageArbitraries(p)) as fc.Arbitrary<LoggedMessage>[]));

// ------------------------------------------------------------------ events

const ev = <T extends EventType>(type: T, data: fc.Arbitrary<EventOf<T>['data']>): fc.Arbitrary<EventOf<T>> =>
  data.map((d) => ({ type, data: d }) as EventOf<T>);

const conflictRuleArb: fc.Arbitrary<ConflictRule> = fc.constantFrom('later-hlc', 'larger-peer-id', 'modify-beats-delete');
const keepArb: fc.Arbitrary<ResolveKeep> = fc.constantFrom('winner', 'other', 'both');

/** One arbitrary per event type. */
export const eventArbitraries = (p: Pools = anyPools): { [T in EventType]: fc.Arbitrary<EventOf<T>> } => ({
  NetworkCreated: ev('NetworkCreated', fc.tuple(hex(32), wordArb, p.peers, textArb, fc.option(textArb, { nil: undefined })).map(([networkId, name, peer, dir, admin]) =>
    admin === undefined ? { networkId, name, peer, dir } : { networkId, name, peer, dir, admin })),
  NetworkJoined: ev('NetworkJoined', rec<EventOf<'NetworkJoined'>['data']>({ name: wordArb, peer: p.peers, dir: textArb, via: wordArb })),
  NetworkLeft: ev('NetworkLeft', rec<EventOf<'NetworkLeft'>['data']>({ deleteDir: fc.boolean() })),
  ResolveRequested: ev('ResolveRequested', rec<EventOf<'ResolveRequested'>['data']>({ path: p.paths, keep: keepArb })),
  LocalFileChanged: ev('LocalFileChanged', localObservationArb(p)),
  LocalFileDeleted: ev('LocalFileDeleted', rec<EventOf<'LocalFileDeleted'>['data']>({ path: p.paths })),
  LocalFileMoved: ev('LocalFileMoved', rec<EventOf<'LocalFileMoved'>['data']>({ from: p.paths, to: p.paths })),
  ScanFinished: ev('ScanFinished', rec<EventOf<'ScanFinished'>['data']>({ files: fc.nat(), bytes: fc.nat({ max: 2 ** 50 }) })),
  MessageReceived: ev('MessageReceived', rec<EventOf<'MessageReceived'>['data']>({ from: p.peers, message: loggedMessageArb(p) })),
  PeerConnected: ev('PeerConnected', rec<EventOf<'PeerConnected'>['data']>({ peer: p.peers, address: wordArb, direction: fc.constantFrom('in', 'out') })),
  PeerDisconnected: ev('PeerDisconnected', rec<EventOf<'PeerDisconnected'>['data']>({ peer: p.peers, reason: textArb })),
  PeerLearned: ev('PeerLearned', rec<EventOf<'PeerLearned'>['data']>({ peer: p.peers, address: wordArb, via: p.peers, direct: fc.boolean() })),
  PeerLost: ev('PeerLost', rec<EventOf<'PeerLost'>['data']>({ peer: p.peers, via: p.peers })),
  BlockVerified: ev('BlockVerified', rec<EventOf<'BlockVerified'>['data']>({ path: p.paths, hash: p.hashes, from: fc.option(p.peers, { nil: null }), size: fc.nat() })),
  BlockRejected: ev('BlockRejected', rec<EventOf<'BlockRejected'>['data']>({ path: p.paths, hash: p.hashes, from: p.peers, reason: textArb })),
  FileCommitted: ev('FileCommitted', fileVersionArb(p).map((version) => ({ path: version.path, version }))),
  TransferFailed: ev('TransferFailed', rec<EventOf<'TransferFailed'>['data']>({ path: p.paths, reason: textArb, code: wordArb })),
  TimerFired: ev('TimerFired', rec<EventOf<'TimerFired'>['data']>({ timer: textArb })),
  VersionAccepted: ev('VersionAccepted', fc.tuple(fileVersionArb(p), p.peers, messageIdArb).map(([version, from, message]) => ({ path: version.path, version, from, message }))),
  VersionSuperseded: ev('VersionSuperseded', fc.tuple(fileVersionArb(p), p.peers, messageIdArb, fc.constantFrom('older', 'equal') as fc.Arbitrary<'older' | 'equal'>)
    .map(([version, from, message, reason]) => ({ path: version.path, version, from, message, reason }))),
  VersionsMerged: ev('VersionsMerged', fc.tuple(fileVersionArb(p), p.peers).map(([version, from]) => ({ path: version.path, version, from }))),
  ConflictDetected: ev('ConflictDetected', fc.tuple(fileVersionArb(p), fileVersionArb(p), p.paths, conflictRuleArb, p.peers)
    .map(([winner, loser, copyPath, rule, from]) => ({ path: winner.path, winner, loser, copyPath, rule, from }))),
  ConflictResolved: ev('ConflictResolved', rec<EventOf<'ConflictResolved'>['data']>({ path: p.paths, copyPath: p.paths, keep: keepArb, by: p.peers })),
});

export const eventArb = (p: Pools = anyPools): fc.Arbitrary<Event> =>
  fc.oneof(...(Object.values(eventArbitraries(p)) as fc.Arbitrary<Event>[]));

/** An event with the envelope a writer supplies (for codec round trips). */
export const pendingEventArb = (event: fc.Arbitrary<Event> = eventArb()): fc.Arbitrary<PendingEvent> =>
  fc.tuple(event, eventIdArb, hlcArb, peerIdArb).map(([e, id, hlc, peer]) => ({ type: e.type, data: e.data, id, hlc, peer }) as PendingEvent);

// ------------------------------------------------------------------ sequences

/**
 * A stamped, gapless sequence of related events from seq 1: a few paths and
 * peers, HLC stamps ticking forward as a recording peer's would.
 */
export const stampedSequenceArb = (constraints: { minLength?: number; maxLength?: number } = {}): fc.Arbitrary<StampedEvent[]> =>
  smallPools.chain((pools) =>
    fc
      .tuple(
        pools.peers,
        fc.array(fc.tuple(eventArb(pools), eventIdArb, fc.nat({ max: 5 })), {
          minLength: constraints.minLength ?? 0,
          maxLength: constraints.maxLength ?? 40,
          size: 'max',
        }),
      )
      .map(([self, items]) => {
        let hlc: Hlc = { wallMs: 1_700_000_000_000, counter: 0 };
        return items.map(([e, id, advanceMs], i) => {
          hlc = tick(hlc, hlc.wallMs + advanceMs);
          return { type: e.type, data: e.data, seq: i + 1, id, hlc, peer: self, v: currentVersions[e.type] } as StampedEvent;
        });
      }),
  );

/** Cut `items` into consecutive non-empty batches at the given sizes (the last takes the rest). */
export function splitIntoBatches<T>(items: readonly T[], sizes: readonly number[]): T[][] {
  const out: T[][] = [];
  let at = 0;
  for (const size of sizes) {
    if (at >= items.length) break;
    out.push(items.slice(at, at + Math.max(1, size)));
    at += Math.max(1, size);
  }
  if (at < items.length) out.push(items.slice(at));
  return out;
}

/** Batch sizes for splitIntoBatches. */
export const batchSizesArb: fc.Arbitrary<number[]> = fc.array(fc.integer({ min: 1, max: 8 }), { maxLength: 40, size: 'max' });
