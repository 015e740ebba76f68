// The node's durable files in --dir: checksummed records (records.ts: `<crc32 hex> <json>` per
// line), written as `persist` effects ask, read back on start as `Recovered`.
//
// - op "write" replaces the file with one record atomically: write <file>.tmp, fsync it, rename
//   it over the file, fsync the directory (so the rename itself survives a crash).
// - op "append" appends one line; with `sync` the file is fsynced before completion.
//
// Requests run one at a time in the order the node emitted them, so completions are reported in
// order too (the runner does not need that, but a reader of the log does). Appends are grouped, as
// Redis writes its AOF buffer once per event-loop turn: the requests that arrived while the disk
// was busy (or in the same turn) go out as one write per run of appends to a file, with one fsync
// if any of them asked for it — group commit. Each still completes on its own, after the write
// (and fsync) that carried it.
//
// Faultline: nodes.conf holds the node's JSON record, not Redis's text format; a directory holding
// a redis-server nodes.conf is refused rather than overwritten (see `recover`).

import { readdirSync } from "node:fs";
import { open, rename, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import type { Effect, Message, PersistId, Recovered, RecoveredFile } from "../core/machine.js";
import type { Json } from "../core/trace.js";
import { RecordFileError, type RecordFilePolicy, type RecordFileReport, recordLine, recoverRecordFile } from "./records.js";

const TMP_SUFFIX = ".tmp";

/** A machine's `persist` effect, as the host hands it over (core/machine.ts says what each field means). */
export type PersistRequest = Omit<Extract<Effect<Message, unknown>, { kind: "persist" }>, "kind">;

/** A file in --dir the cluster node must not start from; the CLI prints the message and exits 1. */
export class RecoveryError extends RecordFileError {}

const CLUSTER_REMEDY =
  "move the file out of --dir to start without it (without nodes.conf the node starts as a new, empty node under a new name; " +
  "without a data file its records are lost, though a replica gets its data back from its master), or restore it from a backup";

/**
 * Reads every durable file in `dir` (temp files of an interrupted write are ignored: the rename
 * never happened, so the old file stands; so are the names in `ignore`, and what is not a regular
 * file). Returns null for a directory with no files, as the machine expects of a fresh disk.
 *
 * `appended(name)` says which files the node appends to (its AOF files: core/cluster/aof.ts's
 * `isAppendedFile`): a torn or damaged tail of one is a crash's work, cut and truncated away on
 * disk (records.ts). Any other file is only ever replaced whole, so damage in it — or a line that
 * is not a checksummed record at all, as in a redis-server nodes.conf — throws RecoveryError, and
 * the node refuses to start instead of overwriting it. So does damage in the middle of any file.
 */
export function recover(dir: string, ignore: ReadonlySet<string>, appended: (name: string) => boolean): { recovered: Recovered | null; reports: RecordFileReport[] } {
  const files: Record<string, RecoveredFile> = {};
  const reports: RecordFileReport[] = [];
  const names = readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isFile() && !d.name.endsWith(TMP_SUFFIX) && !ignore.has(d.name))
    .map((d) => d.name)
    .sort();
  for (const name of names) {
    const { file, report } = recoverRecordFile(dir, name, { appended: appended(name), remedy: CLUSTER_REMEDY, error: RecoveryError } satisfies RecordFilePolicy);
    files[name] = file;
    reports.push(report);
  }
  return { recovered: reports.length === 0 ? null : { files }, reports };
}

/** Runs persist requests in order; `onDone` is called for each, in the same order. */
export class Disk {
  /** Open handles of append files, kept for the node's life. */
  private readonly appendHandles = new Map<string, FileHandle>();
  /** Submitted and not yet started. */
  private queue: PersistRequest[] = [];
  /** The loop working through `queue`, while there is one. */
  private running: Promise<void> | null = null;
  private pendingCount = 0;

  /**
   * `encode` turns a record into the line written for it (newline included); the default is the
   * checksummed line `recover` and raft-records.ts read back.
   */
  constructor(
    private readonly dir: string,
    private readonly onDone: (id: PersistId) => void,
    private readonly onError: (req: PersistRequest, error: unknown) => void,
    private readonly encode: (record: Json) => string = recordLine,
  ) {}

  get pending(): number {
    return this.pendingCount;
  }

  submit(req: PersistRequest): void {
    this.pendingCount += 1;
    this.queue.push(req);
    this.running ??= this.run();
  }

  /** Resolves once every request submitted so far has finished. */
  async drain(): Promise<void> {
    while (this.running !== null) await this.running;
  }

  async close(): Promise<void> {
    await this.drain();
    for (const h of this.appendHandles.values()) await h.close();
    this.appendHandles.clear();
  }

  private async replace(file: string, record: Json): Promise<void> {
    // An append handle would keep writing to the inode the rename replaces.
    await this.appendHandles.get(file)?.close();
    this.appendHandles.delete(file);
    const path = join(this.dir, file);
    const tmp = path + TMP_SUFFIX;
    const h = await open(tmp, "w");
    try {
      await h.writeFile(this.encode(record), "utf8");
      await h.sync();
    } finally {
      await h.close();
    }
    await rename(tmp, path);
    await syncDir(this.dir);
  }

  /** Works through the queue in batches until it is empty. */
  private async run(): Promise<void> {
    // Let the rest of this turn's requests (a pipelined batch of writes) join the first batch.
    await Promise.resolve();
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      for (let i = 0; i < batch.length; ) {
        const first = batch[i] as PersistRequest;
        let end = i + 1;
        if (first.op === "append") while (end < batch.length && batch[end]?.op === "append" && batch[end]?.file === first.file) end++;
        const group = batch.slice(i, end);
        i = end;
        try {
          if (first.op === "write") await this.replace(first.file, first.record);
          else await this.append(first.file, group);
        } catch (e) {
          // A failed write never completes: whatever waits for it stays held, as a promise the
          // node cannot keep must not be made. The host decides what to do (it exits).
          for (const req of group) {
            this.pendingCount -= 1;
            this.onError(req, e);
          }
          continue;
        }
        for (const req of group) {
          this.pendingCount -= 1;
          if (req.notify !== false) this.onDone(req.id);
        }
      }
    }
    this.running = null;
  }

  /** Appends the records of `group` (appends to one file) in one write; fsyncs once if any asked. */
  private async append(file: string, group: readonly PersistRequest[]): Promise<void> {
    let h = this.appendHandles.get(file);
    if (h === undefined) {
      h = await open(join(this.dir, file), "a");
      this.appendHandles.set(file, h);
    }
    let text = "";
    for (const req of group) text += this.encode(req.record);
    await h.appendFile(text, "utf8");
    if (group.some((req) => req.sync)) await h.sync();
  }
}

/** fsync a directory, so a rename in it is durable (Linux allows opening a directory read-only for this). */
async function syncDir(dir: string): Promise<void> {
  const h = await open(dir, "r");
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}
