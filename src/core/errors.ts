/**
 * Expected failures carry a stable string code (like abstract-level's LEVEL_*
 * codes). Callers match on `code`, never on the message. A bug is not a
 * PloppyError: it is an AssertionError thrown by `assert`.
 */
export const ErrorCodes = [
  'USAGE',
  'LOG_CORRUPT',
  'LOG_LOCKED',
  'LOG_CLOSED',
  'EVENT_UNKNOWN_TYPE',
  'EVENT_UNKNOWN_VERSION',
  'EVENT_INVALID',
  'PEER_BAD_FRAME',
  'PEER_BAD_MESSAGE',
  'PEER_LIMIT_EXCEEDED',
  'PEER_WRONG_NETWORK',
  'PEER_UNREACHABLE',
  'PEER_TIMEOUT',
  'PEER_SELF',
  'LISTEN_FAILED',
  'SECRET_REJECTED',
  'PATH_INVALID',
  'PATH_ESCAPES_FOLDER',
  'PATH_IGNORED',
  'BLOCK_HASH_MISMATCH',
  'DISK_FULL',
  'FS_ERROR',
  'NETWORK_NOT_FOUND',
  'NETWORK_AMBIGUOUS',
  'NETWORK_EXISTS',
  'DIR_NOT_EMPTY',
  'DAEMON_NOT_RUNNING',
  'DAEMON_RUNNING',
  'CONFLICT_NOT_FOUND',
  'REPLAY_MISMATCH',
  'IMPORT_INVALID',
] as const;

export type ErrorCode = (typeof ErrorCodes)[number];

export class PloppyError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(`${code}: ${message}`);
    this.name = 'PloppyError';
    this.code = code;
    this.details = details;
  }
}

export const isPloppyError = (e: unknown, code?: ErrorCode): e is PloppyError =>
  e instanceof PloppyError && (code === undefined || e.code === code);
