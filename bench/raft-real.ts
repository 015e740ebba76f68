// Raft store on real processes: committed PUTs per second through the HTTP API.
//
// `raftRealThroughput` starts `members` `faultline raft node` processes on 127.0.0.1 free ports
// (in a temp dir, removed afterwards), waits for a leader, then runs `clients` concurrent HTTP
// clients for `seconds`: each opens a session and sends one PUT at a time (X-Client-Id/X-Seq, a
// 16-byte value, 100 keys per client) to the leader, and the next only after the reply — so every
// counted PUT is committed on a majority and fsynced there. It returns figures, never asserts.
//
// Not wired into bench/run.ts from here (another section owner does that):
//
//   import { raftRealThroughput } from "./raft-real.js";
//   const r = await raftRealThroughput({ clients: 16, seconds: 5 });   // r.putsPerS, r.p50Ms, r.p99Ms …
//
// Or on its own, after `npm run build`:
//
//   node dist/bench/raft-real.js --clients 1,4,16,64 --seconds 5 [--members 5] [--log-level warn|info]

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { RaftClient } from "../node-runtime/raft-client.js";
import { assertBuilt, killNodes, raftPeers, raftSpecs, type RaftMemberProcess, startRaftMember, waitForRaftLeader } from "../test/real/support.js";

export interface RaftRealOptions {
  /** Concurrent HTTP clients, one request in flight each. */
  readonly clients: number;
  /** How long the load runs (after the leader is found and sessions are open). */
  readonly seconds: number;
  /** Cluster size (default 5). */
  readonly members?: number;
  /** The members' --log-level (default warn: info logs a line per commit, which is a cost of its own). */
  readonly logLevel?: "warn" | "info";
}

export interface RaftRealResult {
  readonly members: number;
  readonly clients: number;
  readonly seconds: number;
  /** PUTs acknowledged (committed and applied on the leader) during the run. */
  readonly puts: number;
  readonly putsPerS: number;
  /** Latency of an acknowledged PUT, ms. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** PUTs whose outcome stayed unknown or that failed (0 on a healthy run). */
  readonly notAcknowledged: number;
  /** Leader changes seen during the run (0 on a healthy run). */
  readonly leaderChanges: number;
}

const START_TIMEOUT_MS = 20_000;
const KEYS_PER_CLIENT = 100;
const VALUE = "0123456789abcdef";

export async function raftRealThroughput(options: RaftRealOptions): Promise<RaftRealResult> {
  assertBuilt();
  const count = options.members ?? 5;
  const root = mkdtempSync(join(tmpdir(), "faultline-bench-raft-"));
  const members: RaftMemberProcess[] = [];
  const onExit = () => {
    for (const m of members) m.child.kill("SIGKILL");
  };
  process.once("exit", onExit);
  const clients: RaftClient[] = [];
  try {
    const specs = await raftSpecs(count);
    const peers = raftPeers(specs);
    for (const s of specs) members.push(startRaftMember(root, s, peers, ["--log-level", options.logLevel ?? "warn", "--election-timeout", "500-1000", "--heartbeat", "100"]));
    const { member: leader } = await waitForRaftLeader(members, START_TIMEOUT_MS);
    const https = [leader.http, ...members.filter((m) => m !== leader).map((m) => m.http)];
    for (let i = 0; i < options.clients; i++) clients.push(new RaftClient(https, { attemptTimeoutMs: 5_000 }));
    const sessions = await Promise.all(clients.map((c) => c.openSession(Date.now() + 10_000)));
    if (sessions.some((s) => s === null)) throw new Error("could not open a session for every client");
    const latencies: number[] = [];
    let notAcknowledged = 0;
    const endMs = Date.now() + options.seconds * 1000;
    const t0 = performance.now();
    await Promise.all(
      clients.map(async (c, i) => {
        for (let seq = 1; Date.now() < endMs; seq++) {
          const start = performance.now();
          const o = await c.call("PUT", `/kv/bench/${i}/${seq % KEYS_PER_CLIENT}`, { body: VALUE, headers: { "x-client-id": String(sessions[i]), "x-seq": String(seq) }, deadlineMs: endMs + 5_000 });
          if (o.kind === "ok") latencies.push(performance.now() - start);
          else notAcknowledged += 1;
        }
      }),
    );
    const wallS = (performance.now() - t0) / 1000;
    const leaders = new Set(clients.map((c) => c.leader));
    latencies.sort((a, b) => a - b);
    const at = (q: number) => Math.round((latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0) * 100) / 100;
    return {
      members: count,
      clients: options.clients,
      seconds: Math.round(wallS * 100) / 100,
      puts: latencies.length,
      putsPerS: Math.round(latencies.length / wallS),
      p50Ms: at(0.5),
      p99Ms: at(0.99),
      notAcknowledged,
      leaderChanges: leaders.size - 1,
    };
  } finally {
    for (const c of clients) c.close();
    await killNodes(members);
    process.off("exit", onExit);
    rmSync(root, { recursive: true, force: true });
  }
}

/** `node dist/bench/raft-real.js --clients 1,4,16 --seconds 5`: one line of figures per client count. */
async function main(argv: readonly string[]): Promise<void> {
  const opt = (name: string, fallback: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 && argv[i + 1] !== undefined ? (argv[i + 1] as string) : fallback;
  };
  const clientCounts = opt("clients", "1,4,16,64").split(",").map(Number);
  const seconds = Number(opt("seconds", "5"));
  const members = Number(opt("members", "5"));
  const logLevel = opt("log-level", "warn") === "info" ? "info" : "warn";
  for (const clients of clientCounts) {
    const r = await raftRealThroughput({ clients, seconds, members, logLevel });
    process.stdout.write(`${JSON.stringify(r)}\n`);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  });
}
