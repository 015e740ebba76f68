// `faultline cluster create | check | reshard | failover`: what `redis-cli --cluster` does, for
// users without redis-cli, over RespClient. They work on any Redis Cluster nodes, Faultline's or
// redis-server's, with the same commands redis-cli sends:
//
// - create: CLUSTER ADDSLOTSRANGE on the masters, SET-CONFIG-EPOCH 1..N (distinct epochs, so no
//   collision handling is needed), MEET, wait until every node knows every other and they agree
//   on the slots, then REPLICATE on the replicas.
// - check: CLUSTER NODES from every node: the node list, agreement, open slots, coverage.
// - reshard: per slot, SETSLOT IMPORTING on the target and MIGRATING on the source, GETKEYSINSLOT
//   + MIGRATE … KEYS in batches until the slot is empty, then SETSLOT NODE on the target, the
//   source and every other master.
// - failover: CLUSTER FAILOVER [FORCE|TAKEOVER] on a replica, then wait for it to be a master.
//
// Every wait is bounded; an unreachable node, a node that is not empty, an error reply each end
// the command with an AdminError that says what and where.

import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { SLOTS, SlotSet } from "../core/cluster/slots.js";
import {
  checkCluster,
  type CheckResult,
  configSignature,
  findNode,
  myselfOf,
  type NodeEntry,
  type NodeView,
  ParseError,
  parseAddress,
  parseClusterNodes,
  pickSlots,
  planCreate,
  slotsText,
} from "./cluster-table.js";
import { bulksOf, ConnectionError, integerOf, ReplyError, RespClient } from "./resp-client.js";

/** A failure to report to the user as is (no stack): the command cannot go on. */
export class AdminError extends Error {}

/** Where the admin commands write: lines, progress that a terminal overwrites, questions. */
export interface Out {
  line(text: string): void;
  /** A progress report: on a terminal the next one overwrites it; elsewhere some may be skipped. */
  progress(text: string): void;
  /** Asks a yes/no question; true only for "yes". */
  confirm(question: string): Promise<boolean>;
}

/** How often waits poll the nodes. */
const POLL_MS = 200;
/** How long create waits for the nodes to meet and agree (redis-cli waits without a bound). */
export const JOIN_TIMEOUT_MS = 30_000;
/** How long reshard waits for every node to learn the new owners (gossip reaches replicas). */
export const AGREE_TIMEOUT_MS = 10_000;
/** How long a failover may take before the command gives up waiting (the election goes on). */
export const FAILOVER_TIMEOUT_MS = 30_000;
/** GETKEYSINSLOT batch size (redis-cli's --cluster-pipeline default). */
export const MIGRATE_PIPELINE = 10;
/** MIGRATE's timeout (redis-cli's --cluster-timeout default). */
export const MIGRATE_TIMEOUT_MS = 60_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Turns the errors of this module's helpers into AdminErrors; anything else is a bug and propagates. */
export function asAdminError(e: unknown): AdminError | null {
  if (e instanceof AdminError) return e;
  if (e instanceof ConnectionError || e instanceof ReplyError || e instanceof ParseError) return new AdminError(e.message);
  return null;
}

/** Runs `f`, turning a ParseError (a bad argument, an unknown node) into an AdminError. */
function orAdmin<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof ParseError) throw new AdminError(e.message);
    throw e;
  }
}

function addressOrThrow(text: string): { host: string; port: number } {
  const a = parseAddress(text);
  if (a === null) throw new AdminError(`not a host:port address: ${text}`);
  return a;
}

/** Connects to every address at once; if any fails, closes the rest and says which failed. */
async function connectAll(addresses: readonly string[]): Promise<RespClient[]> {
  const results = await Promise.allSettled(addresses.map((a) => RespClient.connect(addressOrThrow(a).host, addressOrThrow(a).port)));
  const failed = results.flatMap((r) => (r.status === "rejected" ? [r.reason instanceof Error ? r.reason.message : String(r.reason)] : []));
  if (failed.length > 0) {
    for (const r of results) if (r.status === "fulfilled") r.value.close();
    throw new AdminError(failed.join("\n"));
  }
  return results.map((r) => (r as PromiseFulfilledResult<RespClient>).value);
}

/** `field:value` lines of CLUSTER INFO / INFO (CRLF-separated) as a map. */
export function infoFields(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon > 0 && !line.startsWith("#")) m.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return m;
}

async function clusterNodes(c: RespClient): Promise<NodeEntry[]> {
  return parseClusterNodes(await c.text(["CLUSTER", "NODES"]));
}

