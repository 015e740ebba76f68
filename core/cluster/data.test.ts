import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { NodeId } from "../machine.js";
import { textToByteString } from "../keyspace/bytes.js";
import { type Plain, plain } from "../keyspace/plain.js";
import { Replication, respSize } from "./data.js";
import { encodeRequest } from "../resp/codec.js";
import { CLUSTER_CONST, CLUSTER_DEFAULTS, type ClusterConfig, type ReplMsg } from "./types.js";

const WRONGTYPE = { err: "WRONGTYPE Operation against a key holding the wrong kind of value" };

/** A client write on a master: run it, then replicate what it propagated (what the node does). */
function write(m: Replication, cmd: readonly string[]): Plain {
  const r = m.data.exec(cmd, 0);
  m.feed(r.propagate);
  return plain(r.reply);
}

function get(r: Replication, key: string): Plain {
  return plain(r.data.exec(["GET", key], 0).reply);
}

function list(r: Replication, key: string): Plain {
  return plain(r.data.exec(["LRANGE", key, "0", "-1"], 0).reply);
}

// ---- respSize -------------------------------------------------------------------------------------

describe("respSize", () => {
  it("counts the bytes of the RESP array of bulk strings", () => {
    // *3\r\n $3\r\nSET\r\n $3\r\nkey\r\n $5\r\nvalue\r\n
    expect(respSize(["SET", "key", "value"])).toBe(4 + 9 + 9 + 11);
    expect(respSize(["SET", "key", "value"])).toBe(encodeRequest(["SET", "key", "value"]).length);
    expect(respSize([])).toBe("*0\r\n".length);
    expect(respSize([""])).toBe("*1\r\n$0\r\n\r\n".length);
    const ten = Array.from({ length: 10 }, () => "x".repeat(12));
    expect(respSize(ten)).toBe(encodeRequest(ten).length);
  });

  it("property: equals the length of the RESP encoding (ASCII arguments)", () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 150 }), { maxLength: 14 }), (cmd) => {
        expect(respSize(cmd)).toBe(encodeRequest(cmd).length);
      }),
      { seed: 202 },
    );
  });

  it("counts bytes: arguments are byte strings, so non-ASCII text counts its UTF-8 bytes", () => {
    // $2\r\né\r\n: "é" is two bytes on the wire. Replication offsets are byte counts.
    const bytes = (cmd: readonly string[]): number => encodeRequest(cmd).length;
    const b = (cmd: readonly string[]): string[] => cmd.map(textToByteString);
    expect(bytes(["SET", "k", "é"])).toBe(28);
    expect(respSize(b(["SET", "k", "é"]))).toBe(28);
    expect(respSize(b(["RPUSH", "emoji", "😀😀"]))).toBe(bytes(["RPUSH", "emoji", "😀😀"]));
    expect(respSize(b(["SET", "ключ", "значение"]))).toBe(bytes(["SET", "ключ", "значение"]));
  });
});

// ---- Replication ----------------------------------------------------------------------------------

const config = (over: Partial<ClusterConfig> = {}): ClusterConfig => ({ ...CLUSTER_DEFAULTS, ...over });

/** Replication endpoints joined by an in-test network that delivers only when asked. */
class ReplNet {
  readonly nodes = new Map<NodeId, Replication>();
  queue: { from: NodeId; to: NodeId; msg: ReplMsg }[] = [];
  /** Every message ever sent, in order. */
  readonly log: { from: NodeId; to: NodeId; msg: ReplMsg }[] = [];
  /** Messages for which this returns true are lost. */
  drop: (from: NodeId, to: NodeId, msg: ReplMsg) => boolean = () => false;
  now = 1_000_000;

  add(address: NodeId, replid: string, cfg: ClusterConfig = config()): Replication {
    const r = new Replication(cfg, () => replid, (to, msg) => {
      this.log.push({ from: address, to, msg });
      if (!this.drop(address, to, msg)) this.queue.push({ from: address, to, msg });
    });
    this.nodes.set(address, r);
    return r;
  }

