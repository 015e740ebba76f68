import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Json } from "../../core/trace.js";
import { Disk, type DiskConfig, type UnsyncedOnCrash } from "./disk.js";
import { Stream } from "./random.js";

const BASE: DiskConfig = {
  syncLatency: { dist: "constant", ms: 2 },
  writeLatency: { dist: "constant", ms: 0.02 },
  unsyncedOnCrash: "lose",
  tornWrite: 0,
  writebackMs: 5000,
};

function disk(over: Partial<DiskConfig> = {}, seed = 1): Disk {
  return new Disk({ ...BASE, ...over }, new Stream(seed, "disk/test"));
}

/** Submits and completes at once (the caller decides when completion matters). */
function write(d: Disk, file: string, record: Json, opts: { sync?: boolean; op?: "append" | "write"; atUs?: number } = {}) {
  const r = d.submit(file, opts.op ?? "append", record, opts.sync ?? false, opts.atUs ?? 0);
  return r;
}

describe("Disk", () => {
  it("recovers nothing from a disk never written", () => {
    expect(disk().recover()).toBeNull();
  });

  it("a completed sync makes every earlier write of that file durable, through the synced one", () => {
    const d = disk();
    write(d, "log", 1);
    write(d, "log", 2);
    const s = write(d, "log", 3, { sync: true });
    write(d, "log", 4); // after the sync: not covered
    write(d, "other", "x"); // another file: not covered
    d.complete(s.handle);
    expect(d.durableRecords("log")).toEqual([1, 2, 3]);
    d.crash(1000);
    expect(d.recover()).toEqual({ files: { log: { records: [1, 2, 3], tornTail: false }, other: { records: [], tornTail: false } } });
  });

  it("a sync that has not completed makes nothing durable", () => {
    const d = disk();
    write(d, "log", 1, { sync: true });
    expect(d.durableRecords("log")).toEqual([]);
    d.crash(1000);
    expect(d.durableRecords("log")).toEqual([]);
  });

  it("completing an unsynced write does not make it durable", () => {
    const d = disk();
    const w = write(d, "log", 1);
    d.complete(w.handle);
    expect(d.durableRecords("log")).toEqual([]);
    expect(d.syncs).toBe(0);
  });

  it("stores records serialized: mutating the object afterwards changes nothing on disk", () => {
    const d = disk();
    const rec = { term: 1 } as { term: number };
    const s = write(d, "vote", rec, { sync: true, op: "write" });
    rec.term = 99;
    d.complete(s.handle);
    expect(d.durableRecords("vote")).toEqual([{ term: 1 }]);
  });

  it("'write' replaces the whole file with one record", () => {
    const d = disk();
    write(d, "vote", { term: 1 });
    write(d, "vote", { term: 2 });
    const s = write(d, "vote", { term: 3 }, { op: "write", sync: true });
    d.complete(s.handle);
    expect(d.durableRecords("vote")).toEqual([{ term: 3 }]);
    const s2 = write(d, "vote", { term: 4 }, { sync: true });
    d.complete(s2.handle);
    expect(d.durableRecords("vote")).toEqual([{ term: 3 }, { term: 4 }]);
  });

  it("completions are FIFO per disk: a fast write never completes before a slower one submitted earlier", () => {
    const d = disk({ syncLatency: { dist: "constant", ms: 10 }, writeLatency: { dist: "constant", ms: 1 } });
    const a = write(d, "log", 1, { sync: true, atUs: 0 });
    const b = write(d, "log", 2, { atUs: 100 });
    expect(a.completeAtUs).toBe(10_000);
    expect(b.completeAtUs).toBe(10_000);
    expect(write(d, "log", 3, { atUs: 20_000 }).completeAtUs).toBe(21_000);
  });

  it.each<[UnsyncedOnCrash, Json[]]>([
    ["lose", [1]],
    ["keep", [1, 2, 3]],
  ])("crash with unsyncedOnCrash=%s", (mode, survived) => {
    const d = disk({ unsyncedOnCrash: mode });
    const s = write(d, "log", 1, { sync: true });
    d.complete(s.handle);
    write(d, "log", 2);
    write(d, "log", 3);
    const damage = d.crash(1_000);
    expect(damage.lostWrites).toBe(mode === "lose" ? 2 : 0);
    expect(damage.tornFiles).toEqual([]);
    expect(d.recover()?.files["log"]?.records).toEqual(survived);
  });

  it("property: crash with 'random' keeps a prefix of the unsynced writes of each file", () => {
    const script = fc.array(fc.record({ file: fc.constantFrom("a", "b"), op: fc.constantFrom<"append" | "write">("append", "append", "write"), sync: fc.boolean() }), {
      maxLength: 25,
    });
    fc.assert(
      fc.property(script, fc.integer({ min: 1, max: 10_000 }), (ops, seed) => {
        const d = disk({ unsyncedOnCrash: "random" }, seed);
        // Writes are numbered; synced ones complete at once. Track, per file, the durable content
        // and the unsynced tail, then check the crash leaves durable ⊕ (some prefix of the tail).
        const model = new Map<string, { durable: number[]; tail: { n: number; op: "append" | "write" }[] }>();
        ops.forEach((o, n) => {
          const f = model.get(o.file) ?? { durable: [], tail: [] };
          model.set(o.file, f);
          const { handle } = write(d, o.file, n, { op: o.op, sync: o.sync });
          f.tail.push({ n, op: o.op });
          if (o.sync) {
            d.complete(handle);
            for (const t of f.tail) applyOp(f.durable, t);
            f.tail = [];
          }
        });
        const damage = d.crash(1_000);
        let lost = 0;
        for (const [file, f] of model) {
          const got = d.durableRecords(file) as number[];
          const candidates = Array.from({ length: f.tail.length + 1 }, (_, k) => {
            const r = [...f.durable];
            for (const t of f.tail.slice(0, k)) applyOp(r, t);
            return { k, r };
          });
          const match = candidates.find((c) => JSON.stringify(c.r) === JSON.stringify(got));
          expect(match, `file ${file}: ${JSON.stringify(got)} is not durable + a prefix of the tail`).toBeDefined();
          // Several prefixes may give the same content (a write erases what precedes it); count the least loss.
          lost += f.tail.length - Math.max(...candidates.filter((c) => JSON.stringify(c.r) === JSON.stringify(got)).map((c) => c.k));
        }
        expect(damage.lostWrites).toBeGreaterThanOrEqual(lost);
      }),
      { seed: 41, numRuns: 300 },
    );
  });

  it("'random' sometimes keeps none, sometimes all, sometimes part of the unsynced writes", () => {
    const kept = new Set<number>();
    for (let seed = 1; seed <= 200; seed++) {
      const d = disk({ unsyncedOnCrash: "random" }, seed);
      for (let i = 0; i < 4; i++) write(d, "log", i);
      d.crash(1000);
      kept.add(d.durableRecords("log").length);
    }
    expect([...kept].sort()).toEqual([0, 1, 2, 3, 4]);
  });

  it("writes older than writebackMs have been written back by the OS and survive a crash", () => {
    const d = disk({ writebackMs: 5000 });
    write(d, "log", 1, { atUs: 0 });
    write(d, "log", 2, { atUs: 3_000_000 });
    write(d, "log", 3, { atUs: 6_000_000 });
    // At 8 s: the write at 0 and the one at 3 s are ≥ 5 s old; the one at 6 s is not.
    const damage = d.crash(8_000_000);
    expect(d.durableRecords("log")).toEqual([1, 2]);
    expect(damage.lostWrites).toBe(1);
  });

  it("a write exactly writebackMs old counts as written back", () => {
    const d = disk({ writebackMs: 5000 });
    write(d, "log", 1, { atUs: 1_000_000 });
    write(d, "log", 2, { atUs: 1_000_001 });
    d.crash(6_000_000);
    expect(d.durableRecords("log")).toEqual([1]);
  });

  it("a torn tail is reported once, on the next recovery only", () => {
    const d = disk({ tornWrite: 1 });
    const s = write(d, "log", 1, { sync: true });
    d.complete(s.handle);
    write(d, "log", 2);
    const damage = d.crash(1000);
    expect(damage).toEqual({ lostWrites: 1, tornFiles: ["log"] });
    expect(d.recover()).toEqual({ files: { log: { records: [1], tornTail: true } } });
    expect(d.recover()).toEqual({ files: { log: { records: [1], tornTail: false } } });
  });

  it("a lost whole-file write is never reported torn (it is atomic), nor is a crash that loses nothing", () => {
    const d = disk({ tornWrite: 1 });
    write(d, "vote", { term: 1 }, { op: "write" });
    expect(d.crash(1000).tornFiles).toEqual([]);
    const k = disk({ tornWrite: 1, unsyncedOnCrash: "keep" });
    write(k, "log", 1);
    expect(k.crash(1000)).toEqual({ lostWrites: 0, tornFiles: [] });
    expect(k.recover()?.files["log"]?.tornTail).toBe(false);
  });

  it("after a crash only durable content remains: a second crash changes nothing", () => {
    const d = disk({ unsyncedOnCrash: "keep" });
    write(d, "log", 1);
    d.crash(1000);
    expect(d.crash(2000)).toEqual({ lostWrites: 0, tornFiles: [] });
    expect(d.durableRecords("log")).toEqual([1]);
  });

  it("wipe empties the disk: recovery then sees a fresh disk", () => {
    const d = disk();
    const s = write(d, "log", 1, { sync: true });
    d.complete(s.handle);
    d.wipe();
    expect(d.recover()).toBeNull();
    expect(d.durableRecords("log")).toEqual([]);
  });
});

function applyOp(records: number[], t: { n: number; op: "append" | "write" }): void {
  if (t.op === "write") records.length = 0;
  records.push(t.n);
}