/** Polls `probe` until it returns non-null or `timeoutMs` passes (then throws AdminError with `what`). */
async function waitUntil<T>(what: string, timeoutMs: number, probe: () => Promise<T | null>, onPoll?: (elapsedMs: number) => void): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = await probe();
    if (v !== null) return v;
    const elapsed = Date.now() - start;
    if (elapsed >= timeoutMs) throw new AdminError(`${what}: not within ${(timeoutMs / 1000).toFixed(0)} s`);
    onPoll?.(elapsed);
    await sleep(POLL_MS);
  }
}

// ---------------------------------------------------------------------------------------------
// create
// ---------------------------------------------------------------------------------------------

export interface CreateOptions {
  readonly addresses: readonly string[];
  readonly replicas: number;
  /** Skip the confirmation. */
  readonly yes: boolean;
  readonly joinTimeoutMs?: number;
}

/** The IP a peer's bus must be MEET at: the node's own idea of its address, else the user's host resolved. */
async function meetAddress(me: NodeEntry, given: { host: string; port: number }): Promise<{ host: string; port: number }> {
  if (me.host !== "") return { host: me.host, port: me.port };
  // A fresh redis-server does not know its own IP yet; CLUSTER MEET takes an IP, not a name.
  const host = isIP(given.host) !== 0 ? given.host : (await lookup(given.host)).address;
  return { host, port: given.port };
}

/** Refuses a node that is not an empty, lone cluster node, with redis-cli's reasons. */
async function checkEmpty(c: RespClient): Promise<void> {
  const info = infoFields(await c.text(["INFO", "cluster"]));
  if (info.get("cluster_enabled") !== "1") throw new AdminError(`${c.address} is not configured as a cluster node (cluster-enabled yes).`);
  const cinfo = infoFields(await c.text(["CLUSTER", "INFO"]));
  const keys = integerOf(await c.ok(["DBSIZE"]));
  if (cinfo.get("cluster_known_nodes") !== "1" || keys !== 0) {
    throw new AdminError(
      `${c.address} is not empty: it already knows other nodes (cluster_known_nodes:${cinfo.get("cluster_known_nodes")}, see CLUSTER NODES) or holds keys (${keys}). ` +
        "A node joins one cluster only; give a fresh node (an empty --dir).",
    );
  }
  if (cinfo.get("cluster_slots_assigned") !== "0") throw new AdminError(`${c.address} already has slots assigned (cluster_slots_assigned:${cinfo.get("cluster_slots_assigned")}): it is already a cluster.`);
}

export async function clusterCreate(opts: CreateOptions, out: Out): Promise<void> {
  const plan = orAdmin(() => planCreate(opts.addresses, opts.replicas));
  const clients = await connectAll(opts.addresses);
  try {
    const byAddress = new Map(opts.addresses.map((a, i) => [a, clients[i] as RespClient]));
    const client = (a: string) => byAddress.get(a) as RespClient;
    for (const c of clients) await checkEmpty(c);
    const ids = new Map<string, string>();
    for (const [a, c] of byAddress) ids.set(a, myselfOf(await clusterNodes(c)).id);

    out.line(`>>> Performing hash slots allocation on ${opts.addresses.length} nodes...`);
    plan.masters.forEach((m, i) => out.line(`Master[${i}] -> Slots ${m.slots[0]} - ${m.slots[1]}`));
    for (const r of plan.replicas) out.line(`Adding replica ${r.address} to ${r.of}`);
    for (const m of plan.masters) {
      out.line(`M: ${ids.get(m.address)} ${m.address}`);
      out.line(`   slots:[${m.slots[0]}-${m.slots[1]}] (${m.slots[1] - m.slots[0] + 1} slots) master`);
    }
    for (const r of plan.replicas) {
      out.line(`S: ${ids.get(r.address)} ${r.address}`);
      out.line(`   replicates ${ids.get(r.of)}`);
    }
    if (!opts.yes && !(await out.confirm("Can I set the above configuration? (type 'yes' to accept): "))) throw new AdminError("Aborted: nothing was changed.");

    for (const m of plan.masters) await client(m.address).ok(["CLUSTER", "ADDSLOTSRANGE", String(m.slots[0]), String(m.slots[1])]);
    out.line(">>> Nodes configuration updated");
    out.line(">>> Assign a different config epoch to each node");
    for (const [i, c] of clients.entries()) await c.ok(["CLUSTER", "SET-CONFIG-EPOCH", String(i + 1)]);

    out.line(">>> Sending CLUSTER MEET messages to join the cluster");
    const first = opts.addresses[0] as string;
    const firstMe = myselfOf(await clusterNodes(client(first)));
    const meet = await meetAddress(firstMe, addressOrThrow(first));
    for (const a of opts.addresses.slice(1)) await client(a).ok(["CLUSTER", "MEET", meet.host, String(meet.port)]);

    out.line(">>> Waiting for the cluster to join");
    await waitForJoin(clients, opts.addresses.length, opts.joinTimeoutMs ?? JOIN_TIMEOUT_MS, out);

    const deadline = Date.now() + (opts.joinTimeoutMs ?? JOIN_TIMEOUT_MS);
    for (const r of plan.replicas) {
      const masterId = ids.get(r.of) as string;
      await replicate(client(r.address), masterId, deadline);
    }
    // REPLICATE spreads by gossip; wait until the first node sees every replica in place, so the
    // check below (and whoever runs next) sees the final layout.
    if (plan.replicas.length > 0) {
      await waitUntil("the replicas to show in CLUSTER NODES", Math.max(0, deadline - Date.now()), async () => {
        const table = await clusterNodes(client(first));
        return plan.replicas.every((r) => table.some((e) => e.id === ids.get(r.address) && !e.master && e.masterId === ids.get(r.of))) ? true : null;
      });
    }
  } finally {
    for (const c of clients) c.close();
  }
  const check = await clusterCheck(opts.addresses[0] as string, out);
  if (!check.ok) throw new AdminError("the new cluster does not pass the check above");
}

