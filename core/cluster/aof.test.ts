import { describe, expect, it } from "vitest";
import type { Effect, Recovered } from "../machine.js";
import { Keyspace } from "../keyspace/keyspace.js";
import { plain } from "../keyspace/plain.js";
import type { Json } from "../trace.js";
import { Aof, type AofConfig } from "./aof.js";
import { keySlot } from "./slots.js";
import type { ClusterMsg, ClusterRep } from "./types.js";

type Fx = Effect<ClusterMsg, ClusterRep>[];
type Persist = Extract<Fx[number], { kind: "persist" }>;

const CONFIG: AofConfig = { appendonly: true, appendfsync: "everysec", aofRangeSlots: 1024, aofRewriteBytes: 1 << 30 };

/** A disk that applies persists in order; `complete` says which ones finished (the rest are lost at a crash). */
class Disk {
  readonly done: Persist[] = [];
  readonly pending: Persist[] = [];
  submit(fx: Fx): void {
    for (const e of fx) if (e.kind === "persist") this.pending.push(e);
  }
  completeAll(): Persist[] {
    const out = this.pending.splice(0);
    this.done.push(...out);
    return out;
  }
  /** What a restart finds: completed writes only. */
  recovered(): Recovered {
    const files: Record<string, { records: Json[]; tornTail: boolean }> = {};
    for (const p of this.done) {
      const f = (files[p.file] ??= { records: [], tornTail: false });
      if (p.op === "write") f.records = [p.record];
      else f.records.push(p.record);
    }
    return { files };
  }
}

/** A node's keyspace with its AOF: runs a command, logs what it propagated. */
class Store {
  readonly ks = new Keyspace(undefined, keySlot);
  idNext = 0;
  readonly aof: Aof;
  constructor(
    readonly disk: Disk,
    config: AofConfig = CONFIG,
  ) {
    this.aof = new Aof(config, () => this.idNext++);
  }
  run(cmd: string[], nowMs = 1000): number | null {
    const fx: Fx = [];
    const r = this.ks.exec(cmd, nowMs);
    const gate = this.aof.log(r.propagate, fx);
    this.disk.submit(fx);
    return gate;
  }
  cron(nowMs: number): Fx {
    const fx: Fx = [];
    this.aof.cron(nowMs, this.ks, fx);
    this.disk.submit(fx);
    return fx;
  }
}

function restart(disk: Disk, config: AofConfig = CONFIG): Store {
  const s = new Store(disk, config);
  s.aof.recover(disk.recovered(), s.ks, 2000);
  return s;
}

const get = (s: Store, cmd: string[]): unknown => plain(s.ks.exec(cmd, 2000).reply);

