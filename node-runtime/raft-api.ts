// The Raft store's HTTP API, as pure functions: an HTTP request → the Raft request(s) it makes,
// and a Raft reply → the HTTP status and JSON body. raft-host.ts runs them behind node:http.
//
// | request | Raft request | success |
// |---|---|---|
// | GET /kv/<key> [?lease=1] | read get (ReadIndex; lease) | 200 {key, value, createIndex, modIndex, index}; 404 key-not-found {index} |
// | GET /kv?prefix=P[&after=K][&limit=N] | read list | 200 {index, kvs, more} |
// | PUT /kv/<key> (body: the value) | propose put | 200 {index, prev} |
// | DELETE /kv/<key> | propose delete | 200 {index, prev} |
// | POST /kv/<key>/cas {expected, value} | propose cas | 200 {index, prev, swapped} |
// | POST /session | propose session-open | 201 {clientId, index} |
// | DELETE /session/<id> | propose session-close | 200 {closed, index} |
// | GET /status | status | 200 the node's status |
// | GET /membership | status | 200 {leader, voters, learners} with addresses |
// | POST /membership/add {id, addr, learner?} | put raft/members/<id>, then add-server (add-learner) | 200 {index, membership} |
// | POST /membership/remove {id} | remove-server | 200 {index, membership} |
// | POST /leadership/transfer {to} | transfer-leadership | 200 {term} |
//
// Keys are the rest of the path, percent-decoded (a key ending in "/cas" is written with %2Fcas).
// Writes may name a session with `X-Client-Id` (from POST /session) and `X-Seq` (1, 2, …): a
// retry of the same (client, seq) applies at most once and gets the first reply again (KV.md).
// Without them a write is its own one-shot request: a retry may apply it twice.
//
// A member that is not the leader answers 307 not-leader with `leader`, `leaderHttp` and a
// Location header at the same path on the leader (curl -L and fetch follow it, body and method
// kept); 503 no-leader when it knows none. Errors are `{error, message}` with: 400
// bad-request/malformed, 403 reserved (keys under `raft/` are the members' address book), 404
// not-found / key-not-found, 405 method-not-allowed, 409 change-in-progress/session-stale, 410
// session-unknown (the write's outcome is unknown: open a new session), 413 too-large, 429 busy,
// 503 no-leader / transfer-in-progress (retry) and outcome-unknown (the write may or may not have
// applied), 504 timeout (a read or status got no answer in time) and transfer-failed /
// catch-up-failed.

import type { CasCommand, CommandReply, DeleteCommand, PutCommand, QueryReply, Session } from "../core/raft/kv.js";
import type { RaftError, RaftReply, RaftRequest } from "../core/raft/types.js";
import type { Json } from "../core/trace.js";
import { checkId, type MemberAddress, parseMemberAddress, RaftUsageError } from "./raft-config.js";

/** The members' HTTP/Raft addresses live in the store under this prefix (one key per member). */
export const MEMBERS_PREFIX = "raft/members/";
/** Keys clients may not write: the store's own. */
export const RESERVED_PREFIX = "raft/";
/** Largest request body read. Values are at most 64 KiB (KV.md); JSON bodies are small. */
export const BODY_BYTES_MAX = 1024 * 1024;

/** What a request does once a reply comes: how the reply becomes a response. */
export type Render = "get" | "list" | "write" | "cas" | "session-open" | "session-close" | "status" | "membership-view" | "membership" | "transfer";

export type ApiCall =
  | {
      readonly kind: "raft";
      readonly req: RaftRequest;
      /** write/admin: a timeout or lost leadership leaves the outcome unknown; read: nothing happened. */
      readonly effect: "read" | "write" | "admin";
      readonly render: Render;
    }
  /** Two steps: record the address in the store, then add the member. */
  | { readonly kind: "add-member"; readonly id: string; readonly address: MemberAddress; readonly learner: boolean };

/**
 * A response: status and JSON body. `notLeader`: a redirect to that member, whose HTTP address the
 * host adds (as `leaderHttp` and Location; a 503 when it does not know the address).
 */
