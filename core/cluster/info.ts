// The INFO command's text as redis-server 7.0 prints it (server.c `genRedisInfoString`).
//
// A pure function over an `InfoView` the host and the node fill. Sections come in Redis's fixed
// order whatever order the client names them in; each is "# Name\r\n" followed by "field:value\r\n"
// lines, and sections are separated by one more "\r\n" — so the text ends with its last line's
// CRLF and never with a blank line. Field names and order are 7.0's, so that redis-cli,
// redis-benchmark, ioredis (`loading:`, `role:`, `master_link_status:`) and node-redis find what
// they read. Fields Faultline cannot know carry honest constants (0, -1, "ok"); README.md
// ("Formats") lists where this differs from Redis. The reply goes out as
// `Resp.verbatim("txt", text)`, as Redis 7 sends it.

/** The version we claim, so clients that gate features on `redis_version` treat us as 7.0. */
export const REDIS_VERSION = "7.0.15";

export interface InfoView {
  readonly server: {
    /** Our own version, printed as `faultline_version` at the end of the Server section. */
    readonly faultlineVersion: string;
    /** 40 hex characters, new every start (as Redis's). */
    readonly runId: string;
    readonly tcpPort: number;
    /** The host's process id (core has no process). */
    readonly processId: number;
    /** "Linux 6.1.0 x86_64" on a real host; the simulator says what it is. */
    readonly os: string;
    readonly archBits: number;
    /** What drives the event loop ("libuv" for Node hosts). */
    readonly multiplexingApi: string;
    readonly executable: string;
    readonly configFile: string;
    readonly hz: number;
    /** Wall-clock time now in microseconds since the epoch, from the host. */
    readonly nowUs: number;
    readonly uptimeS: number;
  };
  readonly clients: {
    /** Client connections, replicas not counted (as Redis). */
    readonly connected: number;
    readonly clusterConnections: number;
    readonly max: number;
    readonly blocked: number;
    /** Clients blocked with a timeout. */
    readonly inTimeoutTable: number;
  };
  readonly memory: {
    /**
     * Memory in use as the host counts it, bytes (a Node host: V8's live heap plus the external
     * memory JS objects own). The simulator has no such figure and every byte field here is 0.
     */
    readonly usedBytes: number;
    /** The process's resident set. */
    readonly rssBytes: number;
    /** Highest `usedBytes` seen; raised to `usedBytes` if lower, as INFO does. */
    readonly peakBytes: number;
    /** In use right after start, before any data. */
    readonly startupBytes: number;
    readonly totalSystemBytes: number;
    /** 0: no limit. */
    readonly maxmemoryBytes: number;
    readonly maxmemoryPolicy: string;
    readonly replicationBacklogBytes: number;
    readonly clientsNormalBytes: number;
    readonly clientsReplicasBytes: number;
  };
  readonly persistence: {
    /** Set while a snapshot loads (a replica's full sync). */
    readonly loading: { readonly startS: number; readonly totalBytes: number; readonly loadedBytes: number } | null;
    /** Writes since start: nothing is ever saved. */
    readonly changesSinceLastSave: number;
    /** Unix seconds; the start time when nothing was saved (as Redis). */
    readonly lastSaveTimeS: number;
    /** null: appendonly no. */
    readonly aof: { readonly currentSizeBytes: number; readonly baseSizeBytes: number } | null;
  };
  readonly stats: {
    readonly connectionsReceived: number;
    readonly commandsProcessed: number;
    readonly opsPerSec: number;
    readonly netInputBytes: number;
    readonly netOutputBytes: number;
    readonly netReplInputBytes: number;
    readonly netReplOutputBytes: number;
    readonly inputKbps: number;
    readonly outputKbps: number;
    readonly inputReplKbps: number;
    readonly outputReplKbps: number;
    readonly rejectedConnections: number;
    readonly syncFull: number;
    readonly syncPartialOk: number;
    readonly syncPartialErr: number;
    readonly expiredKeys: number;
    readonly evictedKeys: number;
    readonly keyspaceHits: number;
    readonly keyspaceMisses: number;
    readonly pubsubChannels: number;
    readonly pubsubPatterns: number;
    readonly pubsubShardChannels: number;
    readonly readsProcessed: number;
    readonly writesProcessed: number;
  };
  readonly replication: InfoMaster | InfoReplica;
  readonly cpu: { readonly sysUs: number; readonly userUs: number };
  /** Error replies by code ("ERR", "MOVED", "WRONGTYPE"…). Their sum is total_error_replies. */
  readonly errors: ReadonlyMap<string, number>;
  /** db0 (cluster mode has one database). */
  readonly keyspace: { readonly keys: number; readonly expires: number; readonly avgTtlMs: number };
}

