// Data persistence split by slot range, as the RustiDocs design asks: every range of
// `aofRangeSlots` slots has its own append-only file and its own snapshot, so one range can be
// shipped, dropped or restored without touching the others.
//
// Files (records are JSON; the host checksums and cuts torn tails):
//   aof-<lo>-<hi>.<gen>  appended: { c: [cmd, …] } per write (what the keyspace propagated, so
//                        relative TTLs are already absolute and replay does not depend on when),
//                        { sync: 1 } markers (appendfsync everysec), { dropped: 1 } once obsolete
//   snap-<lo>-<hi>       written whole: { gen, entries: [{ key, payload, expireAtMs }] } — the
//                        range as DUMP payloads, covering every write before aof-…<gen>
//
// A rewrite of range r at generation g: appends switch to aof-r.<g+1> at once, then snap-r is
// written with gen g+1 (fsynced); once that write has completed the old file is marked dropped.
// Recovery loads snap-r (gen G, or nothing and G = 0) and replays aof-r.<g> for every g ≥ G in
// order, so a crash anywhere in a rewrite neither loses a write nor applies one twice.
//
// appendfsync: `always` fsyncs every append, and the node holds the step's replies until the
// fsync completes (durable before visible); `everysec` appends without fsync and fsyncs each file
// that has unsynced appends once a second; `no` never asks for an fsync.

import type { Effect, PersistId, Recovered } from "../machine.js";
import type { Json } from "../trace.js";
import type { Keyspace } from "../keyspace/keyspace.js";
import { keyIndexes, lookupCommand } from "./command-table.js";
import { respSize } from "./data.js";
import { keySlot, SLOTS } from "./slots.js";
import type { ClusterMsg, ClusterRep, SnapshotEntry } from "./types.js";

type Fx = Effect<ClusterMsg, ClusterRep>[];

export type AppendFsync = "always" | "everysec" | "no";

export interface AofConfig {
  readonly appendonly: boolean;
  readonly appendfsync: AppendFsync;
  /** Slots per file; 16384 must be a multiple of it. */
  readonly aofRangeSlots: number;
  /** A range's AOF bytes (RESP) since its snapshot that trigger a rewrite. */
  readonly aofRewriteBytes: number;
}

interface Range {
  readonly lo: number;
  readonly hi: number;
  gen: number;
  /** RESP bytes appended since the snapshot. */
  bytes: number;
  /** Appends not yet fsynced (everysec). */
  unsynced: boolean;
}

export interface AofRecovery {
  readonly keys: number;
  readonly records: number;
  readonly tornFiles: readonly string[];
}

/**
 * Whether the node appends to the file `name` of its directory: the AOF files (`aof-<lo>-<hi>.<gen>`).
 * Every other file it keeps (nodes.conf, snap-*) is only ever replaced whole, so a host's recovery
 * cuts a torn or damaged tail of these files only, and refuses damage anywhere else.
 */
export function isAppendedFile(name: string): boolean {
  return /^aof-\d+-\d+\.\d+$/.test(name);
}

export class Aof {
  private readonly ranges: Range[] = [];
  /** Snapshot persists in flight: when one completes, the AOF it made obsolete is dropped. */
  private readonly pendingDrops = new Map<PersistId, string>();
  private lastSyncMs = 0;

  constructor(
    private readonly config: AofConfig,
    private readonly nextPersistId: () => PersistId,
  ) {
    const n = config.aofRangeSlots;
    for (let lo = 0; lo < SLOTS; lo += n) this.ranges.push({ lo, hi: Math.min(SLOTS, lo + n) - 1, gen: 0, bytes: 0, unsynced: false });
  }

  get enabled(): boolean {
    return this.config.appendonly;
  }

  /** Loads what the files hold into `ks` (empty before): snapshots first, then the AOFs after them. */
  recover(recovered: Recovered | null, ks: Keyspace, nowMs: number): AofRecovery {
    const files = recovered?.files ?? {};
    const tornFiles: string[] = [];
    let records = 0;
    for (const r of this.ranges) {
      const base = `${r.lo}-${r.hi}`;
      const snap = files[`snap-${base}`]?.records.at(-1) as { gen?: number; entries?: SnapshotEntry[] } | undefined;
      const gen = typeof snap?.gen === "number" ? snap.gen : 0;
      for (const e of snap?.entries ?? []) ks.restoreEntry(e.key, e.payload, e.expireAtMs, nowMs);
      const gens: number[] = [];
      for (const name of Object.keys(files)) {
        const m = /^aof-(\d+)-(\d+)\.(\d+)$/.exec(name);
        if (m !== null && `${m[1]}-${m[2]}` === base && Number(m[3]) >= gen) gens.push(Number(m[3]));
      }
      gens.sort((a, b) => a - b);
      r.gen = gen;
      for (const g of gens) {
        const f = files[`aof-${base}.${g}`];
        if (f === undefined) continue;
        if (f.tornTail) tornFiles.push(`aof-${base}.${g}`);
        for (const rec of f.records) {
          const cmds = (rec as { c?: string[][] }).c;
          if (!Array.isArray(cmds)) continue;
          records += 1;
          for (const cmd of cmds) {
            r.bytes += respSize(cmd);
            const name = (cmd[0] ?? "").toUpperCase();
            // A keyless write (FLUSHALL) was logged in every range; replayed here it empties this range only.
            if (name === "FLUSHALL" || name === "FLUSHDB") for (let slot = r.lo; slot <= r.hi; slot++) ks.deleteKeysInSlot(slot);
            else ks.exec(cmd, nowMs);
          }
        }
        r.gen = g;
      }
    }
    return { keys: ks.size, records, tornFiles };
  }