export interface ApiResponse {
  readonly status: number;
  readonly body: { readonly [key: string]: Json };
  readonly notLeader?: { readonly leader: string };
  /** For a 405: the methods the path takes (the Allow header). */
  readonly allow?: string;
}

export function apiError(status: number, error: string, message: string, extra: { readonly [key: string]: Json } = {}): ApiResponse {
  return { status, body: { error, message, ...extra } };
}

/** The request's headers, lower-cased as node:http gives them. */
export type Headers = Readonly<Record<string, string | string[] | undefined>>;

/** An HTTP request as the node will carry it out, or the response that refuses it. */
export function parseApiRequest(method: string, rawUrl: string, headers: Headers, body: string): ApiCall | ApiResponse {
  let url: URL;
  try {
    url = new URL(rawUrl, "http://raft.invalid");
  } catch {
    return apiError(400, "bad-request", `cannot parse the URL ${JSON.stringify(rawUrl.slice(0, 200))}`);
  }
  const path = url.pathname;
  if (path === "/kv" || path === "/kv/") return method === "GET" ? listCall(url) : notAllowed(method, path, "GET");
  if (path.startsWith("/kv/")) return kvCall(method, path.slice("/kv/".length), url, headers, body);
  switch (path) {
    case "/status":
      return method === "GET" ? { kind: "raft", req: { op: "status" }, effect: "read", render: "status" } : notAllowed(method, path, "GET");
    case "/membership":
      return method === "GET" ? { kind: "raft", req: { op: "status" }, effect: "read", render: "membership-view" } : notAllowed(method, path, "GET");
    case "/session":
      return method === "POST" ? { kind: "raft", req: { op: "propose", command: { op: "session-open" } }, effect: "write", render: "session-open" } : notAllowed(method, path, "POST");
    case "/membership/add":
    case "/membership/remove":
    case "/leadership/transfer":
      return method === "POST" ? adminCall(path, body) : notAllowed(method, path, "POST");
    default:
      break;
  }
  if (path.startsWith("/session/")) {
    if (method !== "DELETE") return notAllowed(method, path, "DELETE");
    const id = path.slice("/session/".length);
    if (!/^[1-9]\d{0,15}$/.test(id)) return apiError(400, "bad-request", `${JSON.stringify(id)} is not a session id (a positive integer from POST /session)`);
    return { kind: "raft", req: { op: "propose", command: { op: "session-close", clientId: Number(id) } }, effect: "write", render: "session-close" };
  }
  return apiError(404, "not-found", `no such endpoint: ${method} ${path} (see faultline raft --help)`);
}

function notAllowed(method: string, path: string, allowed: string): ApiResponse {
  return { ...apiError(405, "method-not-allowed", `${method} ${path}: use ${allowed}`), allow: allowed };
}

function listCall(url: URL): ApiCall | ApiResponse {
  const prefix = url.searchParams.get("prefix") ?? "";
  const after = url.searchParams.get("after");
  const limitText = url.searchParams.get("limit");
  if (limitText !== null && !/^[1-9]\d{0,6}$/.test(limitText)) return apiError(400, "bad-request", `limit ${JSON.stringify(limitText)} is not a positive integer`);
  const query: { [key: string]: Json } = { op: "list", prefix };
  if (after !== null) query["after"] = after;
  if (limitText !== null) query["limit"] = Number(limitText);
  return { kind: "raft", req: { op: "read", query }, effect: "read", render: "list" };
}

