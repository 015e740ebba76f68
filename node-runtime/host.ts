// Runs one ClusterNode for real: wall clock, real timers, files in --dir, a client port and the
// cluster bus on TCP. The node is the same object the simulator hosts; every input goes through
// a NodeRunner, which holds sends, replies and traces gated on a persist until the disk says it
// is done (the durable-before-visible rule).
//
// Clock: Date.now(), as Redis's mstime() reads the wall clock. Timers: one setTimeout per name,
// replaced when re-armed. Inputs arrive one at a time (the event loop serializes them), and the
// effects of each step are carried out in order before the next input.

import { mkdirSync } from "node:fs";
import { totalmem } from "node:os";
import { setFlagsFromString } from "node:v8";
import { assertNever, type Effect, type Input, type NodeId } from "../core/machine.js";
import { NodeRunner } from "../core/runner.js";
import { isAppendedFile } from "../core/cluster/aof.js";
import { ClusterNode, type HostMemory } from "../core/cluster/node.js";
import type { ClusterConfig, ClusterMsg, ClusterRep, ClusterReq } from "../core/cluster/types.js";
import type { Json } from "../core/trace.js";
import { Bus, type BusSecurity } from "./bus.js";
import { CLIENT_LIMITS_DEFAULT, ClientPort, type ClientPortOptions } from "./clients.js";
import { Disk, recover } from "./disk.js";
import type { NodeLog } from "./log.js";
import { CryptoPrng } from "./prng.js";
import { MachineTimers } from "./timers.js";

/** setTimeout's longest delay; a later deadline is re-armed when this one fires. */

export interface HostOptions {
  /** The node's address: its client "ip:port", as CLUSTER MEET and MOVED name it. */
  readonly address: NodeId;
  readonly bind: string;
  readonly port: number;
  readonly busPort: number;
  readonly dir: string;
  /** File names in `dir` that are not the node's (its log file, when it is there). */
  readonly ignoreFiles: ReadonlySet<string>;
  readonly config: ClusterConfig;
  /** The TLS port and client limits (clients.ts); default: no TLS port, redis-server's limits. */
  readonly clientPort?: Omit<ClientPortOptions, "clusterConnections">;
  /** How bus links authenticate (bus.ts); default: plain TCP, no secret. */
  readonly busSecurity?: BusSecurity;
  readonly log: NodeLog;
  /** A persist failed: the node cannot keep its promises. The CLI exits. */
  readonly onFatal: (why: string) => void;
}

type Fx = Effect<ClusterMsg, ClusterRep>;

/**
 * The old generation's growth cap, in percent past what survived the last full GC, once the heap
 * is large. By default V8 lets it grow up to 4× before collecting again (the factor that keeps
 * GC time low). For a small heap that is right: a capped 10 MB heap collects four times as often
 * under redis-benchmark (6 → 25 full GCs for 1.2M requests, +15% server CPU). For a node holding
 * a large dataset the garbage is real memory: every write's replication-backlog entry and every
 * overwritten value live long enough to be promoted, then die in the old generation, and up to
 * three times the data can pile up, uncollected while the node is idle. Measured with bench
 * `real-memory` (1M SETs): RSS growth 314–340 → 251–257 bytes per key at 50%.
 */
const HEAP_GROWING_PERCENT = 50;
/** Heap in use from which the cap applies, and below which it is lifted again (hysteresis). */
const HEAP_CAP_FROM_BYTES = 64 * 2 ** 20;
const HEAP_CAP_UNTIL_BYTES = 32 * 2 ** 20;

/** Whether the cap should apply to a heap of `heapUsedBytes`, given whether it applies now. */
export function heapGrowthCapped(cappedNow: boolean, heapUsedBytes: number): boolean {
  return heapUsedBytes >= (cappedNow ? HEAP_CAP_UNTIL_BYTES : HEAP_CAP_FROM_BYTES);
}

/** Whether this process runs with the cap (V8 flags are process-wide). */
let heapCapped = false;

/**
 * Caps or uncaps heap growth for the heap now in use. V8 reads `--heap-growing-percent` whenever
 * it sets the next collection's limit (0: its own choice), so changing it while the VM runs takes
 * effect at the next full GC; Node's command line could not pass it (NODE_OPTIONS refuses it).
 */
function capHeapGrowthFor(heapUsedBytes: number): void {
  const capped = heapGrowthCapped(heapCapped, heapUsedBytes);
  if (capped === heapCapped) return;
  heapCapped = capped;
  setFlagsFromString(`--heap-growing-percent=${capped ? HEAP_GROWING_PERCENT : 0}`);
}

/**
 * INFO memory's figures for this process. used_memory is what V8 holds live on its heap plus the
 * memory outside it that JS objects own (Buffers, sockets' ArrayBuffers), the nearest thing to
 * Redis's zmalloc count; the heap's unused pages and the process's code show only in the RSS.
 * The node reads them on every cron tick, which is also when the heap growth cap is revisited.
 */