  /**
   * Appends what one command (or transaction) propagated. Returns the persist id the step's
   * replies must wait for under appendfsync always, or null.
   */
  log(cmds: readonly (readonly string[])[], fx: Fx): PersistId | null {
    if (!this.config.appendonly || cmds.length === 0) return null;
    const always = this.config.appendfsync === "always";
    if (cmds.length === 1) {
      // One command (most writes) with its keys in one range: one record, no grouping.
      const cmd = cmds[0] as string[];
      const ranges = cmd[0] === "MULTI" || cmd[0] === "EXEC" ? [] : this.rangesOf(cmd);
      if (ranges.length === 1) {
        const r = ranges[0] as Range;
        r.bytes += respSize(cmd);
        const id = this.nextPersistId();
        fx.push({ kind: "persist", id, file: this.aofFile(r), op: "append", record: { c: [cmd] } as unknown as Json, ...appendFlags(always) });
        if (!always) r.unsynced = true;
        return always ? id : null;
      }
    }
    const byRange = new Map<Range, string[][]>();
    for (const cmd of cmds) {
      const name = cmd[0];
      if (name === "MULTI" || name === "EXEC") continue;
      for (const r of this.rangesOf(cmd)) {
        const list = byRange.get(r);
        if (list === undefined) byRange.set(r, [cmd as string[]]);
        else list.push(cmd as string[]);
        r.bytes += respSize(cmd);
      }
    }
    let last: PersistId | null = null;
    for (const [r, list] of byRange) {
      const id = this.nextPersistId();
      fx.push({ kind: "persist", id, file: this.aofFile(r), op: "append", record: { c: list } as unknown as Json, ...appendFlags(always) });
      if (!always) r.unsynced = true;
      last = id;
    }
    return always ? last : null;
  }

  /** Once a second under everysec: fsync each file with unsynced appends. Rewrites that are due. */
  cron(nowMs: number, ks: Keyspace, fx: Fx): void {
    if (!this.config.appendonly) return;
    if (this.config.appendfsync === "everysec" && nowMs - this.lastSyncMs >= 1000) {
      this.lastSyncMs = nowMs;
      for (const r of this.ranges) {
        if (!r.unsynced) continue;
        r.unsynced = false;
        fx.push({ kind: "persist", id: this.nextPersistId(), file: this.aofFile(r), op: "append", record: { sync: 1 }, sync: true });
      }
    }
    for (const r of this.ranges) {
      if (r.bytes <= this.config.aofRewriteBytes) continue;
      const keys = this.rewrite(r, ks, fx);
      fx.push({ kind: "trace", event: { type: "aof-rewrite", slots: `${r.lo}-${r.hi}`, gen: r.gen, keys } });
    }
  }

  /** The whole dataset was replaced (a replica's full resync): every range starts over from a snapshot. */
  rewriteAll(ks: Keyspace, fx: Fx): void {
    if (!this.config.appendonly) return;
    let keys = 0;
    for (const r of this.ranges) keys += this.rewrite(r, ks, fx);
    fx.push({ kind: "trace", event: { type: "aof-rewrite", slots: `0-${SLOTS - 1}`, keys } });
  }

  /** A persist completed: a finished snapshot makes the AOF before it obsolete. */
  persisted(id: PersistId, fx: Fx): void {
    const file = this.pendingDrops.get(id);
    if (file === undefined) return;
    this.pendingDrops.delete(id);
    fx.push({ kind: "persist", id: this.nextPersistId(), file, op: "write", record: { dropped: 1 }, sync: false });
  }

  /** Snapshots one range into a new generation; returns how many keys the snapshot holds. */
  private rewrite(r: Range, ks: Keyspace, fx: Fx): number {
    const old = this.aofFile(r);
    r.gen += 1;
    r.bytes = 0;
    r.unsynced = false;
    const entries: SnapshotEntry[] = [];
    for (let s = r.lo; s <= r.hi; s++) if (ks.countKeysInSlot(s) > 0) entries.push(...ks.snapshotSlot(s));
    const id = this.nextPersistId();
    fx.push({ kind: "persist", id, file: `snap-${r.lo}-${r.hi}`, op: "write", record: { gen: r.gen, entries } as unknown as Json, sync: true });
    this.pendingDrops.set(id, old);
    return entries.length;
  }

  private aofFile(r: Range): string {
    return `aof-${r.lo}-${r.hi}.${r.gen}`;
  }

  /** The range a propagated command belongs to; keyless ones (FLUSHALL) belong to every range. */
  private rangesOf(cmd: readonly string[]): readonly Range[] {
    const found = lookupCommand(cmd);
    const idx = "entry" in found ? keyIndexes(found.entry, cmd) : [];
    if (idx.length === 0) return this.ranges;
    const slot = keySlot(cmd[idx[0] as number] as string);
    return [this.ranges[Math.floor(slot / this.config.aofRangeSlots)] as Range];
  }
}

/**
 * An AOF append's flags: under appendfsync always it is fsynced and the step's replies wait for
 * it; otherwise nothing waits for it, so the host need not report its completion (`notify`).
 */
function appendFlags(always: boolean): { readonly sync: boolean; readonly notify?: false } {
  return always ? { sync: true } : { sync: false, notify: false };
}