/** A replica connected to this node, as the `slaveN:` lines show it. */
export interface InfoReplicaLink {
  readonly ip: string;
  /** The port it listens on (REPLCONF listening-port). */
  readonly port: number;
  readonly state: "wait_bgsave" | "send_bulk" | "online";
  /** The offset it last acknowledged. */
  readonly offset: number;
  /** Seconds since its last ack (0 unless online, as Redis). */
  readonly lagS: number;
}

interface InfoReplicationCommon {
  /** Replicas of this node (a replica may have its own). */
  readonly replicas: readonly InfoReplicaLink[];
  readonly replid: string;
  readonly replid2: string;
  readonly masterReplOffset: number;
  /** -1 when there is no previous replication id. */
  readonly secondReplOffset: number;
  readonly backlog: { readonly active: boolean; readonly sizeBytes: number; readonly firstByteOffset: number; readonly histlen: number };
}

export interface InfoMaster extends InfoReplicationCommon {
  readonly role: "master";
}

export interface InfoReplica extends InfoReplicationCommon {
  readonly role: "replica";
  readonly masterHost: string;
  readonly masterPort: number;
  readonly linkUp: boolean;
  /** Seconds since the master last spoke; -1 without a connection. */
  readonly lastIoSecondsAgo: number;
  /** A full sync in progress: the snapshot's size and how much has arrived. */
  readonly transfer: { readonly totalBytes: number; readonly readBytes: number; readonly lastIoSecondsAgo: number } | null;
  readonly readReplOffset: number;
  readonly replOffset: number;
  /** Seconds the link has been down; -1 if it was never up. Printed only while down. */
  readonly linkDownSeconds: number;
  readonly priority: number;
  readonly readOnly: boolean;
  readonly announced: boolean;
}

// ---------------------------------------------------------------------------------------------
// Sections
// ---------------------------------------------------------------------------------------------

interface Section {
  /** The names a client may ask for it by (lower case). */
  readonly names: readonly string[];
  readonly header: string;
  readonly body: (v: InfoView) => string;
}

/** Redis's order. Commandstats and Latencystats exist so "all" has the same shape; we keep no per-command stats. */
const SECTIONS: readonly Section[] = [
  { names: ["server"], header: "Server", body: serverSection },
  { names: ["clients"], header: "Clients", body: clientsSection },
  { names: ["memory"], header: "Memory", body: memorySection },
  { names: ["persistence"], header: "Persistence", body: persistenceSection },
  { names: ["stats"], header: "Stats", body: statsSection },
  { names: ["replication"], header: "Replication", body: replicationSection },
  { names: ["cpu"], header: "CPU", body: cpuSection },
  { names: ["module_list", "modules"], header: "Modules", body: () => "" },
  { names: ["commandstats"], header: "Commandstats", body: () => "" },
  { names: ["errorstats"], header: "Errorstats", body: errorstatsSection },
  { names: ["latencystats"], header: "Latencystats", body: () => "" },
  { names: ["cluster"], header: "Cluster", body: () => "cluster_enabled:1\r\n" },
  { names: ["keyspace"], header: "Keyspace", body: keyspaceSection },
];

/** What INFO and INFO default print. */
const DEFAULT_SECTIONS: readonly string[] = ["server", "clients", "memory", "persistence", "stats", "replication", "cpu", "module_list", "errorstats", "cluster", "keyspace"];

/**
 * INFO [section ...]: no argument means "default"; "all" and "everything" print every section
 * (we have no modules, so they agree); names are ASCII case-insensitive (strcasecmp) and unknown
 * ones print nothing.
 */
export function info(sections: readonly string[], view: InfoView): string {
  let all = false;
  const wanted = new Set<string>();
  if (sections.length === 0) for (const s of DEFAULT_SECTIONS) wanted.add(s);
  for (const arg of sections) {
    const name = arg.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
    if (name === "all" || name === "everything") all = true;
    else if (name === "default") for (const s of DEFAULT_SECTIONS) wanted.add(s);
    else wanted.add(name);
  }
  let out = "";
  for (const section of SECTIONS) {
    if (!all && !section.names.some((n) => wanted.has(n))) continue;
    if (out !== "") out += "\r\n";
    out += `# ${section.header}\r\n${section.body(view)}`;
  }
  return out;
}

