import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { RaftMsg } from "../core/raft/types.js";
import { encodeFrame, FrameReader, helloFrame } from "./frame.js";
import { NodeLog } from "./log.js";
import { decodeRaftPayload, raftFrame, RaftNet } from "./raft-net.js";
import { freePorts, readLog, waitFor } from "../test/real/support.js";

const heartbeat: RaftMsg = { type: "heartbeat", term: 3, commit: 7, seq: 2 };
const append: RaftMsg = {
  type: "append-entries",
  term: 3,
  prevLogIndex: 4,
  prevLogTerm: 2,
  entries: [
    { term: 3, kind: "noop" },
    { term: 3, kind: "command", command: { op: "put", key: "k", value: "v\u00e9" } },
    { term: 3, kind: "config", membership: { voters: ["n1", "n2"], learners: ["n3"] } },
  ],
  leaderCommit: 4,
};

describe("Raft frames", () => {
  it("round-trip through the bus's frame reader, however the stream is split", () => {
    const bytes = Buffer.concat([raftFrame(heartbeat), raftFrame(append)]);
    for (const size of [1, 7, bytes.length]) {
      const reader = new FrameReader();
      const out: RaftMsg[] = [];
      for (let i = 0; i < bytes.length; i += size) {
        reader.push(bytes.subarray(i, i + size));
        for (let p = reader.next(); p !== null; p = reader.next()) {
          const d = decodeRaftPayload(p);
          if (d.ok) out.push(d.msg);
        }
      }
      expect(out).toEqual([heartbeat, append]);
      expect(reader.error).toBe(null);
    }
  });

  it("a flipped byte fails the frame's CRC", () => {
    const frame = raftFrame(heartbeat);
    frame[frame.length - 3] = (frame[frame.length - 3] as number) ^ 0x20;
    const reader = new FrameReader();
    reader.push(frame);
    expect(reader.next()).toBe(null);
    expect(reader.error).toBe("frame CRC mismatch");
  });

  it("checks what arrives field by field with core/raft's isRaftMsg", () => {
    const bad = (v: unknown) => decodeRaftPayload(Buffer.from(JSON.stringify(v)));
    expect(decodeRaftPayload(Buffer.from("{nope"))).toEqual({ ok: false, error: "payload is not JSON" });
    expect(bad([1, 2])).toEqual({ ok: false, error: "payload is not a Raft message" });
    expect(bad({ type: "ping", term: 1 })).toEqual({ ok: false, error: 'malformed "ping" message' });
    expect(bad({ ...heartbeat, term: -1 })).toEqual({ ok: false, error: 'malformed "heartbeat" message' });
    expect(bad({ ...append, entries: [{ term: 3, kind: "config" }] })).toEqual({ ok: false, error: 'malformed "append-entries" message' });
    expect(bad({ type: "request-vote", term: 2, lastLogIndex: 1, lastLogTerm: 1 })).toEqual({ ok: false, error: 'malformed "request-vote" message' });
  });
});

describe("RaftNet on loopback", () => {
  let dir: string;
  const nets: RaftNet[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "faultline-raft-net-"));
  });
  afterEach(() => {
    for (const n of nets.splice(0)) n.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function net(id: string, ports: Map<string, number>, got: [string, RaftMsg][]): { net: RaftNet; logfile: string } {
    const logfile = join(dir, `${id}.log`);
    const n = new RaftNet(id, (to) => (ports.has(to) ? { host: "127.0.0.1", port: ports.get(to) as number } : null), 1_000, (from, msg) => got.push([from, msg]), new NodeLog(id, logfile));
    nets.push(n);
    return { net: n, logfile };
  }

  it("delivers messages between members, named by the dialer's hello", async () => {
    const [p1, p2] = await freePorts(2);
    const ports = new Map([["n1", p1 as number], ["n2", p2 as number]]);
    const at1: [string, RaftMsg][] = [];
    const at2: [string, RaftMsg][] = [];
    const a = net("n1", ports, at1).net;
    const b = net("n2", ports, at2).net;
    await a.listen("127.0.0.1", p1 as number);
    await b.listen("127.0.0.1", p2 as number);
    a.send("n2", heartbeat);
    a.send("n2", append);
    b.send("n1", { type: "heartbeat-reply", term: 3, seq: 2 });
    await waitFor("both messages arrive", 5_000, async () => (at2.length === 2 && at1.length === 1 ? true : null));
    expect(at2).toEqual([["n1", heartbeat], ["n1", append]]);
    expect(at1).toEqual([["n2", { type: "heartbeat-reply", term: 3, seq: 2 }]]);
    a.send("n9", heartbeat); // no address: dropped and counted, nothing thrown
    expect(a.dropped).toBe(1);
  });

  it("drops and logs a frame that is not a Raft message, keeps the connection; closes on a broken stream", async () => {
    const [p1] = await freePorts(1);
    const got: [string, RaftMsg][] = [];
    const { net: a, logfile } = net("n1", new Map(), got);
    await a.listen("127.0.0.1", p1 as number);
    const s = connect({ host: "127.0.0.1", port: p1 as number });
    s.on("error", () => {});
    s.write(helloFrame("n7"));
    s.write(encodeFrame(Buffer.from(JSON.stringify({ type: "heartbeat", term: "x" }))));
    s.write(raftFrame(heartbeat));
    await waitFor("the good frame arrives", 5_000, async () => (got.length === 1 ? true : null));
    expect(got).toEqual([["n7", heartbeat]]);
    expect(a.badFrames).toBe(1);
    expect(readLog(logfile).find((l) => l.type === "raft-bad-frame")).toMatchObject({ from: "n7", error: 'malformed "heartbeat" message', dropped: 1 });
    const closed = new Promise((r) => s.once("close", r));
    s.write(Buffer.from([0, 0, 0, 4, 9, 0, 0, 0, 0, 1, 2, 3, 4])); // frame version 9
    await closed;
    expect(readLog(logfile).filter((l) => l.type === "raft-bad-frame").at(-1)).toMatchObject({ from: "n7", error: "frame version 9, expected 1", closed: true });
  });

  it("reconnects with backoff once a member comes back", async () => {
    const [p1, p2] = await freePorts(2);
    const ports = new Map([["n1", p1 as number], ["n2", p2 as number]]);
    const got: [string, RaftMsg][] = [];
    const a = net("n1", ports, []).net;
    await a.listen("127.0.0.1", p1 as number);
    a.send("n2", heartbeat); // n2 is not up: the connect fails, the link backs off
    await new Promise((r) => setTimeout(r, 50));
    const b = net("n2", ports, got).net;
    await b.listen("127.0.0.1", p2 as number);
    const deadline = Date.now() + 5_000;
    while (got.length === 0 && Date.now() < deadline) {
      a.send("n2", heartbeat); // dropped while backing off, sent once the backoff has passed
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(got[0]).toEqual(["n1", heartbeat]);
    expect(a.dropped).toBeGreaterThan(0);
  });
});
