// The Raft store on real processes: `faultline raft node` members on 127.0.0.1, clients over HTTP.
//
// 1. Five members under load, leader SIGKILLed. Four clients, each with its own session, run a
//    bounded mix of linearizable reads, puts, compare-and-sets (on five shared keys) and puts to
//    keys of their own, retrying under the same (client, seq) after a timeout or an
//    outcome-unknown and following redirects to the leader. Midway the leader is SIGKILLed; a new
//    one must be elected (the time is printed) and the load goes on. Then: every acknowledged
//    put to a client's own key reads back; the whole history (invoke and completion times, ok or
//    unknown) is linearizable per key under the store's model (sim/checkers/linearizable.ts with
//    kv-model.ts); the killed member, restarted, catches up to the leader's commit index.
// 2. A member's log on disk: after a SIGKILL a restarted member has its term and entries back;
//    a damaged tail (a garbage record, then a torn one) is cut, logged and truncated away; a
//    record damaged in the middle of the log stops the start with a clear error (exit 1).
// 3. The command line: `faultline raft --help`, usage errors (exit 2), and `faultline raft local
//    up | status | down` with three members.
//
// Needs dist/ (`npm test` builds). 127.0.0.1 only, free ports; every wait and the load are
// bounded; every process is killed in afterAll, whatever happened.

import { once } from "node:events";
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { KvCall, KvResult } from "../../sim/checkers/kv-model.js";
import { kvModel } from "../../sim/checkers/kv-model.js";
import { checkKeyed, type KeyedOp } from "../../sim/checkers/linearizable.js";
import { RaftClient } from "../../node-runtime/raft-client.js";
import { parseLine } from "../../node-runtime/records.js";
import {
  alive,
  assertBuilt,
  diagnostics,
  faultline,
  freeRaftLocalBase,
  killNodes,
  raftPeers,
  raftSpecs,
  raftStatus,
  type RaftMemberProcess,
  readLog,
  restartRaftMember,
  sleep,
  startRaftMember,
  waitFor,
  waitForRaftLeader,
} from "./support.js";

/** Fast enough for a short test, slow enough that a loaded 2-core machine does not flap. */
const TIMING = ["--election-timeout", "300-600", "--heartbeat", "60", "--request-timeout", "2000"];
const START_TIMEOUT_MS = 15_000;
const ELECTION_TIMEOUT_MS = 10_000;
const CLIENTS = 4;
const SHARED_KEYS = ["a", "b", "c", "d", "e"];
const LOAD_BEFORE_KILL_MS = 2_500;
const LOAD_AFTER_KILL_MS = 2_500;
/** One operation (with its retries) gives up after this long and counts as unknown (writes) or is dropped (reads). */
const OP_DEADLINE_MS = 6_000;
/** Operations per client at most, whatever the timing: the load is bounded. */
const OPS_PER_CLIENT_MAX = 5_000;

const members: RaftMemberProcess[] = [];
let root = "";

function killOnExit(): void {
  process.once("exit", () => {
    for (const m of members) if (alive(m)) m.child.kill("SIGKILL");
  });
}

afterAll(async () => {
  await killNodes(members);
});

afterEach(({ task }) => {
  if (task.result?.state === "fail") console.error(`${task.name} failed; members in ${root}\n${diagnostics(members)}`);
});

/** What the load recorded. */
interface Load {
  readonly history: KeyedOp<KvCall, KvResult>[];
  /** Acknowledged puts to the clients' own keys: key → value. */
  readonly own: Map<string, string>;
  /** Definite failures nobody expected (a bug shows here). */
  readonly failures: string[];
  /** Acknowledged writes invoked after this time (performance.now()). */
  acknowledgedAfter(t: number): number;
}