function hostMemory(): HostMemory {
  const m = process.memoryUsage();
  capHeapGrowthFor(m.heapUsed);
  return { usedBytes: m.heapUsed + m.external, rssBytes: m.rss, totalSystemBytes: totalmem() };
}

export class NodeHost {
  private readonly node: ClusterNode;
  private readonly runner: NodeRunner<ClusterMsg, ClusterReq, ClusterRep>;
  private readonly timers = new MachineTimers((name) => this.input({ kind: "timer", name }));
  private readonly disk: Disk;
  private readonly clients: ClientPort;
  private readonly bus: Bus;
  private readonly log: NodeLog;
  /** Inputs are taken only between start and stop (persist completions also while stopping). */
  private phase: "created" | "running" | "stopping" = "created";

  constructor(private readonly options: HostOptions) {
    this.log = options.log;
    this.node = new ClusterNode({ id: options.address, peers: [options.address], config: options.config, rng: new CryptoPrng(), hostMemory });
    this.runner = new NodeRunner(this.node);
    this.disk = new Disk(
      options.dir,
      (id) => this.input({ kind: "persisted", id }),
      (req, e) => options.onFatal(`cannot write ${req.file} in ${options.dir}: ${e instanceof Error ? e.message : String(e)}`),
    );
    this.clients = new ClientPort(
      {
        request: (client, reqId, args, nowMs) => this.input({ kind: "client", client, reqId, req: { cmd: args } }, nowMs),
        closed: (client) => this.input({ kind: "client-closed", client }),
        protocolOf: (client) => this.node.clientProtocol(client),
        authRequired: (client) => this.node.clientAuthRequired(client),
        subscribed: (client) => this.node.clientSubscribed(client),
        blocked: (client) => this.node.clientBlocked(client),
      },
      this.log,
      { ...(options.clientPort ?? { limits: CLIENT_LIMITS_DEFAULT, tls: null }), clusterConnections: () => this.bus.connectionCount },
    );
    this.bus = new Bus(options.address, Math.max(100, options.config.nodeTimeoutMs), (from, msg) => this.input({ kind: "message", from, msg }), this.log, options.busSecurity);
  }

  /**
   * Reads the disk (creating the directory if needed), binds both ports, then starts the node.
   * Throws RecoveryError for a directory that is not ours, and the system error (EADDRINUSE,
   * EACCES…) for a port or directory it cannot use.
   */
  async start(): Promise<void> {
    mkdirSync(this.options.dir, { recursive: true });
    // A torn or damaged AOF tail is cut (and truncated on disk): logged as a warn with the bytes dropped and why.
    const { recovered, reports } = recover(this.options.dir, this.options.ignoreFiles, isAppendedFile);
    for (const r of reports) {
      this.log.event(r.droppedBytes > 0 ? "warn" : "info", "recovered-file", { file: r.file, records: r.records, droppedBytes: r.droppedBytes, cut: r.cutReason });
    }
    await this.bus.listen(this.options.bind, this.options.busPort);
    await this.clients.listen(this.options.bind, this.options.port);
    const tlsPort = this.options.clientPort?.tls?.port ?? null;
    this.log.event("info", "listening", { client: this.options.port === 0 ? null : `${this.options.bind}:${this.options.port}`, tls: tlsPort === null ? null : `${this.options.bind}:${tlsPort}`, bus: `${this.options.bind}:${this.options.busPort}`, dir: this.options.dir, fresh: recovered === null });
    this.phase = "running";
    this.input({ kind: "start", recovered });
  }

  /**
   * Graceful stop: no new connections or inputs, pending persists finish (their completions still
   * release what waited on them), connections are closed, the log is flushed.
   */
  async stop(): Promise<void> {
    if (this.phase === "stopping") return;
    this.phase = "stopping";
    this.log.event("info", "shutdown", { pendingPersists: this.disk.pending });
    this.clients.stopAccepting();
    this.bus.stopAccepting();
    this.timers.stop();
    await this.disk.close();
    await this.clients.closeAll();
    this.bus.close();
    this.log.event("info", "stopped");
    this.log.flush();
  }

  private input(input: Input<ClusterMsg, ClusterReq>, nowMs = Date.now()): void {
    if (this.phase === "created") return;
    if (this.phase === "stopping" && input.kind !== "persisted") return;
    const effects = this.runner.step(input, nowMs);
    for (const e of effects) this.apply(e, nowMs);
  }

  private apply(e: Fx, nowMs: number): void {
    switch (e.kind) {
      case "send":
        this.bus.send(e.to, e.msg);
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
      case "reply":
      case "push":
        this.clients.write(e.client, e.value);
        break;
      case "close":
        this.clients.close(e.client);
        break;
      case "trace":
        this.log.trace(nowMs, e.event as Readonly<Record<string, Json>>);
        break;
      default:
        assertNever(e, "effect");
    }
  }
}
