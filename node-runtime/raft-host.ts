// Runs one Raft store member for real: a RaftNode (core/raft/raft.ts) over a KvStore, behind a
// NodeRunner (the durable gate), with the wall clock, real timers, checksummed files in --dir,
// the other members over TCP (raft-net.ts) and clients over HTTP (raft-api.ts).
//
// The node is the same object the simulator hosts (sim/machines/raft.ts): every input goes
// through the runner, so a send, reply or trace marked `after: <persist>` leaves only once the
// disk said that persist is durable — a vote, a term, an appended entry are fsynced before the
// message or reply that depends on them. The disk completes persists in order (disk.ts), as the
// node requires. The leader stamps its clock into each command (the store's cluster time).
//
// Clock: Date.now(). Timers: one setTimeout per name, replaced when re-armed; one that fires
// before the wall clock reaches its deadline is re-armed, so the node never sees a timer early
// (as node-runtime/host.ts does). Inputs arrive one at a time from the event loop and the effects
// of each step are carried out in order before the next.
//
// Each HTTP request is one client request (client `h<n>`, request id n); its reply, or a timeout,
// answers it. The members' addresses come from --peers and, for members added later, from the
// store itself: POST /membership/add writes `raft/members/<id>` before adding the member, so every
// member (and any later leader) can reach it and redirect clients to it.

import { mkdirSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { assertNever, type Effect, type Input, type NodeId } from "../core/machine.js";
import { KvStore, stampTime } from "../core/raft/kv.js";
import { RaftNode } from "../core/raft/raft.js";
import type { RaftMsg, RaftReply, RaftRequest } from "../core/raft/types.js";
import { NodeRunner } from "../core/runner.js";
import type { Json } from "../core/trace.js";
import { listen } from "./clients.js";
import { Disk } from "./disk.js";
import type { NodeLog } from "./log.js";
import { CryptoPrng } from "./prng.js";
import { type ApiCall, type ApiResponse, apiError, BODY_BYTES_MAX, MEMBERS_PREFIX, parseApiRequest, renderReply, timeoutResponse } from "./raft-api.js";
import { formatHostPort, formatMemberAddress, type MemberAddress, parseMemberAddress, type RaftSettings } from "./raft-config.js";
import { RaftNet } from "./raft-net.js";
import { MachineTimers } from "./timers.js";
import { RaftDiskError, recoverRaftDir } from "./raft-records.js";
import { recordLine } from "./records.js";

/** setTimeout's longest delay; a later deadline is re-armed when this one fires. */
/** How long open HTTP connections get to finish at a graceful stop. */
const STOP_GRACE_MS = 2_000;

type Fx = Effect<RaftMsg, RaftReply>;

export interface RaftHostOptions {
  readonly settings: RaftSettings;
  readonly log: NodeLog;
  /** A persist failed: the member cannot keep its promises. The CLI exits. */
  readonly onFatal: (why: string) => void;
}

/** An HTTP request waiting for the node's reply. */
interface Pending {
  readonly resolve: (reply: RaftReply | null) => void;
  readonly timer: NodeJS.Timeout;
}

export class RaftHost {
  readonly kv = new KvStore();
  readonly raft: RaftNode;
  private readonly runner: NodeRunner<RaftMsg, RaftRequest, RaftReply>;
  private readonly disk: Disk;
  private readonly net: RaftNet;
  private readonly http: Server;
  private readonly timers = new MachineTimers((name) => this.input({ kind: "timer", name }));
  private readonly pending = new Map<number, Pending>();
  private readonly sockets = new Set<Socket>();
  private reqIdNext = 1;
  private phase: "created" | "running" | "stopping" = "created";
  private readonly s: RaftSettings;
  private readonly log: NodeLog;

  constructor(options: RaftHostOptions) {
    const s = options.settings;
    this.s = s;
    this.log = options.log;
    // The store keeps whole milliseconds of cluster time.
    const stamp = (command: Json, nowMs: number): Json => stampTime(command, Math.floor(nowMs));
    this.raft = new RaftNode({ id: s.id, peers: [...s.peers.keys()], config: s.config, rng: new CryptoPrng() }, this.kv, { stamp });
    this.runner = new NodeRunner(this.raft);
    this.disk = new Disk(
      s.dir,
      (id) => this.input({ kind: "persisted", id }),
      (req, e) => options.onFatal(`cannot write ${req.file} in ${s.dir}: ${e instanceof Error ? e.message : String(e)}`),
      recordLine,
    );
    const connectTimeoutMs = Math.max(200, s.config.electionTimeoutMaxMs);
    this.net = new RaftNet(s.id, (id) => this.addressOf(id)?.raft ?? null, connectTimeoutMs, (from, msg) => this.input({ kind: "message", from, msg }), this.log);
    this.http = createServer((req, res) => this.onHttp(req, res));
    this.http.on("connection", (socket: Socket) => {
      this.sockets.add(socket);
      socket.once("close", () => this.sockets.delete(socket));
    });
  }

  /**
   * Reads the disk (creating the directory if needed; a torn tail is cut and logged), binds both
   * ports, then starts the node. Throws RaftDiskError for files it must not start from, and the
   * system error (EADDRINUSE, EACCES…) for a port or directory it cannot use.
   */
  async start(): Promise<void> {
    const s = this.s;
    mkdirSync(s.dir, { recursive: true });
    const { recovered, reports } = recoverRaftDir(s.dir);
    for (const r of reports) {
      this.log.event(r.droppedBytes > 0 ? "warn" : "info", "raft-file-recovered", { file: r.file, records: r.records, droppedBytes: r.droppedBytes, cut: r.cutReason });
    }
    await this.net.listen(s.listen.host, s.listen.port);
    await listen(this.http, s.http.host, s.http.port);
    this.log.event("info", "listening", { raft: formatHostPort(s.listen), http: formatHostPort(s.http), dir: s.dir, fresh: recovered === null, members: [...s.peers.keys()] });
    this.phase = "running";
    try {
      this.input({ kind: "start", recovered });
    } catch (e) {
      // core/raft/storage.ts's recover: records no Raft member could have written.
      throw new RaftDiskError(`cannot recover from ${s.dir}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /**
   * Graceful stop: no new connections or inputs; pending persists finish; requests still waiting
   * are answered (outcome unknown for writes); connections close; the log is flushed.
   */
  async stop(): Promise<void> {
    if (this.phase === "stopping") return;
    this.phase = "stopping";
    this.log.event("info", "shutdown", { pendingPersists: this.disk.pending, pendingRequests: this.pending.size });
    this.http.close();
    this.net.close();
    this.timers.stop();
    await this.disk.close();
    for (const [reqId, p] of [...this.pending]) {
      clearTimeout(p.timer);
      this.pending.delete(reqId);
      p.resolve(null);
    }
    const deadline = Date.now() + STOP_GRACE_MS;
    while (this.sockets.size > 0 && Date.now() < deadline) {
      this.http.closeIdleConnections();
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const socket of this.sockets) socket.destroy();
    this.log.event("info", "stopped");
    this.log.flush();
  }

  /** A member's addresses: from --peers, else from the store's address book (members added later). */
  addressOf(id: NodeId): MemberAddress | null {
    const known = this.s.peers.get(id);
    if (known !== undefined) return known;
    const r = this.kv.read({ op: "get", key: MEMBERS_PREFIX + id }) as { kv?: { value?: string } | null } | null;
    const text = r?.kv?.value;
    if (typeof text !== "string") return null;
    try {
      return parseMemberAddress(text, MEMBERS_PREFIX + id);
    } catch {
      return null;
    }
  }

  // ---- the node ---------------------------------------------------------------------------------

  private input(input: Input<RaftMsg, RaftRequest>): void {
    if (this.phase === "created") return;
    if (this.phase === "stopping" && input.kind !== "persisted") return;
    const nowMs = Date.now();
    for (const e of this.runner.step(input, nowMs)) this.apply(e, nowMs);
  }

  private apply(e: Fx, nowMs: number): void {
    switch (e.kind) {
      case "send":
        this.net.send(e.to, e.msg);
        break;
      case "set-timer":
        this.timers.set(e.name, e.atMs);
        break;
      case "cancel-timer":
        this.timers.cancel(e.name);
        break;
      case "persist":
        this.disk.submit(e);
        break;
      case "reply": {
        const p = this.pending.get(e.reqId);
        if (p === undefined) break; // answered already (timed out)
        clearTimeout(p.timer);
        this.pending.delete(e.reqId);
        p.resolve(e.value);
        break;
      }
      case "push":
      case "close":
        break; // Raft has no pushes and never closes a client.
      case "trace":
        this.log.trace(nowMs, e.event as Readonly<Record<string, Json>>);
        break;
      default:
        assertNever(e, "effect");
    }
  }

  /** One client request; resolves with the reply, or null when none came within the request timeout. */
  private ask(req: RaftRequest): Promise<RaftReply | null> {
    if (this.phase !== "running") return Promise.resolve(null);
    const reqId = this.reqIdNext++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(reqId);
        resolve(null);
      }, this.s.requestTimeoutMs);
      this.pending.set(reqId, { resolve, timer });
      this.input({ kind: "client", client: `h${reqId}`, reqId, req });
    });
  }

  // ---- HTTP ---------------------------------------------------------------------------------------

  private onHttp(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let tooLarge = false;
    req.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > BODY_BYTES_MAX) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on("end", () => {
      if (tooLarge) return this.respond(req, res, apiError(413, "too-large", `the body is over ${BODY_BYTES_MAX} bytes`));
      const call = parseApiRequest(req.method ?? "GET", req.url ?? "/", req.headers, Buffer.concat(chunks).toString("utf8"));
      if ("status" in call) return this.respond(req, res, call);
      this.carryOut(call).then(
        (response) => this.respond(req, res, response),
        (e: unknown) => this.respond(req, res, apiError(500, "internal", e instanceof Error ? e.message : String(e))),
      );
    });
    req.on("error", () => res.destroy());
  }

  private async carryOut(call: ApiCall): Promise<ApiResponse> {
    if (this.phase !== "running") return apiError(503, "shutting-down", "this member is stopping; ask another");
    if (call.kind === "add-member") return this.addMember(call.id, call.address, call.learner);
    const reply = await this.ask(call.req);
    if (reply === null) return this.phase === "running" ? timeoutResponse(call.effect, this.s.requestTimeoutMs) : stoppedResponse(call.effect);
    const response = renderReply(call.render, reply);
    if (!reply.ok || reply.op !== "status") return response;
    if (call.render === "membership-view") return { status: 200, body: this.membershipView(reply.status.leader, reply.status.membership) };
    const leader = reply.status.leader === null ? null : this.addressOf(reply.status.leader);
    return { status: 200, body: { ...response.body, raft: formatHostPort(this.s.listen), http: formatHostPort(this.s.http), leaderHttp: leader === null ? null : formatHostPort(leader.http), pendingPersists: this.disk.pending, heldEffects: this.runner.heldCount } };
  }

  /** Records the new member's address in the store (so every member can reach it), then adds it. */
  private async addMember(id: string, address: MemberAddress, learner: boolean): Promise<ApiResponse> {
    const known = this.s.peers.get(id);
    if (known !== undefined && formatMemberAddress(known) !== formatMemberAddress(address)) {
      return apiError(400, "bad-request", `${id} is in this member's --peers as ${formatMemberAddress(known)}, not ${formatMemberAddress(address)}`);
    }
    const put = await this.ask({ op: "propose", command: { op: "put", key: MEMBERS_PREFIX + id, value: formatMemberAddress(address) } });
    if (put === null) return timeoutResponse("admin", this.s.requestTimeoutMs);
    const recorded = renderReply("write", put);
    if (recorded.status !== 200) return recorded;
    const added = await this.ask(learner ? { op: "add-learner", node: id } : { op: "add-server", node: id });
    return added === null ? timeoutResponse("admin", this.s.requestTimeoutMs) : renderReply("membership", added);
  }

  private membershipView(leader: NodeId | null, m: { readonly voters: readonly NodeId[]; readonly learners: readonly NodeId[] }): { [key: string]: Json } {
    const member = (id: NodeId): Json => {
      const a = this.addressOf(id);
      return { id, raft: a === null ? null : formatHostPort(a.raft), http: a === null ? null : formatHostPort(a.http) };
    };
    return { leader, voters: m.voters.map(member), learners: m.learners.map(member) };
  }

  private respond(req: IncomingMessage, res: ServerResponse, r: ApiResponse): void {
    let body = r.body;
    let status = r.status;
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (r.notLeader !== undefined) {
      const a = this.addressOf(r.notLeader.leader);
      const leaderHttp = a === null ? null : formatHostPort(a.http);
      body = { ...body, leaderHttp };
      // A redirect needs somewhere to go; without the leader's address the client retries later.
      if (leaderHttp !== null) headers["location"] = `http://${leaderHttp}${req.url ?? "/"}`;
      else status = 503;
    }
    if (r.allow !== undefined) headers["allow"] = r.allow;
    if (status === 503 && body["error"] !== "outcome-unknown") headers["retry-after"] = "1";
    const text = `${JSON.stringify(body)}\n`;
    headers["content-length"] = String(Buffer.byteLength(text));
    if (res.destroyed) return;
    try {
      res.writeHead(status, headers);
      res.end(text);
    } catch (e) {
      // A response node:http refuses is a bug here, not the node's: log it, drop the connection.
      this.log.event("error", "http-response-failed", { status, error: e instanceof Error ? e.message : String(e) });
      res.destroy();
    }
  }
}

/** The answer to a request still waiting when the member stops. */
function stoppedResponse(effect: "read" | "write" | "admin"): ApiResponse {
  return effect === "read"
    ? apiError(503, "shutting-down", "this member stopped before answering; ask another")
    : apiError(503, "outcome-unknown", "this member stopped before answering; the request may still apply");
}

