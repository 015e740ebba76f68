// `faultline raft node`'s options, read into the settings a Raft member runs with. Pure parsing:
// every mistake is a RaftUsageError whose message says which option and what it must look like.
//
// A member is named by an id (`n1`) and has two addresses: its Raft port, where the other members
// connect, and its HTTP port, where clients talk to it. Both are written together, as
// `host:raftPort/httpPort` (the HTTP port on the same host) or `host:raftPort/httpHost:httpPort`,
// in --peers and in POST /membership/add; members need each other's HTTP address to redirect
// clients to the leader.

import { RAFT_DEFAULTS, type RaftConfig } from "../core/raft/types.js";
import type { HostPort } from "./raft-net.js";

export class RaftUsageError extends Error {}

/** Where one member listens. */
export interface MemberAddress {
  readonly raft: HostPort;
  readonly http: HostPort;
}

export interface RaftSettings {
  readonly id: string;
  readonly listen: HostPort;
  readonly http: HostPort;
  /** Every member this one knows at start, itself included, by id (sorted). */
  readonly peers: ReadonlyMap<string, MemberAddress>;
  readonly dir: string;
  readonly logfile: string | null;
  readonly logLevel: "debug" | "info" | "warn" | "error";
  readonly config: RaftConfig;
  /** How long an HTTP request waits for the node before it is answered 503/504. */
  readonly requestTimeoutMs: number;
}

const ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const PORT_MAX = 65535;
/** Longest election timeout accepted: a minute (beyond it, a typo in the units is likelier). */
const ELECTION_TIMEOUT_MAX_MS = 60_000;
const REQUEST_TIMEOUT_MAX_MS = 600_000;

/** `host:port` (IPv6 hosts in brackets). `what` names the option for the message. */
export function parseHostPort(text: string, what: string): HostPort {
  const colon = text.lastIndexOf(":");
  const portText = colon < 0 ? "" : text.slice(colon + 1);
  let host = colon < 0 ? "" : text.slice(0, colon);
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  const port = Number(portText);
  if (host === "" || !/^\d{1,5}$/.test(portText) || port < 1 || port > PORT_MAX) {
    throw new RaftUsageError(`${what}: ${JSON.stringify(text)} is not host:port (e.g. 127.0.0.1:7101)`);
  }
  return { host, port };
}

export function formatHostPort(a: HostPort): string {
  return a.host.includes(":") ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** `host:raftPort/httpPort` or `host:raftPort/httpHost:httpPort`. */
export function parseMemberAddress(text: string, what: string): MemberAddress {
  const slash = text.indexOf("/");
  if (slash < 0) throw new RaftUsageError(`${what}: ${JSON.stringify(text)} needs the HTTP port too: host:raftPort/httpPort (e.g. 127.0.0.1:7101/8101)`);
  const raftText = text.slice(0, slash);
  const raft = parseHostPort(raftText, what);
  const httpText = text.slice(slash + 1);
  // A bare port: the HTTP port is on the Raft port's host.
  const http = parseHostPort(/^\d+$/.test(httpText) ? `${raftText.slice(0, raftText.lastIndexOf(":"))}:${httpText}` : httpText, what);
  return { raft, http };
}

export function formatMemberAddress(a: MemberAddress): string {
  return a.http.host === a.raft.host ? `${formatHostPort(a.raft)}/${a.http.port}` : `${formatHostPort(a.raft)}/${formatHostPort(a.http)}`;
}

export function checkId(id: string, what: string): string {
  if (!ID.test(id)) throw new RaftUsageError(`${what}: ${JSON.stringify(id)} is not a member id (letters, digits, _ . -; up to 64, starting with a letter or digit)`);
  return id;
}

/** `n1=127.0.0.1:7101/8101,n2=…` (also several --peers options, each a list). */
export function parsePeers(texts: readonly string[]): Map<string, MemberAddress> {
  const peers = new Map<string, MemberAddress>();
  for (const part of texts.flatMap((t) => t.split(",")).map((p) => p.trim()).filter((p) => p !== "")) {
    const eq = part.indexOf("=");
    if (eq < 0) throw new RaftUsageError(`--peers: ${JSON.stringify(part)} is not id=host:raftPort/httpPort`);
    const id = checkId(part.slice(0, eq), "--peers");
    if (peers.has(id)) throw new RaftUsageError(`--peers: ${id} is listed twice`);
    peers.set(id, parseMemberAddress(part.slice(eq + 1), `--peers ${id}`));
  }
  return peers;
}

/** `150-300` (a range) or `200` (a fixed timeout), in ms. */
export function parseRangeMs(text: string, what: string): readonly [number, number] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(text.trim());
  const lo = m === null ? NaN : Number(m[1]);
  const hi = m === null ? NaN : Number(m[2] ?? m[1]);
  if (!(lo >= 1 && hi >= lo && hi <= ELECTION_TIMEOUT_MAX_MS)) throw new RaftUsageError(`${what}: ${JSON.stringify(text)} is not min-max in ms (e.g. 150-300; 1 ≤ min ≤ max ≤ ${ELECTION_TIMEOUT_MAX_MS})`);
  return [lo, hi];
}

