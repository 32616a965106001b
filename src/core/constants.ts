/**
 * Every limit in one place, named with its unit (TigerBeetle style).
 * Sections are owned by the layer named in their heading.
 */

// --- files and blocks (DESIGN.md "Files, versions and conflicts")
export const blockSizeMinBytes = 128 * 1024;
export const blockSizeMaxBytes = 16 * 1024 * 1024;
/** Syncthing's schedule: the smallest power of two giving fewer than this many blocks. */
export const blocksPerFileTarget = 2000;
export const pathBytesMax = 4096;
export const pathSegmentBytesMax = 255;
export const fileModeMax = 7;

// --- wire protocol bounds (what a peer may send us)
export const frameBytesMax = 16 * 1024 * 1024 + 64 * 1024;
export const commandNameBytesMax = 16;
export const jsonDepthMax = 16;
export const blocksPerMessageMax = 4096;
export const hashesPerWantMax = 256;
export const itemsPerMessageMax = 4096;
export const outstandingRequestsPerPeerMax = 64;
export const networkNameBytesMax = 128;
export const addressBytesMax = 300;
export const searchHopsMax = 4;
export const searchResultsMax = 256;
/** HEREIS carries a small JSON header (id, hash) before the raw block bytes. */
export const hereisHeaderBytesMax = 1024;

// --- network sessions and transport (src/net)
/** A peer must complete TLS and send its HELLO within this time. */
export const handshakeTimeoutMs = 10_000;
/** Until its HELLO is accepted a peer may send only small frames (a HELLO is ~200 bytes). */
export const handshakeFrameBytesMax = 4096;
/** Connections the listener holds at once, handshaking or not; more are closed as soon as accepted. */
export const inboundConnectionsMax = 256;
/** A TCP connect that takes longer than this fails as PEER_UNREACHABLE. */
export const dialTimeoutMs = 10_000;
/** After end(), a socket that does not close by itself is destroyed after this. */
export const sessionCloseTimeoutMs = 2_000;
/** Block requests the sending side keeps queued beyond what the peer allows in flight. */
export const wantQueueHashesMax = 4096;
/** Redial backoff: the first delay, the cap, and the growth factor per failed attempt. */
export const redialDelayMinMs = 250;
export const redialDelayMaxMs = 30_000;
export const redialBackoffFactor = 2;

// --- cascades and discovery
/** How long a message id is remembered for cascade suppression. */
export const seenMessageTtlMs = 5 * 60 * 1000;
export const seenMessagesMax = 100_000;
export const pingIntervalMs = 5_000;
export const peerTimeoutMs = 20_000;
export const knownPeersMax = 4096;
/** The engine's redial backoff for lost links and the join address: doubles per attempt between these. */
export const reconnectDelayMinMs = 1_000;
export const reconnectDelayMaxMs = 60_000;
/** A remote HLC stamp further ahead of our clock than this is not merged into ours (a peer cannot drag our clock forward). */
export const hlcRemoteAheadMaxMs = 60 * 60 * 1000;

// --- transfers
/**
 * Files whose blocks are being gathered (copied, fetched, written) at once.
 * Further transfers wait as queued paths: a plan and its requests and
 * received blocks cost memory, and a receiver of 20,000 small files held a
 * plan for every one of them at once.
 */
export const filePlansGatheringMax = 512;
export const requestWindowBlocks = 32;
export const requestTimeoutMs = 10_000;
export const blockRetriesMax = 8;

// --- log and store
export const groupCommitEventsMax = 8192;
export const groupCommitDelayMs = 0;

// --- file system: scanner, watcher, applier (src/fs)
/** Name prefix of the applier's temporary files: never synced, announced or applied. */
export const tempFilePrefix = '.ploppy-tmp-';
/**
 * The directory, at the shared folder's root, where the applier assembles
 * incoming files (its name has the temp prefix, so it is never synced or
 * watched). Writing there rather than beside the target keeps the target
 * directory quiet until the rename: each write into a watched directory is an
 * inotify event, and chokidar answers each with a listing of that directory.
 */
export const stagingDirName = '.ploppy-tmp-staging';
/** Per-directory ignore rules in gitignore syntax. */
export const ignoreFileName = '.ploppyignore';
/** Read size for hashing and verifying files: large sequential reads, few syscalls. */
export const hashReadBufferBytes = 4 * 1024 * 1024;
/** A file that keeps changing while it is hashed is read at most this many times. */
export const hashAttemptsMax = 3;
/** Hash worker threads (the target machines have two cores). */
export const hashThreadsMax = 2;
/** A hash worker with nothing to do for this long stops (each holds ~10 MB); the next job starts one again. */
export const hashWorkerIdleExitMs = 5_000;
/** Files handed to a hash worker in one message: small files travel in batches. */
export const hashBatchFilesMax = 128;
export const hashBatchBytesMax = 32 * 1024 * 1024;
/** Files smaller than this are hashed in the calling thread even when a pool exists. */
export const hashInThreadBytesMax = 1024 * 1024;
/** The walk lstats synchronously (4x cheaper than promises) and yields to the event loop this often. */
export const walkEntriesPerYield = 512;
/** Two mtimes closer than this are equal: utimes() goes through seconds as a double and microseconds. */
export const mtimeSlackMs = 0.01;
/** Quiet time after the last file event before the watcher reports a batch. */
export const watchDebounceMs = 75;
/** Under continuous activity the watcher still reports at least this often. */
export const watchDebounceMaxMs = 400;
/** A full rescan this often, behind the watcher, finds changes a lost file event hid (Syncthing's default is 1 h too). */
export const fullRescanIntervalMs = 60 * 60 * 1000;
/** A new directory is listed by the watcher once it is seen and again this much later (see Watcher.relist). */
export const watchRelistDelayMs = 1_000;
/**
 * chokidar re-reads a directory (readdir and an lstat per entry) after events
 * in it; once a directory has been listed, a re-read waits this long and the
 * events meanwhile join it (ChokidarSource.deferRereads). Under
 * watchRelistDelayMs, so the watcher's second look at a new directory comes
 * after chokidar has found and watched it.
 */
export const watchRereadDelayMs = 500;
/** More distinct paths pending than this and the watcher asks for a full rescan instead. */
export const watchPendingPathsMax = 50_000;
/** Temporary files the applier keeps open between writeBlock calls (and hands to commitFile). */
export const tempFilesOpenMax = 256;
/** Operations the applier runs as one batch (one directory fsync each, overlapping file fsyncs). */
export const applyBatchOpsMax = 256;
/** Worker threads that read and hash single blocks (serving, local copies, received blocks). */
export const blockThreadsMax = 2;

// --- the daemon's block pipeline (src/daemon)
/** Block reads for peers in progress at once (their bytes wait in memory for the socket). */
export const serveReadsInFlightMax = 8;
/** Bytes queued on a peer's socket before serving waits for it to drain. */
export const sendQueueBytesMax = 4 * 1024 * 1024;
/** Received block bytes waiting to be written before the daemon stops reading from peers. */
export const pendingWriteBytesMax = 32 * 1024 * 1024;
/** The daemon lets its pooled block buffers go after this long (at most twice it) without a block taken. */
export const bufferTrimIdleMs = 1_000;
/** Received blocks at least this large are hashed on a block worker before the engine sees them. */
export const hashOffThreadBytesMin = 64 * 1024;
