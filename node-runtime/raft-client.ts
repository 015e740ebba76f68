// A client of the Raft store's HTTP API (raft-api.ts), for tests, benchmarks and scripts: finds
// the leader by following redirects, retries what is safe to retry, and says of every request
// whether it took effect, did not, or may have (the three outcomes a history checker needs).
//
// - ok: a 2xx reply (and 404 key-not-found for a read: the key is absent).
// - fail: a definite refusal (400, 403, 409…): the request took no effect.
// - unknown: the request may or may not have taken effect — a write that got 503
//   outcome-unknown, 410 session-unknown, or no answer (timeout, connection lost) and could not
//   be retried to a definite answer before the deadline.
//
// A write is retried after an unknown attempt only when it is idempotent: under a session
// (X-Client-Id and X-Seq: the store applies one (client, seq) once and answers a retry with the
// first reply). A write without a session is not retried after an unknown attempt: its outcome is
// unknown. Reads are always retried. A 503 no-leader, 429 busy or 504 timeout means nothing
// happened: retried after `retryDelayMs` until the deadline.

import { Agent, request } from "node:http";

/** A JSON reply: its status and body (null when the body is not a JSON object). */
export interface HttpReply {
  readonly status: number;
  readonly body: { readonly [key: string]: unknown } | null;
  readonly location: string | null;
}

export type Outcome =
  | { readonly kind: "ok"; readonly status: number; readonly body: { readonly [key: string]: unknown } }
  | { readonly kind: "fail"; readonly status: number; readonly error: string; readonly message: string }
  | { readonly kind: "unknown"; readonly why: string };

export interface RaftClientOptions {
  /** One attempt's limit (each hop of a redirect is an attempt). */
  readonly attemptTimeoutMs?: number;
  /** Pause before retrying after no-leader, busy, a timeout or a lost connection. */
  readonly retryDelayMs?: number;
  /** Redirects followed in one attempt at most. */
  readonly hopsMax?: number;
}

