// A node's disk: files of records, a page cache, fsync, and what a crash does to unsynced writes.
//
// A write enters the page cache at once and completes after `writeLatency`; a synced write
// completes after `syncLatency` and makes everything written to that file before it durable.
// The OS also writes back dirty data older than `writebackMs`. At a crash, cached writes not yet
// durable are lost ('lose'), survive ('keep'), or survive as a random prefix ('random'); when an
// append is lost, `tornWrite` is the chance that it was half-written — the node then recovers the
// records before it and a `tornTail` flag, as a checksummed log would after cutting its tail.
// Records are stored serialized, so a machine mutating an object after persisting it cannot
// change what is on disk.

import type { Recovered, RecoveredFile } from "../../core/machine.js";
import type { Json } from "../../core/trace.js";
import { type Distribution, sampleUs } from "./latency.js";
import type { Stream } from "./random.js";

export type UnsyncedOnCrash = "lose" | "keep" | "random";

export interface DiskConfig {
  readonly syncLatency: Distribution;
  readonly writeLatency: Distribution;
  readonly unsyncedOnCrash: UnsyncedOnCrash;
  /** Probability that a lost append was torn (partly written) rather than absent. */
  readonly tornWrite: number;
  /** Cached writes older than this are written back by the OS and survive a crash. */
  readonly writebackMs: number;
}

interface CachedOp {
  readonly n: number;
  readonly op: "append" | "write";
  readonly data: string;
  readonly atUs: number;
}

class FileState {
  durable: string[] = [];
  cached: CachedOp[] = [];
  opNext = 0;
  tornTail = false;

  flushThrough(n: number): void {
    let k = 0;
    while (k < this.cached.length && (this.cached[k] as CachedOp).n <= n) k++;
    for (const op of this.cached.splice(0, k)) apply(this.durable, op);
  }
}

export interface WriteHandle {
  readonly file: string;
  readonly n: number;
  readonly sync: boolean;
}

export interface CrashDamage {
  /** Cached writes that did not survive, over all files. */
  readonly lostWrites: number;
  readonly tornFiles: readonly string[];
}

export class Disk {
  config: DiskConfig;
  private readonly files = new Map<string, FileState>();
  private lastCompletionUs = 0;
  bytesWritten = 0;
  syncs = 0;

  constructor(
    config: DiskConfig,
    private readonly stream: Stream,
  ) {
    this.config = config;
  }

  /** Accepts a write into the page cache; returns its handle and when it completes (FIFO per disk). */
  submit(file: string, op: "append" | "write", record: Json, sync: boolean, nowUs: number): { handle: WriteHandle; completeAtUs: number } {
    const f = this.file(file);
    const data = JSON.stringify(record);
    const n = f.opNext++;
    f.cached.push({ n, op, data, atUs: nowUs });
    this.bytesWritten += data.length;
    const latency = sampleUs(sync ? this.config.syncLatency : this.config.writeLatency, this.stream);
    const completeAtUs = Math.max(nowUs + latency, this.lastCompletionUs);
    this.lastCompletionUs = completeAtUs;
    return { handle: { file, n, sync }, completeAtUs };
  }

  /** The write completed: a synced one makes its file durable up to and including it. */
  complete(handle: WriteHandle): void {
    if (!handle.sync) return;
    this.syncs += 1;
    this.files.get(handle.file)?.flushThrough(handle.n);
  }

  /** Applies the crash model to cached writes. Afterwards only durable content remains. */
  crash(nowUs: number): CrashDamage {
    let lostWrites = 0;
    const tornFiles: string[] = [];
    const writtenBackBeforeUs = nowUs - this.config.writebackMs * 1000;
    for (const [name, f] of this.files) {
      const old = f.cached.filter((op) => op.atUs <= writtenBackBeforeUs);
      const last = old.at(-1);
      if (last !== undefined) f.flushThrough(last.n);
      const pending = f.cached;
      if (pending.length === 0) continue;
      const survive = this.survivors(pending.length);
      for (const op of pending.slice(0, survive)) apply(f.durable, op);
      const firstLost = pending[survive];
      if (firstLost !== undefined) {
        lostWrites += pending.length - survive;
        if (firstLost.op === "append" && this.config.tornWrite > 0 && this.stream.next() < this.config.tornWrite) {
          f.tornTail = true;
          tornFiles.push(name);
        }
      }
      f.cached = [];
    }
    return { lostWrites, tornFiles };
  }

  /** What a restarting node reads. Torn flags are reported once. Null when the disk holds nothing. */
  recover(): Recovered | null {
    if (this.files.size === 0) return null;
    const files: Record<string, RecoveredFile> = {};
    for (const [name, f] of this.files) {
      files[name] = { records: f.durable.map((d) => JSON.parse(d) as Json), tornTail: f.tornTail };
      f.tornTail = false;
    }
    return { files };
  }

  wipe(): void {
    this.files.clear();
  }

  /** Inspection for tests and checkers: the durable records of a file. */
  durableRecords(file: string): Json[] {
    return (this.files.get(file)?.durable ?? []).map((d) => JSON.parse(d) as Json);
  }

  private survivors(pending: number): number {
    switch (this.config.unsyncedOnCrash) {
      case "lose":
        return 0;
      case "keep":
        return pending;
      case "random":
        return Math.floor(this.stream.next() * (pending + 1));
    }
  }

  private file(name: string): FileState {
    let f = this.files.get(name);
    if (f === undefined) {
      f = new FileState();
      this.files.set(name, f);
    }
    return f;
  }
}

function apply(records: string[], op: CachedOp): void {
  if (op.op === "write") records.length = 0;
  records.push(op.data);
}
