// The bus secret and the client limits on real nodes.
//
// Goal: nodes sharing a cluster-bus-secret form a cluster, and one with another secret (or none)
// told to CLUSTER MEET them never shows in their CLUSTER NODES while they log bus-auth-failed;
// maxclients refuses the connection past it with redis-server's error; `timeout` closes an idle
// client but not a subscriber or a blocked one; client-query-buffer-limit and the pubsub class of
// client-output-buffer-limit disconnect the client that breaks them while the node keeps serving.
// Method: `faultline node` processes on 127.0.0.1 with those options, raw sockets as clients, the
// nodes' logs. Needs dist/ (`npm run build`). Every wait is bounded; every process is killed in
// afterAll.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  alive,
  ask,
  assertBuilt,
  callFollowingMoved,
  clusterState,
  faultline,
  freeClusterPort,
  killNodes,
  type NodeProcess,
  rawConnect,
  type RawConn,
  readLog,
  replyText,
  resp,
  sleep,
  startNodeWith,
  tableOf,
  waitFor,
  waitForPing,
} from "./support.js";

const NODE_TIMEOUT_MS = 1000;
const WAIT_MS = 15_000;
const nodes: NodeProcess[] = [];
const taken = new Set<number>();
let root = "";

beforeAll(() => {
  assertBuilt();
  root = mkdtempSync(join(tmpdir(), "faultline-security-"));
});

afterAll(async () => {
  await killNodes(nodes);
  if (root !== "") rmSync(root, { recursive: true, force: true });
});

async function start(args: readonly string[]): Promise<NodeProcess> {
  const p = await freeClusterPort(taken);
  taken.add(p);
  const n = startNodeWith(root, p, NODE_TIMEOUT_MS, { args });
  nodes.push(n);
  await waitForPing([n], WAIT_MS);
  return n;
}

/** One command's reply on a fresh connection, as `replyText` gives it (integers too). */
async function reply(n: NodeProcess, command: readonly string[]): Promise<string> {
  return replyText(await callFollowingMoved(n.port, command));
}

function logged(n: NodeProcess, type: string): Record<string, unknown>[] {
  return readLog(n.logfile).filter((l) => l.type === type);
}

/** A raw client that has sent `command` and read the first reply line. */
async function client(n: NodeProcess, command: readonly string[], reply: string): Promise<RawConn> {
  const c = rawConnect(n.port);
  c.send(resp(...command));
  await waitFor(`${command[0] ?? ""} is answered ${JSON.stringify(reply)}`, WAIT_MS, async () => {
    if (c.closed) throw new Error(`closed; got ${JSON.stringify(c.received)}`);
    return c.received.startsWith(reply) ? true : null;
  });
  return c;
}

describe("cluster-bus-secret", () => {
  const members: NodeProcess[] = [];

  beforeAll(async () => {
    const secretFile = join(root, "bus-secret");
    writeFileSync(secretFile, "the cluster's secret\n");
    for (let i = 0; i < 3; i++) members.push(await start(["--cluster-bus-secret-file", secretFile]));
    const create = await faultline(["cluster", "create", ...members.map((m) => `127.0.0.1:${m.port}`), "--yes"]);
    expect(create.code, `${create.stdout}${create.stderr}`).toBe(0);
  });

  it("lets nodes with the same secret form a cluster", async () => {
    for (const m of members) await waitFor(`${m.port} is ok`, WAIT_MS, async () => ((await clusterState(m.port)) === "ok" ? true : null));
    for (const m of members) {
      expect((await tableOf(m.port)).filter((e) => e.flags.has("handshake"))).toEqual([]);
      expect(logged(m, "bus-auth-failed")).toEqual([]);
    }
  });

  it.each([
    ["another secret", ["--cluster-bus-secret", "not the cluster's secret"], "bus secret mismatch"],
    ["no secret", [], "the dialer has no bus secret and the listener requires one"],
  ])("keeps out a node with %s sent CLUSTER MEET: never in the members' CLUSTER NODES, its handshake entry dropped, bus-auth-failed logged", async (_what, args, reason) => {
    const outsider = await start(args);
    const target = members[0] as NodeProcess;
    expect(await ask(outsider.port, ["CLUSTER", "MEET", "127.0.0.1", String(target.port)])).toBe("OK");
    await waitFor(`${target.port} logs bus-auth-failed from ${outsider.port}`, WAIT_MS, async () => (logged(target, "bus-auth-failed").some((l) => l["from"] === `127.0.0.1:${outsider.port}`) ? true : null));
    expect(logged(target, "bus-auth-failed").find((l) => l["from"] === `127.0.0.1:${outsider.port}`)).toMatchObject({ level: "warn", error: reason });
    // The outsider logs the refusal when the close reaches it, which may come after the target's line.
    await waitFor(`${outsider.port} logs the refusal`, WAIT_MS, async () => (logged(outsider, "bus-auth-failed").length > 0 ? true : null));
    expect(logged(outsider, "bus-auth-failed")[0]).toMatchObject({ to: `127.0.0.1:${target.port}`, error: `refused by the listener: ${reason}` });
    // Redis drops a handshake that has not completed within the node timeout (at least 1 s).
    await waitFor(`${outsider.port} drops its handshake entry`, WAIT_MS, async () => ((await tableOf(outsider.port)).length === 1 ? true : null));
    for (const m of members) expect((await tableOf(m.port)).map((e) => e.port)).not.toContain(outsider.port);
    for (const m of members) expect(await clusterState(m.port)).toBe("ok");
  });
});

