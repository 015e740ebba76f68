// RaftClient against scripted HTTP servers on 127.0.0.1: redirects, retries, and which outcome
// each answer means (ok, fail: took no effect, unknown: may have).

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { freePorts } from "../test/real/support.js";
import { RaftClient } from "./raft-client.js";

type Handler = (req: IncomingMessage, body: string) => { status: number; body: unknown };

const servers: Server[] = [];
const clients: RaftClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A server answering each request with the next scripted answer (the last one repeats). */
async function server(port: number, script: Handler[]): Promise<{ address: string; seen: string[] }> {
  const seen: string[] = [];
  let i = 0;
  const s = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString("utf8")));
    req.on("end", () => {
      seen.push(`${req.method} ${req.url} ${req.headers["x-seq"] ?? "-"} ${body}`);
      const h = script[Math.min(i++, script.length - 1)] as Handler;
      const r = h(req, body);
      res.writeHead(r.status, { "content-type": "application/json" });
      res.end(JSON.stringify(r.body));
    });
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(port, "127.0.0.1", r));
  return { address: `127.0.0.1:${port}`, seen };
}

const reply = (status: number, body: unknown): Handler => () => ({ status, body });
const client = (members: string[]) => {
  const c = new RaftClient(members, { attemptTimeoutMs: 500, retryDelayMs: 5 });
  clients.push(c);
  return c;
};
const soon = () => Date.now() + 3_000;

describe("RaftClient", () => {
  it("follows a redirect to the leader and remembers it", async () => {
    const [p1, p2] = await freePorts(2);
    const leader = await server(p2 as number, [reply(200, { index: 3, prev: null })]);
    const follower = await server(p1 as number, [reply(307, { error: "not-leader", leader: "n2", leaderHttp: leader.address })]);
    const c = client([follower.address]);
    expect(await c.call("PUT", "/kv/k", { body: "v", deadlineMs: soon() })).toEqual({ kind: "ok", status: 200, body: { index: 3, prev: null } });
    expect(c.leader).toBe(leader.address);
    expect(leader.seen).toEqual(["PUT /kv/k - v"]);
  });

  it("retries a session write after outcome-unknown under the same seq, until it is answered", async () => {
    const [p] = await freePorts(1);
    const s = await server(p as number, [reply(503, { error: "outcome-unknown", message: "m" }), reply(503, { error: "no-leader", message: "m" }), reply(200, { index: 9, prev: "a" })]);
    const c = client([s.address]);
    const o = await c.call("PUT", "/kv/k", { body: "v", headers: { "x-client-id": "5", "x-seq": "2" }, deadlineMs: soon() });
    expect(o).toMatchObject({ kind: "ok", body: { index: 9 } });
    expect(s.seen).toEqual(["PUT /kv/k 2 v", "PUT /kv/k 2 v", "PUT /kv/k 2 v"]);
  });

  it("does not retry a write without a session after an unknown attempt: its outcome is unknown", async () => {
    const [p] = await freePorts(1);
    const s = await server(p as number, [reply(503, { error: "outcome-unknown", message: "leadership lost" }), reply(200, {})]);
    const o = await client([s.address]).call("PUT", "/kv/k", { body: "v", deadlineMs: soon() });
    expect(o).toMatchObject({ kind: "unknown" });
    expect(s.seen).toHaveLength(1);
  });

  it("tells definite failures from unknown ones", async () => {
    const [p1, p2] = await freePorts(2);
    const s = await server(p1 as number, [reply(400, { error: "malformed", message: "bad key" })]);
    expect(await client([s.address]).call("PUT", "/kv/k", { body: "v", deadlineMs: soon() })).toEqual({ kind: "fail", status: 400, error: "malformed", message: "bad key" });
    const gone = await server(p2 as number, [reply(410, { error: "session-unknown", message: "expired" })]);
    expect(await client([gone.address]).call("PUT", "/kv/k", { body: "v", headers: { "x-client-id": "5", "x-seq": "2" }, deadlineMs: soon() })).toMatchObject({ kind: "unknown" });
  });

  it("an attempt that may have applied makes a later refusal unknown, not failed", async () => {
    const [p] = await freePorts(1);
    const s = await server(p as number, [reply(503, { error: "outcome-unknown", message: "m" }), reply(409, { error: "session-stale", message: "m" })]);
    const o = await client([s.address]).call("PUT", "/kv/k", { body: "v", headers: { "x-client-id": "5", "x-seq": "2" }, deadlineMs: soon() });
    expect(o).toMatchObject({ kind: "unknown" });
  });

  it("moves on from a member that refuses connections; a read that never gets an answer fails at the deadline", async () => {
    const [dead, p] = await freePorts(2);
    const s = await server(p as number, [reply(404, { error: "key-not-found", message: "no such key", index: 4 })]);
    const c = client([`127.0.0.1:${dead}`, s.address]);
    expect(await c.call("GET", "/kv/k", { deadlineMs: soon() })).toMatchObject({ kind: "ok", status: 404 });
    const slow = client([`127.0.0.1:${dead}`]);
    expect(await slow.call("GET", "/kv/k", { deadlineMs: Date.now() + 100 })).toMatchObject({ kind: "fail", error: "deadline" });
  });
});
