/**
 * The one error type of rcurepo. Every failure a user can cause or meet carries a stable `code`;
 * `src/main.ts` alone maps codes to exit statuses (see EXIT_CODES) and ends the process.
 */
export type ErrorCode =
  | 'FAILURE' // anything unexpected: I/O error, bug
  | 'USAGE' // bad arguments
  | 'BAD_INPUT' // a file or value the user supplied is refused (named in the message)
  | 'CONFLICT' // same path, different content, without --replace
  | 'NOT_FOUND' // unknown repository, generation, lease...
  | 'EXISTS' // repository already exists
  | 'BUSY' // the writer lock is held by someone else past --wait
  | 'FROZEN' // the repository is frozen
  | 'INTEGRITY' // verify found a fault
  | 'FS_LIMIT' // EXDEV, EMLINK, ENOSPC, unsupported filesystem features
  | 'LAYOUT' // base missing, or written by a newer rcurepo
  | 'UNREACHABLE'; // an upstream (rsync daemon, ssh host, path) could not be reached or has no such module

export class RcuError extends Error {
  readonly code: ErrorCode;
  /** Extra lines for the user (e.g. the lock holder, the list of refused files). */
  readonly details: string[];
  /** Structured data for --json output. */
  readonly data: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, opts: { details?: string[]; data?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'RcuError';
    this.code = code;
    this.details = opts.details ?? [];
    this.data = opts.data;
  }
}

/** Exit statuses; documented in README.md ("Exit codes"). Only src/main.ts applies them. */
export const EXIT_CODES: Record<ErrorCode, number> = {
  FAILURE: 1,
  USAGE: 2,
  BAD_INPUT: 3,
  CONFLICT: 4,
  NOT_FOUND: 5,
  EXISTS: 6,
  FROZEN: 7,
  INTEGRITY: 8,
  FS_LIMIT: 9,
  LAYOUT: 10,
  UNREACHABLE: 69, // EX_UNAVAILABLE: the remote side is down or misnamed; nothing changed
  BUSY: 75, // EX_TEMPFAIL: try again later
};

export function isRcuError(e: unknown, code?: ErrorCode): e is RcuError {
  return e instanceof RcuError && (code === undefined || e.code === code);
}

/** The errno code of a Node system error, or undefined. Callers catch only named codes. */
export function errnoCode(e: unknown): string | undefined {
  if (typeof e === 'object' && e !== null && 'code' in e) {
    const c = (e as { code: unknown }).code;
    return typeof c === 'string' ? c : undefined;
  }
  return undefined;
}

/** Translate a filesystem error into the user-facing RcuError for the named file, when it has a known meaning. */
export function fsError(e: unknown, file: string, doing: string): RcuError | unknown {
  switch (errnoCode(e)) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new RcuError('FS_LIMIT', `${file}: no space left on device while ${doing}`, { cause: e });
    case 'EMLINK':
      return new RcuError('FS_LIMIT', `${file}: too many hard links (EMLINK) while ${doing}`, { cause: e });
    case 'EXDEV':
      return new RcuError('FS_LIMIT', `${file}: crosses filesystems (EXDEV) while ${doing}; pool, snapshots and staging must share one filesystem`, { cause: e });
    case 'EROFS':
      return new RcuError('FS_LIMIT', `${file}: read-only filesystem while ${doing}`, { cause: e });
    default:
      return e;
  }
}

const SYSCALL_DOING: Record<string, string> = {
  open: 'opening',
  write: 'writing',
  mkdir: 'creating a folder',
  link: 'linking',
  symlink: 'creating a symbolic link',
  rename: 'renaming',
  copyfile: 'copying',
  utime: 'touching',
};

/**
 * The one place a system error that reached the top without a handler gets its documented code: the
 * filesystem limits (ENOSPC, EDQUOT, EMLINK, EXDEV, EROFS) mean exit 9 wherever they happen; any other
 * errno stays an internal failure. Callers that know better (input files, user-supplied names) translate
 * earlier, where the meaning is known (see fsError and the pool's stageError).
 */
export function errnoToRcuError(e: unknown): RcuError | undefined {
  if (isRcuError(e) || errnoCode(e) === undefined) return undefined;
  const err = e as NodeJS.ErrnoException;
  const mapped = fsError(e, err.path ?? 'filesystem', SYSCALL_DOING[err.syscall ?? ''] ?? (err.syscall ? `${err.syscall}()` : 'working'));
  return isRcuError(mapped) ? mapped : undefined;
}

/** An error as it crosses a thread boundary: structured cloning keeps neither the class nor `code`. */
export interface WireError {
  message: string;
  rcuCode?: ErrorCode;
  details?: string[];
  /** errno code of a Node system error (ENOSPC, ...), so errnoCode() and fsError() still apply. */
  errno?: string;
}

export function errorToWire(e: unknown): WireError {
  if (isRcuError(e)) return { message: e.message, rcuCode: e.code, details: e.details };
  return { message: e instanceof Error ? e.message : String(e), errno: errnoCode(e) };
}

export function errorFromWire(w: WireError): Error {
  if (w.rcuCode) return new RcuError(w.rcuCode, w.message, { details: w.details });
  return Object.assign(new Error(w.message), w.errno ? { code: w.errno } : {});
}