/** "k:v\r\n" for each pair, in order. */
function lines(pairs: readonly (readonly [string, string | number])[]): string {
  let out = "";
  for (const [k, v] of pairs) out += `${k}:${v}\r\n`;
  return out;
}

const LRU_CLOCK_MAX = (1 << 24) - 1;
const DAY_S = 24 * 3600;

function serverSection(v: InfoView): string {
  const s = v.server;
  return lines([
    ["redis_version", REDIS_VERSION],
    // Not built from Redis's sources: no git state, no build id, no compiler.
    ["redis_git_sha1", "00000000"],
    ["redis_git_dirty", 0],
    ["redis_build_id", "0"],
    ["redis_mode", "cluster"],
    ["os", s.os],
    ["arch_bits", s.archBits],
    ["monotonic_clock", "host"],
    ["multiplexing_api", s.multiplexingApi],
    ["atomicvar_api", "none"],
    ["gcc_version", "0.0.0"],
    ["process_id", s.processId],
    ["process_supervised", "no"],
    ["run_id", s.runId],
    ["tcp_port", s.tcpPort],
    ["server_time_usec", s.nowUs],
    ["uptime_in_seconds", s.uptimeS],
    ["uptime_in_days", Math.floor(s.uptimeS / DAY_S)],
    ["hz", s.hz],
    ["configured_hz", s.hz],
    ["lru_clock", Math.floor(s.nowUs / 1_000_000) & LRU_CLOCK_MAX],
    ["executable", s.executable],
    ["config_file", s.configFile],
    ["io_threads_active", 0],
    ["faultline_version", s.faultlineVersion],
  ]);
}

function clientsSection(v: InfoView): string {
  const c = v.clients;
  return lines([
    ["connected_clients", c.connected],
    ["cluster_connections", c.clusterConnections],
    ["maxclients", c.max],
    ["client_recent_max_input_buffer", 0],
    ["client_recent_max_output_buffer", 0],
    ["blocked_clients", c.blocked],
    ["tracking_clients", 0],
    ["clients_in_timeout_table", c.inTimeoutTable],
  ]);
}

/** `(float)a / b` as C computes it: both operands and the quotient rounded to single precision. */
function floatRatio(a: number, b: number): number {
  return b === 0 ? 0 : Math.fround(Math.fround(a) / Math.fround(b));
}

/** `(float)a * 100 / b`, Redis's percentages (used_memory_peak_perc, used_memory_dataset_perc). */
function floatPercent(a: number, b: number): number {
  return b === 0 ? 0 : Math.fround(Math.fround(Math.fround(a) * 100) / Math.fround(b));
}