/** One HTTP request with a JSON reply over `agent`; rejects on a network error or after `timeoutMs`. */
export function httpJson(agent: Agent, hostPort: string, method: string, path: string, body: string | null, headers: Readonly<Record<string, string>>, timeoutMs: number): Promise<HttpReply> {
  const colon = hostPort.lastIndexOf(":");
  const host = hostPort.slice(0, colon).replace(/^\[|\]$/g, "");
  const port = Number(hostPort.slice(colon + 1));
  return new Promise((resolve, reject) => {
    const req = request({ host, port, method, path, agent, headers: body === null ? headers : { ...headers, "content-length": String(Buffer.byteLength(body)) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        clearTimeout(timer);
        let parsed: unknown = null;
        try {
          parsed = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        } catch {
          parsed = null;
        }
        const location = res.headers.location ?? null;
        resolve({ status: res.statusCode ?? 0, body: typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? (parsed as { [key: string]: unknown }) : null, location });
      });
      res.on("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
    const timer = setTimeout(() => req.destroy(new Error(`no reply within ${timeoutMs} ms`)), timeoutMs);
    req.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.end(body ?? undefined);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What one attempt (with its redirects) came to. */
type Attempt =
  | { readonly kind: "final"; readonly outcome: Outcome }
  /** Try again; `maybeApplied`: this attempt may have taken effect. */
  | { readonly kind: "retry"; readonly maybeApplied: boolean; readonly why: string; readonly lostConnection: boolean };

export class RaftClient {
  /** The HTTP address of the member believed to lead (where requests go first). */
  leader: string;
  private next = 0;
  readonly agent = new Agent({ keepAlive: true, maxSockets: 64 });
  private readonly attemptTimeoutMs: number;
  private readonly retryDelayMs: number;
  private readonly hopsMax: number;

  /** `members`: the HTTP addresses (host:port) of some members; any one will do to start. */
  constructor(
    readonly members: readonly string[],
    options: RaftClientOptions = {},
  ) {
    if (members.length === 0) throw new Error("RaftClient needs at least one member's HTTP address");
    this.leader = members[0] as string;
    this.attemptTimeoutMs = options.attemptTimeoutMs ?? 2_000;
    this.retryDelayMs = options.retryDelayMs ?? 50;
    this.hopsMax = options.hopsMax ?? 5;
  }

  close(): void {
    this.agent.destroy();
  }

  /**
   * Sends the request until it has a definite outcome or `deadlineMs` (a Date.now() time) passes.
   * `idempotent`: a retry after an unknown attempt cannot apply it twice (default: reads, and
   * writes carrying `x-seq` — header names in lower case, as node:http sends them).
   */
  async call(method: string, path: string, options: { body?: string; headers?: Readonly<Record<string, string>>; deadlineMs: number; idempotent?: boolean }): Promise<Outcome> {
    const idempotent = options.idempotent ?? (method === "GET" || options.headers?.["x-seq"] !== undefined);
    let maybeApplied = false;
    let why = "the deadline passed before the first attempt";
    while (Date.now() < options.deadlineMs) {
      const a = await this.attempt(method, path, options.body ?? null, options.headers ?? {});
      if (a.kind === "final") {
        if (a.outcome.kind === "fail" && maybeApplied) return { kind: "unknown", why: `an earlier attempt may have applied (${why}), then ${a.outcome.error}` };
        return a.outcome;
      }
      why = a.why;
      if (a.maybeApplied) {
        maybeApplied = true;
        if (!idempotent) return { kind: "unknown", why };
      }
      if (a.lostConnection) this.rotate();
      await sleep(this.retryDelayMs);
    }
    return maybeApplied ? { kind: "unknown", why } : { kind: "fail", status: 0, error: "deadline", message: `no definite answer before the deadline (last: ${why})` };
  }

  /** Opens a session (POST /session); its id, or null when none was opened before the deadline. */
  async openSession(deadlineMs: number): Promise<number | null> {
    const o = await this.call("POST", "/session", { deadlineMs, idempotent: false });
    return o.kind === "ok" && typeof o.body["clientId"] === "number" ? o.body["clientId"] : null;
  }

  /** The next member to try after one stopped answering. */
  private rotate(): void {
    const i = this.members.indexOf(this.leader);
    this.next = (i < 0 ? this.next : i + 1) % this.members.length;
    this.leader = this.members[this.next] as string;
  }

  private async attempt(method: string, path: string, body: string | null, headers: Readonly<Record<string, string>>): Promise<Attempt> {
    let at = this.leader;
    for (let hop = 0; hop <= this.hopsMax; hop++) {
      let r: HttpReply;
      try {
        r = await httpJson(this.agent, at, method, path, body, headers, this.attemptTimeoutMs);
      } catch (e) {
        // Refused: the request never reached a member. Anything else may have reached one.
        const refused = (e as NodeJS.ErrnoException).code === "ECONNREFUSED";
        return { kind: "retry", maybeApplied: method !== "GET" && !refused, why: `${at}: ${e instanceof Error ? e.message : String(e)}`, lostConnection: true };
      }
      const error = typeof r.body?.["error"] === "string" ? r.body["error"] : "";
      const message = typeof r.body?.["message"] === "string" ? r.body["message"] : "";
      if (r.status === 307 && error === "not-leader" && typeof r.body?.["leaderHttp"] === "string") {
        at = r.body["leaderHttp"];
        this.leader = at;
        continue;
      }
      if ((r.status >= 200 && r.status < 300) || (r.status === 404 && error === "key-not-found")) {
        return { kind: "final", outcome: { kind: "ok", status: r.status, body: r.body ?? {} } };
      }
      if (r.status === 503 && error === "outcome-unknown") return { kind: "retry", maybeApplied: true, why: `${at}: ${message}`, lostConnection: false };
      if (r.status === 503 && error === "shutting-down") return { kind: "retry", maybeApplied: false, why: `${at}: ${message}`, lostConnection: true };
      if (r.status === 503 || r.status === 429 || r.status === 504) return { kind: "retry", maybeApplied: false, why: `${at}: ${error} ${message}`, lostConnection: false };
      if (r.status === 410 && error === "session-unknown") return { kind: "final", outcome: { kind: "unknown", why: `${at}: ${message}` } };
      return { kind: "final", outcome: { kind: "fail", status: r.status, error: error || `http-${r.status}`, message } };
    }
    return { kind: "retry", maybeApplied: false, why: `more than ${this.hopsMax} redirects`, lostConnection: false };
  }
}