/** Waits until every node knows all `count` nodes (no handshakes) and they agree on the slots. */
async function waitForJoin(clients: readonly RespClient[], count: number, timeoutMs: number, out: Out): Promise<void> {
  await waitUntil(
    "the nodes to meet and agree about the slots",
    timeoutMs,
    async () => {
      const tables = await Promise.all(clients.map(clusterNodes));
      const settled = tables.every((t) => t.length === count && t.every((e) => !e.flags.has("handshake") && !e.flags.has("noaddr")));
      return settled && new Set(tables.map(configSignature)).size === 1 ? true : null;
    },
    (elapsedMs) => out.progress(`Waiting for the cluster to join: ${(elapsedMs / 1000).toFixed(0)} s (every node must know all ${count} and agree about the slots)`),
  );
}

/** CLUSTER REPLICATE, retried while the replica does not know its master yet (gossip is on the way). */
async function replicate(c: RespClient, masterId: string, deadline: number): Promise<void> {
  for (;;) {
    const r = await c.call(["CLUSTER", "REPLICATE", masterId]);
    if (r.type !== "error") return;
    if (!r.value.startsWith("ERR Unknown node") || Date.now() >= deadline) throw new ReplyError(c.address, ["CLUSTER", "REPLICATE", masterId], r.value);
    await sleep(POLL_MS);
  }
}

// ---------------------------------------------------------------------------------------------
// check
// ---------------------------------------------------------------------------------------------

/** The cluster as its nodes see it, with a connection to every node that answered. */
interface Loaded {
  /** The entry node's CLUSTER NODES. */
  readonly table: readonly NodeEntry[];
  /** Every node's own view (the entry's first), or why it could not be asked. */
  readonly views: readonly NodeView[];
  /** Connections by node id. */
  readonly clients: ReadonlyMap<string, RespClient>;
  close(): void;
}

/** Nodes a check does not try to reach: known failed, or without an address yet. */
function unreachableByFlags(e: NodeEntry): boolean {
  return e.flags.has("fail") || e.flags.has("noaddr") || e.flags.has("handshake");
}

async function loadCluster(entryAddress: string): Promise<Loaded> {
  const a = addressOrThrow(entryAddress);
  const entry = await RespClient.connect(a.host, a.port);
  const clients = new Map<string, RespClient>();
  const close = () => {
    entry.close();
    for (const c of clients.values()) c.close();
  };
  try {
    const info = infoFields(await entry.text(["INFO", "cluster"]));
    if (info.get("cluster_enabled") !== "1") throw new AdminError(`${entry.address} is not a cluster node (cluster_enabled is not 1)`);
    const table = await clusterNodes(entry);
    const me = myselfOf(table);
    clients.set(me.id, entry);
    const views: NodeView[] = [{ address: entry.address, entries: table }];
    for (const e of table) {
      if (e.myself || unreachableByFlags(e)) continue;
      try {
        const c = await RespClient.connect(e.host, e.port);
        clients.set(e.id, c);
        views.push({ address: e.address, entries: await clusterNodes(c) });
      } catch (err) {
        if (!(err instanceof ConnectionError || err instanceof ReplyError)) throw err;
        views.push({ address: e.address, error: err.message });
      }
    }
    return { table, views, clients, close };
  } catch (e) {
    close();
    throw e;
  }
}

