import { describe, expect, it } from "vitest";
import type { RaftReply } from "../core/raft/types.js";
import { type ApiCall, type ApiResponse, parseApiRequest, renderReply, timeoutResponse } from "./raft-api.js";
import { parseMemberAddress, parsePeers, parseRangeMs, RaftUsageError, resolveRaftSettings } from "./raft-config.js";

const parse = (method: string, url: string, body = "", headers: Record<string, string> = {}): ApiCall | ApiResponse => parseApiRequest(method, url, headers, body);
const errorOf = (r: ApiCall | ApiResponse) => ("status" in r ? [r.status, r.body["error"]] : r);

describe("HTTP request → Raft request", () => {
  it("maps reads: GET a key (ReadIndex, or lease), list a prefix, status, membership", () => {
    expect(parse("GET", "/kv/a%2Fb")).toEqual({ kind: "raft", req: { op: "read", query: { op: "get", key: "a/b" } }, effect: "read", render: "get" });
    expect(parse("GET", "/kv/x?lease=1")).toMatchObject({ req: { op: "read", query: { op: "get", key: "x" }, mode: "lease" } });
    expect(parse("GET", "/kv?prefix=us&after=us1&limit=10")).toMatchObject({ req: { op: "read", query: { op: "list", prefix: "us", after: "us1", limit: 10 } }, render: "list" });
    expect(parse("GET", "/status")).toMatchObject({ req: { op: "status" }, render: "status" });
    expect(parse("GET", "/membership")).toMatchObject({ req: { op: "status" }, render: "membership-view" });
  });

  it("maps writes, with the session from X-Client-Id and X-Seq when given", () => {
    expect(parse("PUT", "/kv/k", "the value")).toEqual({ kind: "raft", req: { op: "propose", command: { op: "put", key: "k", value: "the value" } }, effect: "write", render: "write" });
    expect(parse("DELETE", "/kv/k", "", { "x-client-id": "7", "x-seq": "3" })).toMatchObject({ req: { op: "propose", command: { op: "delete", key: "k", session: { clientId: 7, seq: 3 } } } });
    expect(parse("POST", "/kv/k/cas", '{"expected":null,"value":"v"}')).toMatchObject({ req: { op: "propose", command: { op: "cas", key: "k", expected: null, value: "v" } }, render: "cas" });
    expect(parse("POST", "/kv/k%2Fcas/cas", '{"expected":"a","value":null}')).toMatchObject({ req: { command: { op: "cas", key: "k/cas", expected: "a", value: null } } });
    expect(parse("POST", "/session")).toMatchObject({ req: { op: "propose", command: { op: "session-open" } }, render: "session-open" });
    expect(parse("DELETE", "/session/12")).toMatchObject({ req: { op: "propose", command: { op: "session-close", clientId: 12 } } });
  });

  it("maps membership and leadership", () => {
    expect(parse("POST", "/membership/add", '{"id":"n6","addr":"127.0.0.1:7106/8106"}')).toEqual({
      kind: "add-member",
      id: "n6",
      address: { raft: { host: "127.0.0.1", port: 7106 }, http: { host: "127.0.0.1", port: 8106 } },
      learner: false,
    });
    expect(parse("POST", "/membership/add", '{"id":"n6","addr":"10.0.0.1:7106/10.0.0.2:80","learner":true}')).toMatchObject({ learner: true, address: { http: { host: "10.0.0.2", port: 80 } } });
    expect(parse("POST", "/membership/remove", '{"id":"n3"}')).toMatchObject({ req: { op: "remove-server", node: "n3" }, effect: "admin" });
    expect(parse("POST", "/leadership/transfer", '{"to":"n2"}')).toMatchObject({ req: { op: "transfer-leadership", to: "n2" } });
  });

  it("refuses what it cannot carry out, saying why", () => {
    expect(errorOf(parse("GET", "/nope"))).toEqual([404, "not-found"]);
    expect(errorOf(parse("PATCH", "/kv/k"))).toEqual([405, "method-not-allowed"]);
    expect(parse("PATCH", "/kv/k")).toMatchObject({ allow: "GET, PUT, DELETE" });
    expect(errorOf(parse("POST", "/status"))).toEqual([405, "method-not-allowed"]);
    expect(parse("GET", "/kv/")).toMatchObject({ render: "list", req: { query: { op: "list", prefix: "" } } });
    expect(errorOf(parse("PUT", "/kv/%zz", "v"))).toEqual([400, "bad-request"]);
    expect(errorOf(parse("PUT", "/kv/raft/members/n9", "x"))).toEqual([403, "reserved"]);
    expect(errorOf(parse("PUT", "/kv/k", "v", { "x-seq": "1" }))).toEqual([400, "bad-request"]);
    expect(errorOf(parse("PUT", "/kv/k", "v", { "x-client-id": "0", "x-seq": "1" }))).toEqual([400, "bad-request"]);
    expect(errorOf(parse("POST", "/kv/k/cas", '{"value":"v"}'))).toEqual([400, "bad-request"]);
    expect(errorOf(parse("POST", "/kv/k/cas", "[1]"))).toEqual([400, "bad-request"]);
    expect(errorOf(parse("POST", "/membership/add", '{"id":"n6","addr":"127.0.0.1:7106"}'))).toEqual([400, "bad-request"]);
    expect(errorOf(parse("POST", "/membership/remove", '{"id":"bad id"}'))).toEqual([400, "bad-request"]);
    expect(errorOf(parse("GET", "/kv?limit=0"))).toEqual([400, "bad-request"]);
    expect(errorOf(parse("DELETE", "/session/x"))).toEqual([400, "bad-request"]);
  });
});