describe("Aof", () => {
  it("appends each write to its slot range's file and replays them in order on restart, TTLs as absolute times", () => {
    const disk = new Disk();
    const s = new Store(disk);
    s.run(["SET", "a", "1"]);
    s.run(["RPUSH", "l", "x", "y"]);
    s.run(["SET", "t", "v", "PX", "100000"]);
    s.run(["INCR", "a"]);
    s.run(["GET", "a"]); // a read appends nothing
    disk.completeAll();
    const files = new Set(disk.done.map((p) => p.file));
    const fileOf = (key: string): string => {
      const lo = Math.floor(keySlot(key) / 1024) * 1024;
      return `aof-${lo}-${lo + 1023}.0`;
    };
    expect([...files].sort()).toEqual([...new Set(["a", "l", "t"].map(fileOf))].sort());
    expect(disk.done.find((p) => JSON.stringify(p.record).includes('"t"'))?.record).toEqual({ c: [["SET", "t", "v", "PXAT", "101000"]] });
    const r = restart(disk);
    expect(get(r, ["GET", "a"])).toBe("2");
    expect(get(r, ["LRANGE", "l", "0", "-1"])).toEqual(["x", "y"]);
    expect(get(r, ["PTTL", "t"])).toBe(99000); // 101000 − the restart's clock (2000)
  });

  it("FLUSHALL goes to every range, so a range's replay cannot resurrect keys", () => {
    const disk = new Disk();
    const s = new Store(disk);
    s.run(["SET", "a", "1"]);
    s.run(["FLUSHALL"]);
    s.run(["SET", "b", "2"]);
    disk.completeAll();
    expect(disk.done.filter((p) => JSON.stringify(p.record).includes("FLUSHALL"))).toHaveLength(16);
    const r = restart(disk);
    expect(get(r, ["DBSIZE"])).toBe(1);
  });

  it("appendfsync always: every append is fsynced and returned as the gate for replies; everysec syncs once a second; no never", () => {
    const always = new Store(new Disk(), { ...CONFIG, appendfsync: "always" });
    expect(always.run(["SET", "a", "1"])).toBe(0);
    expect(always.disk.pending.map((p) => p.sync)).toEqual([true]);
    expect(always.run(["GET", "a"])).toBeNull();

    const everysec = new Store(new Disk());
    expect(everysec.run(["SET", "a", "1"])).toBeNull();
    expect(everysec.disk.pending.map((p) => p.sync)).toEqual([false]);
    expect(everysec.cron(1500).map((e) => (e.kind === "persist" ? [e.record, e.sync] : null))).toEqual([[{ sync: 1 }, true]]);
    expect(everysec.cron(2000)).toEqual([]); // nothing new, and within the second
    everysec.run(["SET", "b", "1"]);
    expect(everysec.cron(2200)).toEqual([]);
    expect(everysec.cron(2600)).toHaveLength(1);

    const no = new Store(new Disk(), { ...CONFIG, appendfsync: "no" });
    no.run(["SET", "a", "1"]);
    expect(no.cron(5000)).toEqual([]);
    expect(no.disk.pending.every((p) => !p.sync)).toBe(true);
  });

  it("a rewrite snapshots the range, moves appends to the next file, and drops the old one once the snapshot is durable", () => {
    const disk = new Disk();
    const s = new Store(disk, { ...CONFIG, aofRewriteBytes: 200 });
    const keys = Array.from({ length: 40 }, (_, i) => `{r}${i}`); // one slot, one range
    for (const k of keys.slice(0, 20)) s.run(["SET", k, "v"]);
    const range = Math.floor(keySlot("{r}") / 1024) * 1024;
    const base = `${range}-${range + 1023}`;
    const fx = s.cron(100);
    const snap = fx.find((e) => e.kind === "persist" && e.file === `snap-${base}`) as Persist;
    expect(snap.record).toMatchObject({ gen: 1 });
    expect((snap.record as { entries: unknown[] }).entries).toHaveLength(20);
    for (const k of keys.slice(20)) s.run(["SET", k, "w"]);
    expect(disk.pending.filter((p) => p.file === `aof-${base}.1`)).toHaveLength(20);
    // Crash before the snapshot is durable: the old file and the new one replay in order.
    const early = new Disk();
    early.done.push(...disk.pending.filter((p) => p.file !== `snap-${base}`));
    const r1 = restart(early);
    expect(get(r1, ["DBSIZE"])).toBe(40);
    // The snapshot completes: the old file is dropped; a restart loads the snapshot and the new file.
    const done = disk.completeAll();
    const drops: Fx = [];
    for (const p of done) s.aof.persisted(p.id, drops);
    expect(drops).toEqual([expect.objectContaining({ kind: "persist", file: `aof-${base}.0`, op: "write", record: { dropped: 1 } })]);
    disk.submit(drops);
    disk.completeAll();
    const r2 = restart(disk);
    expect(get(r2, ["DBSIZE"])).toBe(40);
    expect(get(r2, ["GET", "{r}39"])).toBe("w");
    // And keeps appending to the newest generation.
    r2.run(["SET", "{r}0", "z"]);
    expect(r2.disk.pending.at(-1)?.file).toBe(`aof-${base}.1`);
  });

  it("writes nothing when appendonly is off", () => {
    const s = new Store(new Disk(), { ...CONFIG, appendonly: false });
    s.run(["SET", "a", "1"]);
    s.cron(5000);
    expect(s.disk.pending).toEqual([]);
  });
});
