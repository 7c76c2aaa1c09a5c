/**
 * The interface a repository format implements. The engine knows only this module; concrete formats
 * register themselves in src/formats/registry.ts, which commands (not the engine) import.
 */

/**
 * The base as a format sees it: where a pool blob lives. (engine/layout.ts's Layout is one; declared here
 * so that formats, below the engine, import nothing above them.)
 */
export interface BaseView {
  readonly base: string;
  blobPath(sha256: string): string;
}

/** The repository as a format sees it (engine/layout.ts's RepoLayout is one). */
export interface RepoView {
  readonly name: string;
  readonly dir: string;
  /** Published snapshots, the served symlink and supersede times (deb carries recent by-hash files forward). */
  readonly snapshotsDir: string;
  readonly currentLink: string;
  readonly supersededDir: string;
}

/** Hashes of a blob, computed once while its bytes are copied into the pool. */
export interface BlobHashes {
  sha256: string;
  sha1: string;
  size: number;
}

/** One file of a snapshot tree that is a pool blob (index files are not entries). */
export interface TreeEntry {
  /** POSIX path relative to the snapshot root, no leading slash, no '..'. */
  path: string;
  sha256: string;
  size: number;
}

/** A candidate file, already copied into a pool temporary file that rcurepo owns. */
export interface IncomingFile extends BlobHashes {
  /** What the user named (for messages). */
  source: string;
  /** The path relative to the directory the user named (or the basename for a plain file). */
  relPath: string;
  /** A private, stable copy of the bytes (read it, never write it). */
  copyPath: string;
  /** The same bytes in memory when the file is small (formats then need no I/O to inspect it). */
  bytes?: Uint8Array;
  /**
   * What this format cached about these bytes when the pool first took them, read on demand (present
   * only when the pool holds them already: a re-delivery). A format may place from it instead of reading
   * the file again; it must check the cache's shape, as for any cache.
   */
  cachedMeta?: () => unknown;
}

export interface PlaceOptions {
  /** --prefix for formats that let the user choose the folder. */
  prefix?: string;
  /** --dist and --component for formats whose repositories have distributions (deb). */
  dist?: string;
  component?: string;
  /** The repository's settings (repo.json "settings"), for formats that place by their configuration. */
  settings?: Record<string, unknown>;
}

export interface Placement {
  /** Where the file goes in the tree. */
  treePath: string;
  /**
   * Format metadata derived from the bytes (and the tree path), cached in the pool next to the blob
   * under the format's name, so indexes never re-read package files. Must be JSON-serialisable.
   */
  meta?: unknown;
}

/** Everything a format may use to write its indexes into a staging tree. */
export interface IndexContext {
  layout: BaseView;
  repo: RepoView;
  /** The repository's format settings (repo.json "settings"). */
  settings: Record<string, unknown>;
  /** The staging tree: write index files here, by temporary name + rename. */
  stagingDir: string;
  /** All entries of the new snapshot, sorted by path (bytewise). */
  entries: readonly TreeEntry[];
  /** Cached per-blob metadata written by place()/describe(); recomputed by describe() when missing. */
  loadMeta(entry: TreeEntry): Promise<unknown>;
  /** A directory private to this format and repository for caches (e.g. compressed index blocks). */
  cacheDir: string;
  /**
   * The paths this transaction added, replaced or removed against the generation `current` names (its
   * parent), checked by checkChange; absent when not known (a format then indexes from every entry).
   */
  changed?: readonly string[];
}

export interface VerifyContext {
  /**
   * Set by a transaction verifying the staging tree its format just wrote: check what is cheap and
   * independent of the writer (files present, companions well-formed and matching), skip the costly
   * full regeneration that `rcurepo verify` does.
   */
  quick?: boolean;
  layout: BaseView;
  repo: RepoView;
  settings: Record<string, unknown>;
  snapshotDir: string;
  entries: readonly TreeEntry[];
  loadMeta(entry: TreeEntry): Promise<unknown>;
}

/** A package of a repository as the pages show it; fields a format does not have are left out. */
export interface PackageRow {
  name: string;
  version?: string;
  /** eopkg: the release number; deb: the Debian revision is part of version, so this stays empty. */
  release?: string;
  arch?: string;
  /** e.g. 'delta' for an eopkg delta package. */
  kind?: string;
}

/** A change about to be published, shown to the format before anything is written. */
export interface ChangeContext {
  repo: RepoView;
  settings: Record<string, unknown>;
  /** The parent (current) snapshot. */
  parentDir: string;
  /** The parent's entries (loaded on first use). */
  parentEntries(): Promise<readonly TreeEntry[]>;
  adds: readonly { path: string; sha256: string; size: number }[];
  removes: readonly string[];
}

/** A file that another input lists as part of itself (a Debian .dsc's tarballs). */
export interface Companion {
  /** Its name in the listing file's folder (a plain file name). */
  name: string;
  /** The bytes it must have. */
  sha256: string;
  size: number;
  /** Where it goes in the tree (decided by the format from the listing file). */
  treePath: string;
  /**
   * Further digests the listing states (a .dsc's Files md5, Checksums-Sha1/-Sha512): clients check them
   * all, so each must hold too. sha1 is checked against the staged copy; md5 and sha512 against the
   * format's metadata of the file when it records them (fields of those names).
   */
  otherHashes?: { md5?: string; sha1?: string; sha512?: string };
}

export interface CompanionList {
  /** The sha256 of the listing file's bytes as read for this list (its staged copy must have the same). */
  sha256: string;
  files: Companion[];
}

export interface Format {
  readonly name: string;
  /**
   * The package a tree entry is, from its path alone (no I/O: runs for every entry of a generation when
   * a repository page is built); undefined for files that are not packages. Formats without packages
   * (files) leave it out and their pages list no packages.
   */
  packageOf?(entry: TreeEntry): PackageRow | undefined;
  /** Names at the tree root that the format generates (files, or folders with everything in them); not pool entries. */
  readonly indexFiles: readonly string[];
  /** Decide where an incoming file goes and extract its metadata; throw RcuError('BAD_INPUT') to refuse. */
  place(file: IncomingFile, opts: PlaceOptions): Promise<Placement>;
  /**
   * The files an input lists as part of itself, imported with it (a Debian .dsc and its tarballs), or
   * undefined when the input lists none. Throw RcuError('BAD_INPUT') naming the file for a malformed
   * listing. Optional.
   */
  companions?(file: { abs: string; rel: string }, opts: PlaceOptions): Promise<CompanionList | undefined>;
  /** Recompute a blob's cached metadata from its bytes (cache rebuild, `verify --repair`). */
  describe(blobPath: string, entry: TreeEntry, hashes: BlobHashes): Promise<unknown>;
  /**
   * Refuse a change the indexes cannot express (throw RcuError), before the transaction consumes a
   * generation or writes anything. Optional.
   */
  checkChange?(ctx: ChangeContext): Promise<void>;
  /** Write all index files into ctx.stagingDir. Returns the names written. */
  writeIndexes(ctx: IndexContext): Promise<string[]>;
  /** Check the index files of a snapshot against its entries; returns human-readable faults (empty = fine). */
  verifyIndexes(ctx: VerifyContext): Promise<string[]>;
  /**
   * The identity of the build at a tree path, when the format has one beyond the path (eopkg: name and
   * release). A tree holds one build per identity: the engine refuses a change that would hold two.
   */
  buildIdentity?(treePath: string): string | undefined;
}