function memorySection(v: InfoView): string {
  const m = v.memory;
  const used = m.usedBytes;
  const peak = Math.max(m.peakBytes, used);
  const overhead = m.startupBytes + m.replicationBacklogBytes + m.clientsNormalBytes + m.clientsReplicasBytes;
  const dataset = Math.max(0, used - overhead);
  const netUsage = used > m.startupBytes ? used - m.startupBytes : 1;
  // No jemalloc: the allocator figures fall back as Redis's do on a libc build — allocated is
  // what is in use, active and resident are the RSS.
  const allocated = used;
  const active = m.rssBytes;
  const resident = m.rssBytes;
  return lines([
    ["used_memory", used],
    ["used_memory_human", bytesToHuman(used)],
    ["used_memory_rss", m.rssBytes],
    ["used_memory_rss_human", bytesToHuman(m.rssBytes)],
    ["used_memory_peak", peak],
    ["used_memory_peak_human", bytesToHuman(peak)],
    ["used_memory_peak_perc", `${fixed2(floatPercent(used, peak))}%`],
    ["used_memory_overhead", overhead],
    ["used_memory_startup", m.startupBytes],
    ["used_memory_dataset", dataset],
    ["used_memory_dataset_perc", `${fixed2(floatPercent(dataset, netUsage))}%`],
    ["allocator_allocated", allocated],
    ["allocator_active", active],
    ["allocator_resident", resident],
    ["total_system_memory", m.totalSystemBytes],
    ["total_system_memory_human", bytesToHuman(m.totalSystemBytes)],
    // No Lua and no functions.
    ["used_memory_lua", 0],
    ["used_memory_vm_eval", 0],
    ["used_memory_lua_human", bytesToHuman(0)],
    ["used_memory_scripts_eval", 0],
    ["number_of_cached_scripts", 0],
    ["number_of_functions", 0],
    ["number_of_libraries", 0],
    ["used_memory_vm_functions", 0],
    ["used_memory_vm_total", 0],
    ["used_memory_vm_total_human", bytesToHuman(0)],
    ["used_memory_functions", 0],
    ["used_memory_scripts", 0],
    ["used_memory_scripts_human", bytesToHuman(0)],
    ["maxmemory", m.maxmemoryBytes],
    ["maxmemory_human", bytesToHuman(m.maxmemoryBytes)],
    ["maxmemory_policy", m.maxmemoryPolicy],
    ["allocator_frag_ratio", fixed2(floatRatio(active, allocated))],
    ["allocator_frag_bytes", active - allocated],
    ["allocator_rss_ratio", fixed2(floatRatio(resident, active))],
    ["allocator_rss_bytes", resident - active],
    ["rss_overhead_ratio", fixed2(floatRatio(m.rssBytes, resident))],
    ["rss_overhead_bytes", m.rssBytes - resident],
    ["mem_fragmentation_ratio", fixed2(floatRatio(m.rssBytes, used))],
    ["mem_fragmentation_bytes", m.rssBytes - used],
    ["mem_not_counted_for_evict", 0],
    ["mem_replication_backlog", m.replicationBacklogBytes],
    // Redis 7 replica buffers share the backlog's memory.
    ["mem_total_replication_buffers", m.replicationBacklogBytes],
    ["mem_clients_slaves", m.clientsReplicasBytes],
    ["mem_clients_normal", m.clientsNormalBytes],
    ["mem_cluster_links", 0],
    ["mem_aof_buffer", 0],
    ["mem_allocator", "v8"],
    ["active_defrag_running", 0],
    ["lazyfree_pending_objects", 0],
    ["lazyfreed_objects", 0],
  ]);
}

function persistenceSection(v: InfoView): string {
  const p = v.persistence;
  let out = lines([
    ["loading", p.loading === null ? 0 : 1],
    ["async_loading", 0],
    ["current_cow_peak", 0],
    ["current_cow_size", 0],
    ["current_cow_size_age", 0],
    ["current_fork_perc", "0.00"],
    ["current_save_keys_processed", 0],
    ["current_save_keys_total", 0],
    ["rdb_changes_since_last_save", p.changesSinceLastSave],
    ["rdb_bgsave_in_progress", 0],
    ["rdb_last_save_time", p.lastSaveTimeS],
    ["rdb_last_bgsave_status", "ok"],
    ["rdb_last_bgsave_time_sec", -1],
    ["rdb_current_bgsave_time_sec", -1],
    ["rdb_saves", 0],
    ["rdb_last_cow_size", 0],
    ["rdb_last_load_keys_expired", 0],
    ["rdb_last_load_keys_loaded", 0],
    ["aof_enabled", p.aof === null ? 0 : 1],
    ["aof_rewrite_in_progress", 0],
    ["aof_rewrite_scheduled", 0],
    ["aof_last_rewrite_time_sec", -1],
    ["aof_current_rewrite_time_sec", -1],
    ["aof_last_bgrewrite_status", "ok"],
    ["aof_rewrites", 0],
    ["aof_rewrites_consecutive_failures", 0],
    ["aof_last_write_status", "ok"],
    ["aof_last_cow_size", 0],
    ["module_fork_in_progress", 0],
    ["module_fork_last_cow_size", 0],
  ]);
  if (p.aof !== null) {
    out += lines([
      ["aof_current_size", p.aof.currentSizeBytes],
      ["aof_base_size", p.aof.baseSizeBytes],
      ["aof_pending_rewrite", 0],
      ["aof_buffer_length", 0],
      ["aof_pending_bio_fsync", 0],
      ["aof_delayed_fsync", 0],
    ]);
  }
  if (p.loading !== null) out += loadingLines(p.loading, Math.floor(v.server.nowUs / 1_000_000));
  return out;
}