/** One client: its own session, one operation at a time until `stop()`. */
async function runClient(name: string, client: RaftClient, stop: () => boolean, load: Load): Promise<void> {
  let session = await client.openSession(Date.now() + OP_DEADLINE_MS);
  if (session === null) throw new Error(`${name} could not open a session`);
  let seq = 0;
  /** The last value this client saw on each shared key: its compare-and-sets expect it. */
  const seen = new Map<string, string | null>();
  for (let n = 1; n <= OPS_PER_CLIENT_MAX && !stop(); n++) {
    const p = Math.random();
    const key = SHARED_KEYS[Math.floor(Math.random() * SHARED_KEYS.length)] as string;
    const deadlineMs = Date.now() + OP_DEADLINE_MS;
    const invokeMs = performance.now();
    if (p < 0.35) {
      const o = await client.call("GET", `/kv/${key}`, { deadlineMs });
      if (o.kind !== "ok") continue; // a read that got no answer changed nothing
      const value = o.status === 404 ? null : (o.body["value"] as string);
      seen.set(key, value);
      load.history.push({ key, client: name, invokeMs, completeMs: performance.now(), call: { kind: "get" }, result: { value } });
      continue;
    }
    const value = `${name}-${n}`;
    let call: KvCall;
    let method = "PUT";
    let path: string;
    let body = value;
    let opKey = key;
    if (p < 0.7) {
      path = `/kv/${key}`;
      call = { kind: "write", command: { op: "put", key, value } };
    } else if (p < 0.85) {
      const expected = seen.get(key) ?? null;
      method = "POST";
      path = `/kv/${key}/cas`;
      body = JSON.stringify({ expected, value });
      call = { kind: "write", command: { op: "cas", key, expected, value } };
    } else {
      opKey = `own/${name}/${n}`;
      path = `/kv/${opKey}`;
      call = { kind: "write", command: { op: "put", key: opKey, value } };
    }
    seq += 1;
    const o = await client.call(method, path, { body, headers: { "x-client-id": String(session), "x-seq": String(seq) }, deadlineMs });
    if (o.kind === "ok") {
      const prev = (o.body["prev"] ?? null) as string | null;
      const swapped = (o.body["swapped"] ?? true) as boolean;
      load.history.push({ key: opKey, client: name, invokeMs, completeMs: performance.now(), call, result: { prev, swapped } });
      if (opKey === key) seen.set(key, swapped ? value : prev);
      else load.own.set(opKey, value);
    } else if (o.kind === "unknown") {
      load.history.push({ key: opKey, client: name, invokeMs, completeMs: null, call });
      if (o.why.includes("session")) {
        session = await client.openSession(Date.now() + OP_DEADLINE_MS);
        if (session === null) throw new Error(`${name} could not open a new session`);
        seq = 0;
      }
    } else {
      load.failures.push(`${name} ${method} ${path}: ${o.status} ${o.error} ${o.message}`);
    }
  }
}

describe("five Raft members under load, the leader SIGKILLed", () => {
  beforeAll(async () => {
    assertBuilt();
    killOnExit();
    root = mkdtempSync(join(tmpdir(), "faultline-raft-"));
    const specs = await raftSpecs(5);
    const peers = raftPeers(specs);
    for (const s of specs) members.push(startRaftMember(root, s, peers, [...TIMING, "--snapshot-every", "200"]));
    await waitForRaftLeader(members, START_TIMEOUT_MS);
  });

  it("elects a new leader, loses no acknowledged write, keeps the history linearizable, and the killed member catches up", async () => {
    const load: Load = {
      history: [],
      own: new Map(),
      failures: [],
      acknowledgedAfter(t) {
        return this.history.filter((o) => o.call.kind === "write" && o.completeMs !== null && o.invokeMs > t).length;
      },
    };
    const https = members.map((m) => m.http);
    const clients = Array.from({ length: CLIENTS }, (_, i) => new RaftClient([...https.slice(i % https.length), ...https.slice(0, i % https.length)], { attemptTimeoutMs: 1_500, retryDelayMs: 50 }));
    let stopped = false;
    const running = clients.map((c, i) => runClient(`c${i + 1}`, c, () => stopped, load));
    try {
      await sleep(LOAD_BEFORE_KILL_MS);
      const before = await waitForRaftLeader(members, ELECTION_TIMEOUT_MS);
      const victim = before.member;
      const writesBeforeKill = load.acknowledgedAfter(0);
      victim.child.kill("SIGKILL");
      const killedAt = performance.now();
      await once(victim.child, "exit");
      const after = await waitForRaftLeader(members, ELECTION_TIMEOUT_MS, victim.id);
      const electionMs = Math.round(performance.now() - killedAt);
      console.log(`raft: leader ${victim.id} (term ${before.term}) SIGKILLed after ${writesBeforeKill} acknowledged writes; ${after.member.id} leads term ${after.term} ${electionMs} ms later`);
      expect(after.term).toBeGreaterThan(before.term);
      await sleep(LOAD_AFTER_KILL_MS);
      stopped = true;
      await Promise.all(running);
      expect(load.acknowledgedAfter(killedAt)).toBeGreaterThan(0);
      expect(load.failures).toEqual([]);

      // Final reads of the shared keys join the history: the last acknowledged writes must show.
      const reader = clients[0] as RaftClient;
      for (const key of SHARED_KEYS) {
        const invokeMs = performance.now();
        const o = await reader.call("GET", `/kv/${key}`, { deadlineMs: Date.now() + OP_DEADLINE_MS });
        expect(o.kind, `final read of ${key}`).toBe("ok");
        if (o.kind === "ok") load.history.push({ key, client: "final", invokeMs, completeMs: performance.now(), call: { kind: "get" }, result: { value: o.status === 404 ? null : (o.body["value"] as string) } });
      }
      // Every acknowledged put to a client's own key reads back.
      const missing: string[] = [];
      for (const [key, value] of load.own) {
        const o = await reader.call("GET", `/kv/${key}`, { deadlineMs: Date.now() + OP_DEADLINE_MS });
        if (o.kind !== "ok" || o.body["value"] !== value) missing.push(`${key}=${value}: ${JSON.stringify(o)}`);
      }
      expect(missing).toEqual([]);

      const unknown = load.history.filter((o) => o.completeMs === null).length;
      const verdict = checkKeyed(load.history, () => kvModel);
      console.log(`raft: ${load.history.length} operations (${unknown} with unknown outcome), ${load.own.size} own-key puts read back; linearizable: ${verdict.verdict} (${verdict.steps} search steps)`);
      expect(verdict.culprit ?? null).toBe(null);
      expect(verdict.verdict).toBe("ok");

      // The killed member restarts from its files and catches up.
      const leaderStatus = await raftStatus(after.member.http);
      const target = leaderStatus?.["commitIndex"] as number;
      const again = restartRaftMember(victim);
      members[members.indexOf(victim)] = again;
      const caughtUp = await waitFor(`${again.id} reaches the leader's commit index ${target}`, START_TIMEOUT_MS, async () => {
        if (!alive(again)) throw new Error(`${again.id} exited: ${again.output}`);
        const s = await raftStatus(again.http);
        return s !== null && (s["commitIndex"] as number) >= target && (s["lastApplied"] as number) >= target ? s : null;
      });
      console.log(`raft: ${again.id} restarted and caught up to commit index ${caughtUp["commitIndex"] as number} (snapshot at ${caughtUp["snapshotIndex"] as number})`);
      expect(caughtUp["leader"]).toBe(after.member.id);
      const fatal = members.flatMap((m) => readLog(m.logfile).filter((l) => l.type === "fatal" || l.type === "raft-bad-frame"));
      expect(fatal).toEqual([]);
    } finally {
      stopped = true;
      await Promise.allSettled(running);
      for (const c of clients) c.close();
    }
  });
});