function kvCall(method: string, rest: string, url: URL, headers: Headers, body: string): ApiCall | ApiResponse {
  const cas = method === "POST" && rest.endsWith("/cas");
  const key = decodeKey(cas ? rest.slice(0, -"/cas".length) : rest);
  if (typeof key !== "string") return key;
  if (method === "GET") {
    const lease = url.searchParams.get("lease");
    const mode = lease === "1" || lease === "true" ? "lease" : "index";
    return { kind: "raft", req: mode === "lease" ? { op: "read", query: { op: "get", key }, mode } : { op: "read", query: { op: "get", key } }, effect: "read", render: "get" };
  }
  if (method !== "PUT" && method !== "DELETE" && !cas) {
    return method === "POST" ? apiError(404, "not-found", `POST /kv/<key>/cas is the only POST on a key`) : notAllowed(method, `/kv/${rest}`, "GET, PUT, DELETE");
  }
  if (key.startsWith(RESERVED_PREFIX)) return apiError(403, "reserved", `keys under ${RESERVED_PREFIX} belong to the store (the members' addresses); choose another key`);
  const session = sessionOf(headers);
  if (session !== null && !("clientId" in session)) return session;
  let command: PutCommand | DeleteCommand | CasCommand;
  if (method === "PUT") command = { op: "put", key, value: body };
  else if (method === "DELETE") command = { op: "delete", key };
  else {
    const parsed = casBody(body);
    if ("status" in parsed) return parsed;
    command = { op: "cas", key, expected: parsed.expected, value: parsed.value };
  }
  const withSession = session === null ? command : { ...command, session };
  return { kind: "raft", req: { op: "propose", command: withSession as unknown as Json }, effect: "write", render: cas ? "cas" : "write" };
}

function decodeKey(encoded: string): string | ApiResponse {
  let key: string;
  try {
    key = decodeURIComponent(encoded);
  } catch {
    return apiError(400, "bad-request", `the key ${JSON.stringify(encoded.slice(0, 200))} is not valid percent-encoding`);
  }
  return key === "" ? apiError(400, "bad-request", "the key is empty: /kv/<key>") : key;
}

function header(headers: Headers, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.at(-1) : v;
}

/** The write's session from X-Client-Id and X-Seq (both or neither), null without, or the refusal. */
export function sessionOf(headers: Headers): Session | null | ApiResponse {
  const client = header(headers, "x-client-id");
  const seq = header(headers, "x-seq");
  if (client === undefined && seq === undefined) return null;
  if (client === undefined || seq === undefined) return apiError(400, "bad-request", "X-Client-Id and X-Seq go together: a session id from POST /session and the request's number in it (1, 2, …)");
  if (!/^[1-9]\d{0,15}$/.test(client.trim()) || !/^[1-9]\d{0,15}$/.test(seq.trim())) return apiError(400, "bad-request", "X-Client-Id and X-Seq must be positive integers");
  return { clientId: Number(client), seq: Number(seq) };
}

/** The body as a JSON object, or null when it is not one. */
function jsonBody(body: string): { readonly [key: string]: unknown } | null {
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch {
    return null;
  }
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as { [key: string]: unknown }) : null;
}

const NOT_AN_OBJECT = (what: string) => apiError(400, "bad-request", `${what}: the body must be a JSON object`);

function casBody(body: string): { expected: string | null; value: string | null } | ApiResponse {
  const o = jsonBody(body);
  if (o === null) return NOT_AN_OBJECT("cas");
  const { expected, value } = o as { expected?: unknown; value?: unknown };
  const ok = (x: unknown) => x === null || typeof x === "string";
  if (!("expected" in o) || !("value" in o) || !ok(expected) || !ok(value)) {
    return apiError(400, "bad-request", 'cas takes {"expected": <string or null: absent>, "value": <string or null: delete>}');
  }
  return { expected: expected as string | null, value: value as string | null };
}

function adminCall(path: string, body: string): ApiCall | ApiResponse {
  const o = jsonBody(body);
  if (o === null) return NOT_AN_OBJECT(path);
  const field = (name: string): string | ApiResponse => {
    const v = o[name];
    if (typeof v !== "string") return apiError(400, "bad-request", `${path} needs "${name}" (a string)`);
    try {
      return checkId(v, name);
    } catch (e) {
      return apiError(400, "bad-request", (e as Error).message);
    }
  };
  if (path === "/leadership/transfer") {
    const to = field("to");
    return typeof to === "string" ? { kind: "raft", req: { op: "transfer-leadership", to }, effect: "admin", render: "transfer" } : to;
  }
  const id = field("id");
  if (typeof id !== "string") return id;
  if (path === "/membership/remove") return { kind: "raft", req: { op: "remove-server", node: id }, effect: "admin", render: "membership" };
  const addr = o["addr"];
  if (typeof addr !== "string") return apiError(400, "bad-request", '/membership/add needs "addr": host:raftPort/httpPort (e.g. 127.0.0.1:7106/8106)');
  let address: MemberAddress;
  try {
    address = parseMemberAddress(addr, "addr");
  } catch (e) {
    if (!(e instanceof RaftUsageError)) throw e;
    return apiError(400, "bad-request", e.message);
  }
  const learner = o["learner"];
  if (learner !== undefined && typeof learner !== "boolean") return apiError(400, "bad-request", '"learner" must be true or false');
  return { kind: "add-member", id, address, learner: learner === true };
}