/** Progress of a load; the ETA is Redis's: elapsed × remaining / (loaded + 1), or 1 in the first second. */
function loadingLines(l: { readonly startS: number; readonly totalBytes: number; readonly loadedBytes: number }, nowS: number): string {
  const perc = l.totalBytes === 0 ? 0 : (l.loadedBytes / l.totalBytes) * 100;
  const remaining = l.totalBytes === 0 ? 1 : l.totalBytes - l.loadedBytes;
  const elapsed = nowS - l.startS;
  const eta = elapsed === 0 ? 1 : Math.trunc((elapsed * remaining) / (l.loadedBytes + 1));
  return lines([
    ["loading_start_time", l.startS],
    ["loading_total_bytes", l.totalBytes],
    ["loading_rdb_used_mem", 0],
    ["loading_loaded_bytes", l.loadedBytes],
    ["loading_loaded_perc", fixed2(perc)],
    ["loading_eta_seconds", eta],
  ]);
}

function statsSection(v: InfoView): string {
  const s = v.stats;
  let errorReplies = 0;
  for (const n of v.errors.values()) errorReplies += n;
  return lines([
    ["total_connections_received", s.connectionsReceived],
    ["total_commands_processed", s.commandsProcessed],
    ["instantaneous_ops_per_sec", s.opsPerSec],
    ["total_net_input_bytes", s.netInputBytes],
    ["total_net_output_bytes", s.netOutputBytes],
    ["total_net_repl_input_bytes", s.netReplInputBytes],
    ["total_net_repl_output_bytes", s.netReplOutputBytes],
    ["instantaneous_input_kbps", fixed2(s.inputKbps)],
    ["instantaneous_output_kbps", fixed2(s.outputKbps)],
    ["instantaneous_input_repl_kbps", fixed2(s.inputReplKbps)],
    ["instantaneous_output_repl_kbps", fixed2(s.outputReplKbps)],
    ["rejected_connections", s.rejectedConnections],
    ["sync_full", s.syncFull],
    ["sync_partial_ok", s.syncPartialOk],
    ["sync_partial_err", s.syncPartialErr],
    ["expired_keys", s.expiredKeys],
    ["expired_stale_perc", "0.00"],
    ["expired_time_cap_reached_count", 0],
    ["expire_cycle_cpu_milliseconds", 0],
    ["evicted_keys", s.evictedKeys],
    ["evicted_clients", 0],
    ["total_eviction_exceeded_time", 0],
    ["current_eviction_exceeded_time", 0],
    ["keyspace_hits", s.keyspaceHits],
    ["keyspace_misses", s.keyspaceMisses],
    ["pubsub_channels", s.pubsubChannels],
    ["pubsub_patterns", s.pubsubPatterns],
    ["pubsubshard_channels", s.pubsubShardChannels],
    ["latest_fork_usec", 0],
    ["total_forks", 0],
    ["migrate_cached_sockets", 0],
    ["slave_expires_tracked_keys", 0],
    ["active_defrag_hits", 0],
    ["active_defrag_misses", 0],
    ["active_defrag_key_hits", 0],
    ["active_defrag_key_misses", 0],
    ["total_active_defrag_time", 0],
    ["current_active_defrag_time", 0],
    ["tracking_total_keys", 0],
    ["tracking_total_items", 0],
    ["tracking_total_prefixes", 0],
    ["unexpected_error_replies", 0],
    ["total_error_replies", errorReplies],
    ["dump_payload_sanitizations", 0],
    ["total_reads_processed", s.readsProcessed],
    ["total_writes_processed", s.writesProcessed],
    ["io_threaded_reads_processed", 0],
    ["io_threaded_writes_processed", 0],
    ["reply_buffer_shrinks", 0],
    ["reply_buffer_expands", 0],
  ]);
}

function replicationSection(v: InfoView): string {
  const r = v.replication;
  let out = `role:${r.role === "master" ? "master" : "slave"}\r\n`;
  if (r.role === "replica") out += replicaLines(r);
  out += `connected_slaves:${r.replicas.length}\r\n`;
  r.replicas.forEach((l, i) => {
    out += `slave${i}:ip=${l.ip},port=${l.port},state=${l.state},offset=${l.offset},lag=${l.lagS}\r\n`;
  });
  return (
    out +
    lines([
      ["master_failover_state", "no-failover"],
      ["master_replid", r.replid],
      ["master_replid2", r.replid2],
      ["master_repl_offset", r.masterReplOffset],
      ["second_repl_offset", r.secondReplOffset],
      ["repl_backlog_active", r.backlog.active ? 1 : 0],
      ["repl_backlog_size", r.backlog.sizeBytes],
      ["repl_backlog_first_byte_offset", r.backlog.firstByteOffset],
      ["repl_backlog_histlen", r.backlog.histlen],
    ])
  );
}