describe("client limits", () => {
  it("maxclients 3: the fourth connection gets redis-server's error and is closed; one closed makes room", async () => {
    const n = await start(["--maxclients", "3"]);
    const held = [await client(n, ["PING"], "+PONG"), await client(n, ["PING"], "+PONG"), await client(n, ["PING"], "+PONG")];
    const fourth = rawConnect(n.port);
    await waitFor("the fourth connection is closed", WAIT_MS, async () => (fourth.closed ? true : null));
    expect(fourth.received).toBe("-ERR max number of clients + cluster connections reached\r\n");
    expect(logged(n, "client-rejected")).toMatchObject([{ reason: "maxclients", maxclients: 3 }]);
    (held[0] as RawConn).close();
    await waitFor("a new connection is served", WAIT_MS, async () => ((await ask(n.port, ["PING"])) === "PONG" ? true : null));
    for (const c of held) c.close();
  });

  it("timeout 1: an idle client is closed; a subscriber and a client blocked in BLPOP are not", async () => {
    const n = await start(["--timeout", "1"]);
    expect(await ask(n.port, ["CLUSTER", "ADDSLOTSRANGE", "0", "16383"])).toBe("OK");
    await waitFor("the node serves its slots", WAIT_MS, async () => ((await clusterState(n.port)) === "ok" ? true : null));
    const subscriber = await client(n, ["SUBSCRIBE", "news"], "*3\r\n$9\r\nsubscribe");
    const blocked = rawConnect(n.port);
    blocked.send(resp("BLPOP", "queue", "0"));
    const idle = await client(n, ["PING"], "+PONG");
    const idlePeer = `127.0.0.1:${idle.socket.localPort}`;
    await waitFor("the idle client is closed", WAIT_MS, async () => (idle.closed ? true : null));
    // Only the idle client among ours (a connection the setup's polling left open may go too).
    const timedOut = logged(n, "client-idle-timeout");
    expect(timedOut.find((e) => e["client"] === idlePeer)).toMatchObject({ idleS: 1 });
    const spared = [subscriber, blocked].map((c) => `127.0.0.1:${c.socket.localPort}`);
    expect(timedOut.filter((e) => spared.includes(e["client"] as string))).toEqual([]);
    await sleep(2_500); // more than two idle sweeps after the idle client went
    expect(subscriber.closed).toBe(false);
    expect(blocked.closed).toBe(false);
    expect(await reply(n, ["LPUSH", "queue", "job"])).toBe("1");
    await waitFor("BLPOP is answered", WAIT_MS, async () => (blocked.received === "*2\r\n$5\r\nqueue\r\n$3\r\njob\r\n" ? true : null));
    expect(await reply(n, ["PUBLISH", "news", "still here"])).toBe("1");
    await waitFor("the subscriber gets the message", WAIT_MS, async () => (subscriber.received.endsWith("$10\r\nstill here\r\n") ? true : null));
    subscriber.close();
    blocked.close();
  });

  it("client-query-buffer-limit 1mb: a client sending a bigger request is closed", async () => {
    const n = await start(["--client-query-buffer-limit", "1mb"]);
    const c = rawConnect(n.port);
    c.send(`*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$${2 * 1024 * 1024}\r\n${"x".repeat(1536 * 1024)}`);
    await waitFor("the client is closed", WAIT_MS, async () => (c.closed ? true : null));
    expect(logged(n, "client-query-buffer-limit")[0]?.["bytes"]).toBeGreaterThan(1024 * 1024);
    expect(await ask(n.port, ["PING"])).toBe("PONG");
  });

  it("client-output-buffer-limit pubsub 2mb 0 0: a subscriber that does not read is disconnected under PUBLISH, and the node keeps serving", async () => {
    const n = await start(["--client-output-buffer-limit", "pubsub 2mb 0 0"]);
    const slow = await client(n, ["SUBSCRIBE", "firehose"], "*3\r\n$9\r\nsubscribe");
    slow.socket.pause(); // reads nothing more: the kernel's buffers fill, then the node's
    const publisher = rawConnect(n.port);
    const message = "m".repeat(256 * 1024);
    await waitFor("the node disconnects the slow subscriber", 60_000, async () => {
      if (!alive(n)) throw new Error(`node exited:\n${n.output}`);
      for (let i = 0; i < 8; i++) publisher.send(resp("PUBLISH", "firehose", message));
      return logged(n, "client-output-limit").length > 0 ? true : null;
    });
    expect(logged(n, "client-output-limit")[0]).toMatchObject({ level: "warn", class: "pubsub", limit: "hard" });
    expect(logged(n, "client-output-limit")[0]?.["bytes"]).toBeGreaterThanOrEqual(2 * 1024 * 1024);
    await waitFor("PUBLISH reaches no one", WAIT_MS, async () => ((await reply(n, ["PUBLISH", "firehose", "x"])) === "0" ? true : null));
    expect(await ask(n.port, ["PING"])).toBe("PONG");
    publisher.close();
    slow.close();
  });

  it("client-output-buffer-limit pubsub 0 1mb 1: a subscriber over the soft limit for more than a second is disconnected", async () => {
    const n = await start(["--client-output-buffer-limit", "pubsub", "0", "1mb", "1"]);
    const slow = await client(n, ["SUBSCRIBE", "firehose"], "*3\r\n$9\r\nsubscribe");
    slow.socket.pause();
    const publisher = rawConnect(n.port);
    const message = "m".repeat(256 * 1024);
    await waitFor("the node disconnects the slow subscriber", 60_000, async () => {
      for (let i = 0; i < 4; i++) publisher.send(resp("PUBLISH", "firehose", message));
      await sleep(200);
      return logged(n, "client-output-limit").length > 0 ? true : null;
    });
    expect(logged(n, "client-output-limit")[0]).toMatchObject({ class: "pubsub", limit: "soft" });
    expect(await ask(n.port, ["PING"])).toBe("PONG");
    publisher.close();
    slow.close();
  });
});