// ---- replies --------------------------------------------------------------------------------------

/** The HTTP status of a Raft error. */
export function raftErrorStatus(error: RaftError): number {
  switch (error) {
    case "not-leader":
      return 307;
    case "outcome-unknown":
    case "transfer-in-progress":
      return 503;
    case "busy":
      return 429;
    case "change-in-progress":
      return 409;
    case "transfer-failed":
    case "catch-up-failed":
      return 504;
    case "lease-needs-check-quorum":
    case "bad-request":
      return 400;
  }
}

/** The HTTP status of a store's refusal of a command or query (KV.md). */
function kvErrorStatus(error: string): number {
  switch (error) {
    case "session-unknown":
    case "compacted":
      return 410;
    case "session-stale":
      return 409;
    default:
      return 400; // malformed
  }
}

/** The response to a Raft reply for a request rendered as `render`. */
export function renderReply(render: Render, reply: RaftReply): ApiResponse {
  if (!reply.ok) {
    if (reply.error === "not-leader") {
      if (reply.leader === null) return apiError(503, "no-leader", `${reply.message}; retry in a moment`);
      return { ...apiError(307, "not-leader", reply.message, { leader: reply.leader }), notLeader: { leader: reply.leader } };
    }
    return apiError(raftErrorStatus(reply.error), reply.error, reply.message);
  }
  switch (reply.op) {
    case "read":
      return renderRead(reply.value as unknown as QueryReply);
    case "propose":
      return renderCommand(render, reply.result as unknown as CommandReply);
    case "status":
      return { status: 200, body: reply.status as unknown as { [key: string]: Json } };
    case "membership":
      return { status: 200, body: { index: reply.index, membership: reply.membership as unknown as Json } };
    case "transfer":
      return { status: 200, body: { term: reply.term } };
  }
}

function renderRead(v: QueryReply): ApiResponse {
  if (!v.ok) return apiError(kvErrorStatus(v.error), v.error, v.message, { index: v.index });
  if ("kv" in v) {
    if (v.kv === null) return apiError(404, "key-not-found", "no such key", { index: v.index });
    return { status: 200, body: { ...v.kv, index: v.index } };
  }
  if ("kvs" in v) return { status: 200, body: { index: v.index, kvs: v.kvs as unknown as Json, more: v.more } };
  return { status: 200, body: v as unknown as { [key: string]: Json } };
}

function renderCommand(render: Render, r: CommandReply): ApiResponse {
  if (!r.ok) return apiError(kvErrorStatus(r.error), r.error, r.message, { index: r.index });
  if ("clientId" in r) return { status: 201, body: { clientId: r.clientId, index: r.index } };
  if ("closed" in r) return { status: 200, body: { closed: r.closed, index: r.index } };
  if ("swapped" in r) return { status: 200, body: { index: r.index, prev: r.prev, swapped: r.swapped } };
  if ("prev" in r) return { status: 200, body: render === "cas" ? { index: r.index, prev: r.prev, swapped: true } : { index: r.index, prev: r.prev } };
  return { status: 200, body: { index: r.index } };
}

/** The answer when the node did not reply within the request timeout. */
export function timeoutResponse(effect: "read" | "write" | "admin", timeoutMs: number): ApiResponse {
  if (effect === "read") return apiError(504, "timeout", `no answer within ${timeoutMs} ms (no quorum reachable?); nothing was changed`);
  return apiError(503, "outcome-unknown", `no answer within ${timeoutMs} ms; the request may still apply`);
}