/** The replica-only block between role and connected_slaves. */
function replicaLines(r: InfoReplica): string {
  let out = lines([
    ["master_host", r.masterHost],
    ["master_port", r.masterPort],
    ["master_link_status", r.linkUp ? "up" : "down"],
    ["master_last_io_seconds_ago", r.lastIoSecondsAgo],
    ["master_sync_in_progress", r.transfer === null ? 0 : 1],
    ["slave_read_repl_offset", r.readReplOffset],
    ["slave_repl_offset", r.replOffset],
  ]);
  const t = r.transfer;
  if (t !== null) {
    out += lines([
      ["master_sync_total_bytes", t.totalBytes],
      ["master_sync_read_bytes", t.readBytes],
      ["master_sync_left_bytes", t.totalBytes - t.readBytes],
      ["master_sync_perc", fixed2(t.totalBytes === 0 ? 0 : (t.readBytes / t.totalBytes) * 100)],
      ["master_sync_last_io_seconds_ago", t.lastIoSecondsAgo],
    ]);
  }
  if (!r.linkUp) out += `master_link_down_since_seconds:${r.linkDownSeconds}\r\n`;
  return (
    out +
    lines([
      ["slave_priority", r.priority],
      ["slave_read_only", r.readOnly ? 1 : 0],
      ["replica_announced", r.announced ? 1 : 0],
    ])
  );
}

/** "%ld.%06ld" of a CPU time in microseconds. */
function cpuSeconds(us: number): string {
  const whole = Math.floor(us / 1_000_000);
  return `${whole}.${String(Math.floor(us) - whole * 1_000_000).padStart(6, "0")}`;
}

function cpuSection(v: InfoView): string {
  return lines([
    ["used_cpu_sys", cpuSeconds(v.cpu.sysUs)],
    ["used_cpu_user", cpuSeconds(v.cpu.userUs)],
    ["used_cpu_sys_children", "0.000000"],
    ["used_cpu_user_children", "0.000000"],
  ]);
}

/** One line per error code, in byte order (Redis keeps them in a radix tree). */
function errorstatsSection(v: InfoView): string {
  const codes = [...v.errors.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  let out = "";
  for (const code of codes) out += `errorstat_${code}:count=${v.errors.get(code) as number}\r\n`;
  return out;
}

function keyspaceSection(v: InfoView): string {
  const k = v.keyspace;
  return k.keys === 0 && k.expires === 0 ? "" : `db0:keys=${k.keys},expires=${k.expires},avg_ttl=${k.avgTtlMs}\r\n`;
}

// ---------------------------------------------------------------------------------------------
// Number formats
// ---------------------------------------------------------------------------------------------

/**
 * printf("%.2f", x) as glibc prints it. `toFixed` agrees except on exact ties, which it rounds
 * up while glibc rounds to even: a double is exactly halfway at two decimals only when its
 * fraction is an odd number of eighths (1.125 is "1.12" in C, "1.13" from toFixed).
 */
export function fixed2(x: number): string {
  const eighths = x * 8;
  if (!Number.isInteger(eighths) || eighths % 2 === 0) return x.toFixed(2);
  const sign = x < 0 ? "-" : "";
  const lower = Math.floor(Math.abs(x) * 100);
  const hundredths = lower % 2 === 0 ? lower : lower + 1;
  return `${sign}${Math.floor(hundredths / 100)}.${String(hundredths % 100).padStart(2, "0")}`;
}

const UNITS = ["K", "M", "G", "T", "P"] as const;

/** Redis's bytesToHuman: "999B", "1.50K", "6.49M", … up to petabytes. */
export function bytesToHuman(n: number): string {
  if (n < 1024) return `${n}B`;
  let scale = 1024;
  for (const unit of UNITS) {
    if (n < scale * 1024) return `${fixed2(n / scale)}${unit}`;
    scale *= 1024;
  }
  return `${n}B`;
}