describe("a Raft member's log on disk", () => {
  const mine: RaftMemberProcess[] = [];
  let dir = "";

  afterAll(async () => {
    await killNodes(mine);
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
  });

  it("survives SIGKILL with its term and entries, cuts a damaged tail, and refuses a log damaged in the middle", async () => {
    assertBuilt();
    dir = mkdtempSync(join(tmpdir(), "faultline-raft-disk-"));
    const [spec] = await raftSpecs(1);
    if (spec === undefined) throw new Error("no ports");
    let m = startRaftMember(dir, spec, raftPeers([spec]), TIMING);
    mine.push(m);
    await waitForRaftLeader([m], START_TIMEOUT_MS);
    const client = new RaftClient([m.http]);
    try {
      for (let i = 0; i < 20; i++) {
        const o = await client.call("PUT", `/kv/k${i}`, { body: `v${i}`, deadlineMs: Date.now() + OP_DEADLINE_MS });
        expect(o.kind).toBe("ok");
      }
      const before = (await raftStatus(m.http)) as Record<string, unknown>;
      m.child.kill("SIGKILL");
      await once(m.child, "exit");

      // A crash that left garbage: a complete record with a bad checksum, then a torn one.
      const logFile = join(m.dir, "raft-log");
      const garbage = '00000000 {"k":"step","term":99,"votedFor":null,"log":null}\n0badc0de {"k":"st';
      appendFileSync(logFile, garbage);
      m = restartRaftMember(m);
      mine.push(m);
      const back = await waitForRaftLeader([m], START_TIMEOUT_MS);
      const status = (await raftStatus(m.http)) as Record<string, unknown>;
      expect(back.term).toBeGreaterThan(before["term"] as number);
      expect(status["lastIndex"]).toBeGreaterThan(before["lastIndex"] as number); // its entries, and the new term's no-op
      for (let i = 0; i < 20; i++) {
        const o = await client.call("GET", `/kv/k${i}`, { deadlineMs: Date.now() + OP_DEADLINE_MS });
        expect(o.kind === "ok" ? o.body["value"] : o).toBe(`v${i}`);
      }
      const log = readLog(m.logfile);
      const repaired = log.find((l) => l.type === "raft-file-recovered" && l["file"] === "raft-log" && (l["droppedBytes"] as number) > 0);
      expect(repaired?.["droppedBytes"]).toBe(Buffer.byteLength(garbage));
      expect(String(repaired?.["cut"])).toMatch(/^damaged tail from line \d+ \(checksum mismatch;/);
      expect(log.filter((l) => l.type === "raft-recovered").at(-1)).toMatchObject({ tornTail: true, term: before["term"] });
      // The cut bytes are gone from the file: every line is a valid record again.
      const lines = readFileSync(logFile).toString("utf8").split("\n");
      expect(lines.at(-1)).toBe("");
      for (const line of lines.slice(0, -1)) expect(parseLine(Buffer.from(line, "utf8")).ok, line).toBe(true);

      // Damage in the middle (one byte of the second record) is no crash: the member refuses to start.
      m.child.kill("SIGKILL");
      await once(m.child, "exit");
      const text = readFileSync(logFile, "utf8").split("\n");
      text[1] = (text[1] as string).replace('"term":', '"terM":');
      writeFileSync(logFile, text.join("\n"));
      m = restartRaftMember(m);
      mine.push(m);
      const [code] = (await once(m.child, "exit")) as [number | null];
      expect(code).toBe(1);
      expect(m.output).toContain(`${logFile} line 2 is damaged (checksum mismatch) but line 3 after it is a valid record`);
    } finally {
      client.close();
    }
  });
});

describe("faultline raft on the command line", () => {
  let dir = "";
  afterAll(() => {
    if (dir === "") return;
    // Whatever happened, no member `raft local up` started outlives the test.
    try {
      const state = JSON.parse(readFileSync(join(dir, "raft-local.json"), "utf8")) as { members: { pid: number | null }[] };
      for (const m of state.members) if (m.pid !== null) process.kill(m.pid, "SIGKILL");
    } catch {
      // no state file, or the members are gone already
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it("explains itself, refuses bad usage in one line, and runs a local store with up, status and down", async () => {
    assertBuilt();
    const help = await faultline(["raft", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("GET    /kv/<key>");
    expect(help.stdout).toContain("X-Client-Id");
    const missing = await faultline(["raft", "node", "--id", "n1", "--http", "127.0.0.1:1", "--dir", "x"]);
    expect([missing.code, missing.stderr.trim()]).toEqual([2, "faultline raft node: --listen is required: host:port for the other members (e.g. 127.0.0.1:7101)"]);
    const badPeers = await faultline(["raft", "node", "--id", "n1", "--listen", "127.0.0.1:1", "--http", "127.0.0.1:2", "--dir", "x", "--peers", "n2=127.0.0.1:3"]);
    expect(badPeers.code).toBe(2);
    expect(badPeers.stderr).toContain("needs the HTTP port too");

    dir = mkdtempSync(join(tmpdir(), "faultline-raft-local-"));
    const base = await freeRaftLocalBase(3);
    const up = await faultline(["raft", "local", "up", "--members", "3", "--dir", dir, "--port-base", String(base)], 40_000);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect(up.stdout).toMatch(/Raft store up: 3 members, n\d leads term \d+, every member follows it\./);
    const client = new RaftClient([`127.0.0.1:${base + 100}`, `127.0.0.1:${base + 101}`]);
    try {
      expect(await client.call("PUT", "/kv/greeting", { body: "hello", deadlineMs: Date.now() + OP_DEADLINE_MS })).toMatchObject({ kind: "ok" });
      const read = await client.call("GET", "/kv/greeting", { deadlineMs: Date.now() + OP_DEADLINE_MS });
      expect(read.kind === "ok" ? read.body["value"] : read).toBe("hello");
    } finally {
      client.close();
    }
    const status = await faultline(["raft", "local", "status", "--dir", dir]);
    expect(status.code).toBe(0);
    expect(status.stdout.match(/ leader, term/g)).toHaveLength(1);
    const again = await faultline(["raft", "local", "up", "--members", "3", "--dir", dir, "--port-base", String(base)]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`a Raft store is already up in ${dir}`);
    const down = await faultline(["raft", "local", "down", "--dir", dir]);
    expect(down.code).toBe(0);
    expect(down.stdout.match(/stopped \(SIGTERM\)/g)).toHaveLength(3);
    const after = await faultline(["raft", "local", "status", "--dir", dir]);
    expect(after.code).toBe(1);
    expect(after.stdout.match(/not running/g)).toHaveLength(3);
  });
});