function wholeNumber(text: string, what: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n < min || n > max) throw new RaftUsageError(`${what}: ${JSON.stringify(text)} must be a whole number from ${min} to ${max}`);
  return n;
}

/** The raw option values, as yargs gives them (strings; absent ones undefined). */
export interface RaftOptions {
  readonly id?: string | undefined;
  readonly listen?: string | undefined;
  readonly http?: string | undefined;
  readonly peers?: readonly string[] | undefined;
  readonly dir?: string | undefined;
  readonly logfile?: string | undefined;
  readonly logLevel?: string | undefined;
  readonly electionTimeout?: string | undefined;
  readonly heartbeat?: string | undefined;
  readonly snapshotEvery?: string | undefined;
  readonly initialVoters?: string | undefined;
  readonly requestTimeout?: string | undefined;
  readonly preVote?: string | undefined;
  readonly checkQuorum?: string | undefined;
}

function yesNo(text: string | undefined, what: string, fallback: boolean): boolean {
  if (text === undefined) return fallback;
  if (text === "yes" || text === "true") return true;
  if (text === "no" || text === "false") return false;
  throw new RaftUsageError(`${what}: ${JSON.stringify(text)} must be yes or no`);
}

const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;

export function resolveRaftSettings(o: RaftOptions): RaftSettings {
  if (o.id === undefined) throw new RaftUsageError("--id is required: this member's id (e.g. n1)");
  const id = checkId(o.id, "--id");
  if (o.listen === undefined) throw new RaftUsageError("--listen is required: host:port for the other members (e.g. 127.0.0.1:7101)");
  if (o.http === undefined) throw new RaftUsageError("--http is required: host:port for clients (e.g. 127.0.0.1:8101)");
  if (o.dir === undefined) throw new RaftUsageError("--dir is required: where this member keeps its log and snapshot");
  const listen = parseHostPort(o.listen, "--listen");
  const http = parseHostPort(o.http, "--http");
  if (listen.host === http.host && listen.port === http.port) throw new RaftUsageError("--listen and --http must differ");
  const peers = parsePeers(o.peers ?? []);
  const self = peers.get(id);
  if (self !== undefined && (formatHostPort(self.raft) !== formatHostPort(listen) || formatHostPort(self.http) !== formatHostPort(http))) {
    throw new RaftUsageError(`--peers gives ${id} as ${formatMemberAddress(self)}, but --listen/--http say ${formatMemberAddress({ raft: listen, http })}`);
  }
  peers.set(id, { raft: listen, http });
  const sorted = new Map([...peers].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
  const [electionTimeoutMinMs, electionTimeoutMaxMs] = parseRangeMs(o.electionTimeout ?? `${RAFT_DEFAULTS.electionTimeoutMinMs}-${RAFT_DEFAULTS.electionTimeoutMaxMs}`, "--election-timeout");
  const heartbeatMs = wholeNumber(o.heartbeat ?? String(RAFT_DEFAULTS.heartbeatMs), "--heartbeat", 1, ELECTION_TIMEOUT_MAX_MS);
  if (heartbeatMs >= electionTimeoutMinMs) throw new RaftUsageError(`--heartbeat ${heartbeatMs} must be shorter than the election timeout's minimum (${electionTimeoutMinMs} ms)`);
  const snapshotEveryEntries = wholeNumber(o.snapshotEvery ?? String(RAFT_DEFAULTS.snapshotEveryEntries), "--snapshot-every", 0, 100_000_000);
  let initialVoters: string[] | null = null;
  if (o.initialVoters !== undefined) {
    initialVoters = o.initialVoters.split(",").map((v) => checkId(v.trim(), "--initial-voters"));
    for (const v of initialVoters) if (!sorted.has(v)) throw new RaftUsageError(`--initial-voters: ${v} is not in --peers (every voter needs an address)`);
  }
  const logLevel = o.logLevel ?? "info";
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) throw new RaftUsageError(`--log-level: ${JSON.stringify(logLevel)} is not one of ${LOG_LEVELS.join(", ")}`);
  return {
    id,
    listen,
    http,
    peers: sorted,
    dir: o.dir,
    logfile: o.logfile ?? null,
    logLevel: logLevel as RaftSettings["logLevel"],
    requestTimeoutMs: wholeNumber(o.requestTimeout ?? "5000", "--request-timeout", 1, REQUEST_TIMEOUT_MAX_MS),
    config: {
      ...RAFT_DEFAULTS,
      electionTimeoutMinMs,
      electionTimeoutMaxMs,
      heartbeatMs,
      snapshotEveryEntries,
      initialVoters,
      preVote: yesNo(o.preVote, "--pre-vote", RAFT_DEFAULTS.preVote),
      checkQuorum: yesNo(o.checkQuorum, "--check-quorum", RAFT_DEFAULTS.checkQuorum),
    },
  };
}
