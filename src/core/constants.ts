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

// --- cascades and discovery
/** How long a message id is remembered for cascade suppression. */
export const seenMessageTtlMs = 5 * 60 * 1000;
export const seenMessagesMax = 100_000;
export const pingIntervalMs = 5_000;
export const peerTimeoutMs = 20_000;
export const knownPeersMax = 4096;

// --- transfers
export const requestWindowBlocks = 32;
export const requestTimeoutMs = 10_000;
export const blockRetriesMax = 8;

// --- log and store
export const groupCommitEventsMax = 8192;
export const groupCommitDelayMs = 0;