describe("Raft reply → HTTP response", () => {
  const fail = (error: Extract<RaftReply, { ok: false }>["error"], leader: string | null = null): RaftReply => ({ ok: false, error, leader, message: `it is ${error}` });

  it("renders successes", () => {
    const kv = { key: "k", value: "v", createIndex: 3, modIndex: 5, leaseUntilMs: null };
    expect(renderReply("get", { ok: true, op: "read", index: 9, value: { ok: true, index: 9, kv } })).toEqual({ status: 200, body: { ...kv, index: 9 } });
    expect(renderReply("get", { ok: true, op: "read", index: 9, value: { ok: true, index: 9, kv: null } })).toEqual({ status: 404, body: { error: "key-not-found", message: "no such key", index: 9 } });
    expect(renderReply("write", { ok: true, op: "propose", index: 4, result: { ok: true, index: 4, prev: null } })).toEqual({ status: 200, body: { index: 4, prev: null } });
    expect(renderReply("cas", { ok: true, op: "propose", index: 4, result: { ok: true, index: 4, prev: "a", swapped: false } })).toEqual({ status: 200, body: { index: 4, prev: "a", swapped: false } });
    expect(renderReply("session-open", { ok: true, op: "propose", index: 6, result: { ok: true, index: 6, clientId: 6 } })).toEqual({ status: 201, body: { clientId: 6, index: 6 } });
    expect(renderReply("transfer", { ok: true, op: "transfer", term: 8 })).toEqual({ status: 200, body: { term: 8 } });
  });

  it("redirects to a known leader, and tells unknown outcomes apart from refusals", () => {
    expect(renderReply("write", fail("not-leader", "n2"))).toEqual({ status: 307, body: { error: "not-leader", message: "it is not-leader", leader: "n2" }, notLeader: { leader: "n2" } });
    expect(renderReply("write", fail("not-leader"))).toMatchObject({ status: 503, body: { error: "no-leader" } });
    expect(renderReply("write", fail("outcome-unknown"))).toMatchObject({ status: 503, body: { error: "outcome-unknown" } });
    expect(renderReply("write", fail("busy"))).toMatchObject({ status: 429 });
    expect(renderReply("membership", fail("change-in-progress"))).toMatchObject({ status: 409 });
    expect(renderReply("transfer", fail("transfer-failed"))).toMatchObject({ status: 504 });
    const stale = renderReply("write", { ok: true, op: "propose", index: 4, result: { ok: false, index: 4, error: "session-stale", message: "m" } });
    expect(stale).toMatchObject({ status: 409, body: { error: "session-stale" } });
    const unknown = renderReply("write", { ok: true, op: "propose", index: 4, result: { ok: false, index: 4, error: "session-unknown", message: "m" } });
    expect(unknown).toMatchObject({ status: 410, body: { error: "session-unknown" } });
    expect(timeoutResponse("write", 100)).toMatchObject({ status: 503, body: { error: "outcome-unknown" } });
    expect(timeoutResponse("read", 100)).toMatchObject({ status: 504, body: { error: "timeout" } });
  });
});

describe("raft node options", () => {
  it("read --peers, addresses and timeouts", () => {
    expect([...parsePeers(["n1=127.0.0.1:7101/8101,n2=127.0.0.1:7102/8102", "n3=[::1]:7103/[::1]:8103"]).keys()]).toEqual(["n1", "n2", "n3"]);
    expect(parseMemberAddress("[::1]:7103/8103", "x")).toEqual({ raft: { host: "::1", port: 7103 }, http: { host: "::1", port: 8103 } });
    expect(parseRangeMs("150-300", "x")).toEqual([150, 300]);
    expect(parseRangeMs("200", "x")).toEqual([200, 200]);
    expect(() => parseRangeMs("300-150", "--election-timeout")).toThrow("--election-timeout: \"300-150\" is not min-max in ms");
    expect(() => parsePeers(["n1=127.0.0.1:7101"])).toThrow("needs the HTTP port too");
    expect(() => parsePeers(["n1=127.0.0.1:7101/8101,n1=127.0.0.1:7102/8102"])).toThrow("n1 is listed twice");
  });

  it("resolve the settings, adding this member to its peers, with errors that name the option", () => {
    const s = resolveRaftSettings({ id: "n2", listen: "127.0.0.1:7102", http: "127.0.0.1:8102", peers: ["n1=127.0.0.1:7101/8101,n3=127.0.0.1:7103/8103"], dir: "d", electionTimeout: "300-600", heartbeat: "60", initialVoters: "n1,n2" });
    expect([...s.peers.keys()]).toEqual(["n1", "n2", "n3"]);
    expect(s.config).toMatchObject({ electionTimeoutMinMs: 300, electionTimeoutMaxMs: 600, heartbeatMs: 60, initialVoters: ["n1", "n2"], snapshotEveryEntries: 1000 });
    const base = { id: "n1", listen: "127.0.0.1:7101", http: "127.0.0.1:8101", dir: "d" };
    expect(() => resolveRaftSettings({ ...base, id: undefined })).toThrow("--id is required");
    expect(() => resolveRaftSettings({ ...base, heartbeat: "150" })).toThrow("--heartbeat 150 must be shorter than the election timeout's minimum (150 ms)");
    expect(() => resolveRaftSettings({ ...base, peers: ["n1=127.0.0.1:9999/8101"] })).toThrow("--peers gives n1 as 127.0.0.1:9999/8101, but --listen/--http say 127.0.0.1:7101/8101");
    expect(() => resolveRaftSettings({ ...base, initialVoters: "n1,n5" })).toThrow("--initial-voters: n5 is not in --peers");
    expect(() => resolveRaftSettings({ ...base, listen: "localhost" })).toThrow(RaftUsageError);
  });
});