  /** Delivers everything queued (and what that causes), in order. */
  pump(): void {
    for (let guard = 0; this.queue.length > 0; guard++) {
      expect(guard).toBeLessThan(10_000);
      const m = this.queue.shift() as { from: NodeId; to: NodeId; msg: ReplMsg };
      this.nodes.get(m.to)?.onMessage(m.from, m.msg, this.now);
    }
  }

  sentSince(mark: number, to?: NodeId): ReplMsg[] {
    return this.log.slice(mark).filter((m) => to === undefined || m.to === to).map((m) => m.msg);
  }
}

const RID_M = "m".repeat(40);
const RID_R = "r".repeat(40);
const RID_NEW = "n".repeat(40);

/** A master "m" and a replica "r" of it, connected by a full resync. */
function pair(cfg: ClusterConfig = config()): { net: ReplNet; m: Replication; r: Replication } {
  const net = new ReplNet();
  const m = net.add("m", RID_M, cfg);
  const r = net.add("r", RID_R, cfg);
  r.follow("m", net.now);
  net.pump();
  expect(r.state).toBe("connected");
  return { net, m, r };
}

describe("Replication", () => {
  it("a fresh replica PSYNCs with its own id and offset 0, and a fresh master answers with an empty full resync", () => {
    const net = new ReplNet();
    const m = net.add("m", RID_M);
    const r = net.add("r", RID_R);
    expect(r.isReplica).toBe(false);
    r.follow("m", net.now);
    expect(r.isReplica).toBe(true);
    expect(r.state).toBe("connecting");
    expect(net.queue.map((q) => q.msg)).toEqual([{ type: "psync", replid: RID_R, offset: 0 }]);
    net.pump();
    expect(net.sentSince(1, "r")).toEqual([{ type: "fullresync", replid: RID_M, offset: 0 }, { type: "snapshot-end" }]);
    expect(r.state).toBe("connected");
    expect(r.replid).toBe(RID_M);
    expect(m.replicaAcks()).toEqual([["r", 0]]);
  });

  it("a master write streams to a connected replica, which applies it at the same offset", () => {
    const { net, m, r } = pair();
    const mark = net.log.length;
    expect(write(m, ["SET", "k", "v"])).toEqual({ simple: "OK" });
    expect(write(m, ["RPUSH", "l", "a", "b"])).toEqual(2);
    const s1 = respSize(["SET", "k", "v"]);
    const s2 = respSize(["RPUSH", "l", "a", "b"]);
    expect(m.offset).toBe(s1 + s2);
    expect(net.sentSince(mark, "r")).toEqual([
      { type: "stream", offset: 0, entries: [{ cmd: ["SET", "k", "v"], size: s1 }] },
      { type: "stream", offset: s1, entries: [{ cmd: ["RPUSH", "l", "a", "b"], size: s2 }] },
    ]);
    net.pump();
    expect(r.offset).toBe(m.offset);
    expect(get(r, "k")).toEqual("v");
    expect(list(r, "l")).toEqual(["a", "b"]);
  });

  it("a failed write is neither applied, counted nor streamed", () => {
    const { net, m, r } = pair();
    write(m, ["SET", "s", "x"]);
    net.pump();
    const offset = m.offset;
    const mark = net.log.length;
    expect(write(m, ["RPUSH", "s", "y"])).toEqual(WRONGTYPE);
    expect(m.offset).toBe(offset);
    expect(net.sentSince(mark)).toEqual([]);
    expect(r.offset).toBe(offset);
  });

  it("PSYNC with the same replid and an offset inside the backlog gets `continue` and exactly the missing entries", () => {
    const { net, m, r } = pair();
    write(m, ["SET", "a", "1"]);
    net.pump();
    const at = r.offset;
    // The link breaks: the next writes never reach the replica.
    net.drop = () => true;
    write(m, ["SET", "b", "2"]);
    write(m, ["RPUSH", "l", "x"]);
    net.drop = () => false;
    expect(r.offset).toBe(at);
    // A fresh replica object with the same history reconnects (as after a restart of the link).
    const mark = net.log.length;
    m.onMessage("r", { type: "psync", replid: RID_M, offset: at }, net.now);
    expect(net.sentSince(mark, "r")).toEqual([
      { type: "continue", replid: RID_M, offset: at },
      {
        type: "stream",
        offset: at,
        entries: [
          { cmd: ["SET", "b", "2"], size: respSize(["SET", "b", "2"]) },
          { cmd: ["RPUSH", "l", "x"], size: respSize(["RPUSH", "l", "x"]) },
        ],
      },
    ]);
    expect(net.sentSince(mark, "r").some((msg) => msg.type === "fullresync" || msg.type === "snapshot")).toBe(false);
  });

  it("a replica seeing a stream message with a gap reconnects with PSYNC and catches up by partial resync", () => {
    const { net, m, r } = pair();
    write(m, ["SET", "a", "1"]);
    net.pump();
    const at = r.offset;
    // One stream message is lost; the next one arrives with an offset beyond the replica's.
    let lost = 0;
    net.drop = (_f, to, msg) => to === "r" && msg.type === "stream" && lost++ === 0;
    write(m, ["SET", "b", "2"]);
    net.drop = () => false;
    write(m, ["SET", "c", "3"]);
    const mark = net.log.length;
    net.pump();
    // The gap made it drop the message and ask again from where it is.
    expect(net.sentSince(mark, "m")[0]).toEqual({ type: "psync", replid: RID_M, offset: at });
    expect(net.sentSince(mark, "r").map((x) => x.type)).toEqual(["continue", "stream"]);
    expect(r.state).toBe("connected");
    expect(r.offset).toBe(m.offset);
    expect(r.data.snapshot().map((e) => e.key)).toEqual(["a", "b", "c"]);
  });

  it("a repeated stream message (offset behind the replica) also makes it reconnect and is not applied twice", () => {
    const { net, m, r } = pair();
    write(m, ["RPUSH", "l", "x"]);
    const first = net.queue[0];
    net.pump();
    expect(list(r, "l")).toEqual(["x"]);
    const mark = net.log.length;
    r.onMessage("m", (first as { msg: ReplMsg }).msg, net.now);
    expect(net.sentSince(mark, "m")).toEqual([{ type: "psync", replid: RID_M, offset: m.offset }]);
    net.pump();
    expect(list(r, "l")).toEqual(["x"]);
    expect(r.offset).toBe(m.offset);
  });

  it("PSYNC with an unknown replid gets fullresync, snapshot chunks and snapshot-end; the replica ends with the master's data and offset", () => {
    const net = new ReplNet();
    const m = net.add("m", RID_M);
    const n = CLUSTER_CONST.snapshotChunk * 2 + 3;
    for (let i = 0; i < n; i++) write(m, ["SET", `k${String(i).padStart(4, "0")}`, `v${i}`]);
    write(m, ["RPUSH", "list", "a", "b"]);
    const r = net.add("r", RID_R);
    // The replica has data of its own from another history: it must all go.
    r.data.exec(["SET", "stale", "x"], 0);
    r.offset = 5;
    const mark = net.log.length;
    r.follow("m", net.now);
    net.pump();
    const toR = net.sentSince(mark, "r");
    expect(toR[0]).toEqual({ type: "fullresync", replid: RID_M, offset: m.offset });
    const chunks = toR.slice(1, -1);
    expect(chunks.map((c) => c.type)).toEqual(["snapshot", "snapshot", "snapshot"]);
    expect(chunks.map((c) => (c.type === "snapshot" ? c.entries.length : -1))).toEqual([CLUSTER_CONST.snapshotChunk, CLUSTER_CONST.snapshotChunk, 4]);
    expect(toR.at(-1)).toEqual({ type: "snapshot-end" });
    expect(r.state).toBe("connected");
    expect(r.replid).toBe(RID_M);
    expect(r.offset).toBe(m.offset);
    expect(r.data.snapshot()).toEqual(m.data.snapshot());
    expect(get(r, "stale")).toEqual(null);
    // And the live stream continues from there.
    write(m, ["SET", "after", "1"]);
    net.pump();
    expect(r.offset).toBe(m.offset);
    expect(get(r, "after")).toEqual("1");
  });

  it("PSYNC with the right replid but an offset outside the backlog gets a full resync", () => {
    const cfg = config({ replBacklogBytes: 100 });
    const { net, m, r } = pair(cfg);
    net.drop = () => true;
    for (let i = 0; i < 20; i++) write(m, ["SET", `k${i}`, "value"]);
    net.drop = () => false;
    const mark = net.log.length;
    m.onMessage("r", { type: "psync", replid: RID_M, offset: r.offset }, net.now);
    expect(net.sentSince(mark, "r")[0]).toEqual({ type: "fullresync", replid: RID_M, offset: m.offset });
    // An offset ahead of the master is not served from the backlog either.
    const mark2 = net.log.length;
    m.onMessage("x", { type: "psync", replid: RID_M, offset: m.offset + 1 }, net.now);
    expect(net.sentSince(mark2, "x")[0]?.type).toBe("fullresync");
  });

  it("the backlog is bounded by replBacklogBytes (keeping at least the newest entry)", () => {
    const size = respSize(["SET", "k00", "value"]);
    const cfg = config({ replBacklogBytes: size * 3 });
    const net = new ReplNet();
    const m = net.add("m", RID_M, cfg);
    m.onMessage("first", { type: "psync", replid: RID_M, offset: 0 }, net.now); // creates the backlog
    for (let i = 0; i < 10; i++) write(m, ["SET", `k${String(i).padStart(2, "0")}`, "value"]);
    // Offsets inside the last three entries continue; the one before does not.
    const served = (offset: number): string => {
      const mark = net.log.length;
      m.onMessage("x", { type: "psync", replid: RID_M, offset }, net.now);
      return net.sentSince(mark, "x")[0]?.type ?? "none";
    };
    expect(served(size * 7)).toBe("continue");
    expect(served(size * 10)).toBe("continue");
    expect(served(size * 7 - size)).toBe("fullresync");
    const mark = net.log.length;
    m.onMessage("y", { type: "psync", replid: RID_M, offset: size * 7 }, net.now);
    const stream = net.sentSince(mark, "y")[1];
    expect(stream?.type === "stream" ? stream.entries.length : -1).toBe(3);
    // A single entry bigger than the whole backlog is still kept.
    const tiny = new ReplNet();
    const t = tiny.add("m", RID_M, config({ replBacklogBytes: 10 }));
    t.onMessage("first", { type: "psync", replid: RID_M, offset: 0 }, tiny.now);
    tiny.queue.length = 0;
    write(t, ["SET", "k", "a-long-value-bigger-than-ten-bytes"]);
    t.onMessage("x", { type: "psync", replid: RID_M, offset: 0 }, tiny.now);
    expect(tiny.queue.filter((q) => q.to === "x").map((q) => q.msg.type)).toEqual(["continue", "stream"]);
  });

  it("a master keeps no backlog until a replica asks to sync, and answers that first PSYNC with a full resync", () => {
    const net = new ReplNet();
    const m = net.add("m", RID_M, config({}));
    expect(m.backlogInfo()).toMatchObject({ active: false, histlen: 0 });
    for (let i = 0; i < 10; i++) write(m, ["SET", `k${i}`, "value"]);
    expect(m.backlogInfo()).toMatchObject({ active: false, histlen: 0 });
    // Same history and an offset the master passed, but no backlog to continue from.
    const mark = net.log.length;
    m.onMessage("x", { type: "psync", replid: RID_M, offset: m.offset }, net.now);
    expect(net.sentSince(mark, "x")[0]?.type).toBe("fullresync");
    expect(m.backlogInfo().active).toBe(true);
    write(m, ["SET", "after", "1"]);
    expect(m.backlogInfo().histlen).toBe(respSize(["SET", "after", "1"]));
    // From now on a replica within the backlog continues.
    const mark2 = net.log.length;
    m.onMessage("y", { type: "psync", replid: RID_M, offset: m.offset - respSize(["SET", "after", "1"]) }, net.now);
    expect(net.sentSince(mark2, "y")[0]?.type).toBe("continue");
  });

  it("the replica keeps a backlog of what it applied, bounded the same way, so it can serve PSYNC once promoted", () => {
    const size = respSize(["SET", "k00", "value"]);
    const { net, m, r } = pair(config({ replBacklogBytes: size * 2 }));
    for (let i = 0; i < 5; i++) write(m, ["SET", `k${String(i).padStart(2, "0")}`, "value"]);
    net.pump();
    r.promote(RID_NEW);
    const served = (offset: number): string => {
      const mark = net.log.length;
      r.onMessage("x", { type: "psync", replid: RID_M, offset }, net.now);
      return net.sentSince(mark, "x")[0]?.type ?? "none";
    };
    expect(served(size * 3)).toBe("continue");
    expect(served(size * 2)).toBe("fullresync");
  });

  it("promote() shifts the replication id: replid2 is the old id and secondReplidOffset the offset at the switch", () => {
    const { net, m, r } = pair();
    write(m, ["SET", "a", "1"]);
    net.pump();
    const at = r.offset;
    r.promote(RID_NEW);
    expect(r.replid).toBe(RID_NEW);
    expect(r.replid2).toBe(RID_M);
    expect(r.secondReplidOffset).toBe(at);
    expect(r.isReplica).toBe(false);
    expect(r.state).toBe("none");
  });

  it("after promote(), a replica of the old id partially resyncs up to secondReplidOffset", () => {
    const net = new ReplNet();
    const m = net.add("m", RID_M);
    const r1 = net.add("r1", "1".repeat(40));
    const r2 = net.add("r2", "2".repeat(40));
    r1.follow("m", net.now);
    r2.follow("m", net.now);
    net.pump();
    write(m, ["SET", "a", "1"]);
    write(m, ["SET", "b", "2"]);
    net.pump();
    expect(r1.offset).toBe(m.offset);
    expect(r2.offset).toBe(m.offset);
    // The master dies; r1 is promoted and takes a write; r2 follows it.
    r1.promote(RID_NEW);
    write(r1, ["SET", "c", "3"]);
    const mark = net.log.length;
    r2.follow("r1", net.now);
    net.pump();
    expect(net.sentSince(mark, "r1")).toEqual([{ type: "psync", replid: RID_M, offset: m.offset }]);
    expect(net.sentSince(mark, "r2").map((x) => x.type)).toEqual(["continue", "stream"]);
    expect(net.sentSince(mark, "r2")[0]).toEqual({ type: "continue", replid: RID_NEW, offset: m.offset });
    expect(r2.replid).toBe(RID_NEW);
    expect(r2.replid2).toBe(RID_M);
    expect(r2.secondReplidOffset).toBe(m.offset);
    expect(r2.offset).toBe(r1.offset);
    expect(r2.data.snapshot().map((e) => e.key)).toEqual(["a", "b", "c"]);
  });

  it("a replica of the old id below the switch offset also continues (from the backlog)", () => {
    const { net, m, r } = pair();
    write(m, ["SET", "a", "1"]);
    net.pump();
    const low = r.offset;
    write(m, ["SET", "b", "2"]);
    net.pump();
    r.promote(RID_NEW);
    const mark = net.log.length;
    r.onMessage("x", { type: "psync", replid: RID_M, offset: low }, net.now);
    expect(net.sentSince(mark, "x")).toEqual([
      { type: "continue", replid: RID_NEW, offset: low },
      { type: "stream", offset: low, entries: [{ cmd: ["SET", "b", "2"], size: respSize(["SET", "b", "2"]) }] },
    ]);
  });

  it("a demoted master whose offset went beyond secondReplidOffset must fully resync, losing the writes its replica never saw", () => {
    const { net, m, r } = pair();
    write(m, ["RPUSH", "l", "acked-and-replicated"]);
    net.pump();
    const switchAt = r.offset;
    // Partition: the master takes a write the replica never sees.
    net.drop = () => true;
    expect(write(m, ["RPUSH", "l", "acked-then-lost"])).toEqual(2);
    net.drop = () => false;
    expect(m.offset).toBeGreaterThan(switchAt);
    // The replica is promoted and the old master rejoins as its replica.
    r.promote(RID_NEW);
    write(r, ["RPUSH", "l", "new-master-write"]);
    const mark = net.log.length;
    m.follow("r", net.now);
    net.pump();
    expect(net.sentSince(mark, "r")).toEqual([{ type: "psync", replid: RID_M, offset: switchAt + respSize(["RPUSH", "l", "acked-then-lost"]) }]);
    expect(net.sentSince(mark, "m")[0]).toEqual({ type: "fullresync", replid: RID_NEW, offset: r.offset });
    expect(m.replid).toBe(RID_NEW);
    expect(m.offset).toBe(r.offset);
    expect(list(m, "l")).toEqual(["acked-and-replicated", "new-master-write"]);
  });

  it("a demoted master exactly at the switch offset continues", () => {
    const { net, m, r } = pair();
    write(m, ["SET", "a", "1"]);
    net.pump();
    r.promote(RID_NEW);
    const mark = net.log.length;
    m.follow("r", net.now);
    net.pump();
    expect(net.sentSince(mark, "m")).toEqual([{ type: "continue", replid: RID_NEW, offset: m.offset }]);
    expect(m.replid).toBe(RID_NEW);
    expect(m.replid2).toBe(RID_M);
    expect(m.state).toBe("connected");
  });

  it("replicas only take master → replica messages from the master they follow", () => {
    const { net, r } = pair();
    const before = r.data.snapshot();
    r.onMessage("intruder", { type: "fullresync", replid: "i".repeat(40), offset: 999 }, net.now);
    r.onMessage("intruder", { type: "stream", offset: r.offset, entries: [{ cmd: ["SET", "x", "1"], size: respSize(["SET", "x", "1"]) }] }, net.now);
    expect(r.replid).toBe(RID_M);
    expect(r.data.snapshot()).toEqual(before);
    expect(r.state).toBe("connected");
  });

  it("a replica acks its offset every second, and the master records the ack", () => {
    const { net, m, r } = pair();
    write(m, ["SET", "a", "1"]);
    net.pump();
    const mark = net.log.length;
    r.cron(net.now);
    r.cron(net.now + 500);
    expect(net.sentSince(mark, "m")).toEqual([{ type: "repl-ack", offset: r.offset }]);
    net.pump();
    expect(m.replicaAcks()).toEqual([["r", r.offset]]);
    r.cron(net.now + 1000);
    expect(net.sentSince(mark, "m").length).toBe(2);
  });

  it("a master pings its replicas every replPingPeriodMs, which keeps their data age fresh", () => {
    const { net, m, r } = pair(config({ replPingPeriodMs: 10_000 }));
    const t0 = net.now;
    m.cron(t0);
    const mark = net.log.length;
    m.cron(t0 + 5_000);
    expect(net.sentSince(mark, "r")).toEqual([]);
    m.cron(t0 + 10_000);
    expect(net.sentSince(mark, "r")).toEqual([{ type: "repl-ping", offset: m.offset }]);
    net.now = t0 + 10_000;
    net.pump();
    expect(r.dataAgeMs(t0 + 12_000)).toBe(2_000);
  });

  it("data age counts from when the link went down while disconnected", () => {
    const net = new ReplNet();
    net.add("m", RID_M);
    const r = net.add("r", RID_R);
    r.follow("m", 5_000);
    expect(r.state).toBe("connecting");
    expect(r.dataAgeMs(8_000)).toBe(3_000);
  });

  it("a replica with no word from its master for the replication timeout reconnects", () => {
    const { net, r } = pair();
    const t0 = net.now;
    const mark = net.log.length;
    r.cron(t0 + CLUSTER_CONST.replTimeoutMs - 1);
    expect(r.state).toBe("connected");
    r.cron(t0 + CLUSTER_CONST.replTimeoutMs + 1);
    expect(r.state).toBe("connecting");
    expect(net.sentSince(mark, "m").filter((x) => x.type === "psync")).toEqual([{ type: "psync", replid: RID_M, offset: r.offset }]);
  });
});