export async function clusterCheck(entryAddress: string, out: Out): Promise<CheckResult> {
  const loaded = await loadCluster(entryAddress);
  try {
    const keys = new Map<string, number>();
    for (const e of loaded.table) {
      const c = loaded.clients.get(e.id);
      if (e.master && c !== undefined) keys.set(e.id, integerOf(await c.ok(["DBSIZE"])));
    }
    const result = checkCluster(loaded.views, keys);
    for (const e of loaded.table) if (unreachableByFlags(e) && e.id !== myselfOf(loaded.table).id) out.line(`[WARNING] Node ${e.address} is flagged ${[...e.flags].join(",")}: not asked.`);
    for (const l of result.lines) out.line(l);
    return result;
  } finally {
    loaded.close();
  }
}

// ---------------------------------------------------------------------------------------------
// reshard
// ---------------------------------------------------------------------------------------------

export interface ReshardOptions {
  readonly entry: string;
  /** A node id (or a unique prefix of 8+ characters) or host:port. */
  readonly from: string;
  readonly to: string;
  readonly slots: number;
  readonly yes: boolean;
  readonly pipeline?: number;
  readonly migrateTimeoutMs?: number;
}

export async function clusterReshard(opts: ReshardOptions, out: Out): Promise<{ readonly slots: number; readonly keys: number }> {
  if (!Number.isInteger(opts.slots) || opts.slots < 1 || opts.slots > SLOTS) throw new AdminError(`--slots must be a whole number from 1 to ${SLOTS}, not ${opts.slots}`);
  const loaded = await loadCluster(opts.entry);
  try {
    const check = checkCluster(loaded.views, new Map());
    if (!check.agree || check.openSlots.length > 0 || check.unreachable.length > 0) {
      for (const l of check.lines) if (l.startsWith("[")) out.line(l);
      throw new AdminError("Please fix your cluster problems before resharding (faultline cluster check shows them).");
    }
    const source = orAdmin(() => findNode(loaded.table, opts.from));
    const target = orAdmin(() => findNode(loaded.table, opts.to));
    if (!source.master || !target.master) throw new AdminError(`${!source.master ? source.address : target.address} is a replica: slots move between masters`);
    if (source.id === target.id) throw new AdminError("--from and --to name the same node");
    if (source.slots.size < opts.slots) throw new AdminError(`${source.address} has ${source.slots.size} slots; cannot move ${opts.slots}`);
    const sourceClient = loaded.clients.get(source.id);
    const targetClient = loaded.clients.get(target.id);
    if (sourceClient === undefined || targetClient === undefined) throw new AdminError(`cannot reach ${sourceClient === undefined ? source.address : target.address}`);
    const masters = loaded.table.filter((e) => e.master && !unreachableByFlags(e) && e.id !== source.id && e.id !== target.id);
    for (const m of masters) if (!loaded.clients.has(m.id)) throw new AdminError(`cannot reach master ${m.address}, which must learn the new owners`);

    const slots = pickSlots(source.slots, opts.slots);
    out.line(`Ready to move ${slots.length} slots.`);
    out.line(`  Source node: ${source.id} ${source.address} (${source.slots.size} slots)`);
    out.line(`  Destination node: ${target.id} ${target.address} (${target.slots.size} slots)`);
    out.line(`  Resharding plan: slots ${slotsText(SlotSet.of(slots))} from ${source.address} to ${target.address}`);
    if (!opts.yes && !(await out.confirm("Do you want to proceed with the proposed reshard plan (yes/no)? "))) throw new AdminError("Aborted: nothing was changed.");

    let keys = 0;
    const started = Date.now();
    for (const [i, slot] of slots.entries()) {
      keys += await moveSlot(slot, { source, client: sourceClient }, { target, client: targetClient }, masters.map((m) => loaded.clients.get(m.id) as RespClient), opts);
      out.progress(`Moving slots from ${source.address} to ${target.address}: ${i + 1}/${slots.length} slots, ${keys} keys`);
    }
    out.line(`Moved ${slots.length} slots (${keys} keys) from ${source.address} to ${target.address} in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
    // The masters were told; replicas learn by gossip. Wait for them, so a check run next agrees.
    const clients = [...loaded.clients.values()];
    await waitUntil("every node to agree about the new slot owners", AGREE_TIMEOUT_MS, async () => {
      const tables = await Promise.all(clients.map(clusterNodes));
      return new Set(tables.map(configSignature)).size === 1 ? true : null;
    }).then(
      () => out.line("[OK] All nodes agree about slots configuration."),
      (e: unknown) => {
        if (!(e instanceof AdminError)) throw e;
        out.line(`[WARNING] ${e.message}; gossip should still spread it (faultline cluster check shows where it stands).`);
      },
    );
    return { slots: slots.length, keys };
  } finally {
    loaded.close();
  }
}

/**
 * One slot, as redis-cli's clusterManagerMoveSlot: open it on both sides, move its keys in
 * batches until the source has none, then give it to the target — on the target first (which
 * closes the import with a new configEpoch), then the source, then every other master.
 * Returns how many keys moved.
 */
async function moveSlot(
  slot: number,
  from: { readonly source: NodeEntry; readonly client: RespClient },
  to: { readonly target: NodeEntry; readonly client: RespClient },
  others: readonly RespClient[],
  opts: ReshardOptions,
): Promise<number> {
  const s = String(slot);
  await to.client.ok(["CLUSTER", "SETSLOT", s, "IMPORTING", from.source.id]);
  await from.client.ok(["CLUSTER", "SETSLOT", s, "MIGRATING", to.target.id]);
  const pipeline = String(opts.pipeline ?? MIGRATE_PIPELINE);
  const timeoutMs = opts.migrateTimeoutMs ?? MIGRATE_TIMEOUT_MS;
  let moved = 0;
  for (;;) {
    const keys = bulksOf(await from.client.ok(["CLUSTER", "GETKEYSINSLOT", s, pipeline]));
    if (keys.length === 0) break;
    // The client's own deadline leaves MIGRATE time to report its timeout itself.
    const reply = await from.client.call(["MIGRATE", to.target.host, String(to.target.port), "", "0", String(timeoutMs), "KEYS", ...keys], timeoutMs + 5_000);
    if (reply.type === "error") {
      throw new AdminError(
        `MIGRATE of slot ${slot} from ${from.source.address} to ${to.target.address} failed: ${reply.value}\n` +
          `The slot is left open (migrating on ${from.source.address}, importing on ${to.target.address}); clients are redirected with ASK meanwhile.`,
      );
    }
    moved += keys.length;
  }
  for (const c of [to.client, from.client, ...others]) await c.ok(["CLUSTER", "SETSLOT", s, "NODE", to.target.id]);
  return moved;
}

// ---------------------------------------------------------------------------------------------
// failover
// ---------------------------------------------------------------------------------------------

export type FailoverMode = "default" | "force" | "takeover";

const FAILOVER_MODE_TEXT: Record<FailoverMode, string> = {
  default: "coordinated: its master pauses writes until this replica has caught up",
  force: "FORCE: without its master's agreement (use when the master is down), with an election",
  takeover: "TAKEOVER: without the master or an election (last resort: may lose writes and collide)",
};

export async function clusterFailover(address: string, mode: FailoverMode, out: Out, timeoutMs = FAILOVER_TIMEOUT_MS): Promise<NodeEntry> {
  const a = addressOrThrow(address);
  const c = await RespClient.connect(a.host, a.port);
  try {
    const table = await clusterNodes(c);
    const me = myselfOf(table);
    if (me.master) {
      const replicas = table.filter((e) => e.masterId === me.id);
      throw new AdminError(
        `${c.address} is a master. CLUSTER FAILOVER runs on a replica, which then takes its master's place; ` +
          (replicas.length === 0 ? "this master has no replicas." : `name one of its replicas: ${replicas.map((r) => r.address).join(", ")}`),
      );
    }
    const master = table.find((e) => e.id === me.masterId);
    const masterText = master === undefined ? me.masterId ?? "?" : master.address;
    await c.ok(mode === "default" ? ["CLUSTER", "FAILOVER"] : ["CLUSTER", "FAILOVER", mode.toUpperCase()]);
    out.line(`Asked ${c.address} (replica of ${masterText}) to fail over — ${FAILOVER_MODE_TEXT[mode]}.`);
    const promoted = await waitUntil(
      `${c.address} to become a master`,
      timeoutMs,
      async () => {
        const now = myselfOf(await clusterNodes(c));
        return now.master ? now : null;
      },
      (elapsedMs) => out.progress(`Waiting for ${c.address} to become a master: ${(elapsedMs / 1000).toFixed(0)} s`),
    ).catch((e: unknown) => {
      if (e instanceof AdminError && mode === "default") throw new AdminError(`${e.message}. A coordinated failover needs its master to answer; if ${masterText} is down, use --force.`);
      throw e;
    });
    out.line(`${c.address} is now a master with slots ${slotsText(promoted.slots) || "(none)"} (configEpoch ${promoted.configEpoch}).`);
    return promoted;
  } finally {
    c.close();
  }
}
