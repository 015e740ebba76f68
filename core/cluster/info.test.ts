// INFO: sections and field order as redis-server 7.0 prints them, checked against text written
// out by hand, and read back the way ioredis reads it.

import { describe, expect, it } from "vitest";
import { bytesToHuman, fixed2, info, type InfoMaster, type InfoReplica, type InfoView } from "./info.js";

const RUN_ID = "0ac0070dda2e2a4eb14e72fce389eb21f2ed54ef";
const REPLID = "e215b1ecdd51cca67add77c412b659607551ccad";
const ZERO_ID = "0000000000000000000000000000000000000000";

const MASTER: InfoMaster = {
  role: "master",
  replicas: [
    { ip: "127.0.0.1", port: 30004, state: "online", offset: 1500, lagS: 0 },
    { ip: "127.0.0.1", port: 30007, state: "wait_bgsave", offset: 0, lagS: 0 },
  ],
  replid: REPLID,
  replid2: ZERO_ID,
  masterReplOffset: 1520,
  secondReplOffset: -1,
  backlog: { active: true, sizeBytes: 1048576, firstByteOffset: 1, histlen: 1520 },
};

const REPLICA: InfoReplica = {
  role: "replica",
  masterHost: "127.0.0.1",
  masterPort: 30001,
  linkUp: true,
  lastIoSecondsAgo: 1,
  transfer: null,
  readReplOffset: 1520,
  replOffset: 1500,
  linkDownSeconds: -1,
  priority: 100,
  readOnly: true,
  announced: true,
  replicas: [],
  replid: REPLID,
  replid2: ZERO_ID,
  masterReplOffset: 1500,
  secondReplOffset: -1,
  backlog: { active: true, sizeBytes: 1048576, firstByteOffset: 1, histlen: 1500 },
};

/** Memory figures from a real 7.0.11 INFO (used, peak, startup, dataset), so the percentages can be checked against Redis's. */
function view(over: Partial<InfoView> = {}): InfoView {
  return {
    server: {
      faultlineVersion: "0.1.0",
      runId: RUN_ID,
      tcpPort: 30001,
      processId: 694,
      os: "Linux 6.1.0 x86_64",
      archBits: 64,
      multiplexingApi: "libuv",
      executable: "/usr/bin/faultline",
      configFile: "",
      hz: 10,
      nowUs: 1685833200650764,
      uptimeS: 200000,
    },
    clients: { connected: 3, clusterConnections: 10, max: 10000, blocked: 1, inTimeoutTable: 1 },
    memory: {
      usedBytes: 6809872,
      rssBytes: 21086208,
      peakBytes: 6986944,
      startupBytes: 862080,
      totalSystemBytes: 4071378944,
      maxmemoryBytes: 0,
      maxmemoryPolicy: "noeviction",
      replicationBacklogBytes: 0,
      clientsNormalBytes: 1064904,
      clientsReplicasBytes: 0,
    },
    persistence: { loading: null, changesSinceLastSave: 42, lastSaveTimeS: 1685633200, aof: null },
    stats: {
      connectionsReceived: 5,
      commandsProcessed: 161,
      opsPerSec: 7,
      netInputBytes: 4949,
      netOutputBytes: 585703,
      netReplInputBytes: 0,
      netReplOutputBytes: 1520,
      inputKbps: 0.125,
      outputKbps: 1.375,
      inputReplKbps: 0,
      outputReplKbps: 0.5,
      rejectedConnections: 0,
      syncFull: 1,
      syncPartialOk: 1,
      syncPartialErr: 0,
      expiredKeys: 9,
      evictedKeys: 0,
      keyspaceHits: 44,
      keyspaceMisses: 3,
      pubsubChannels: 2,
      pubsubPatterns: 1,
      pubsubShardChannels: 4,
      readsProcessed: 103,
      writesProcessed: 104,
    },
    replication: MASTER,
    cpu: { sysUs: 10073955, userUs: 79581 },
    errors: new Map([
      ["WRONGTYPE", 2],
      ["ERR", 3],
      ["MOVED", 5],
    ]),
    keyspace: { keys: 20005, expires: 3, avgTtlMs: 12345 },
    ...over,
  };
}

const crlf = (ls: readonly string[]): string => ls.map((l) => `${l}\r\n`).join("");

const SERVER = [
  "# Server",
  "redis_version:7.0.15",
  "redis_git_sha1:00000000",
  "redis_git_dirty:0",
  "redis_build_id:0",
  "redis_mode:cluster",
  "os:Linux 6.1.0 x86_64",
  "arch_bits:64",
  "monotonic_clock:host",
  "multiplexing_api:libuv",
  "atomicvar_api:none",
  "gcc_version:0.0.0",
  "process_id:694",
  "process_supervised:no",
  `run_id:${RUN_ID}`,
  "tcp_port:30001",
  "server_time_usec:1685833200650764",
  "uptime_in_seconds:200000",
  "uptime_in_days:2",
  "hz:10",
  "configured_hz:10",
  "lru_clock:8111600",
  "executable:/usr/bin/faultline",
  "config_file:",
  "io_threads_active:0",
  "faultline_version:0.1.0",
];

const CLIENTS = [
  "# Clients",
  "connected_clients:3",
  "cluster_connections:10",
  "maxclients:10000",
  "client_recent_max_input_buffer:0",
  "client_recent_max_output_buffer:0",
  "blocked_clients:1",
  "tracking_clients:0",
  "clients_in_timeout_table:1",
];

const MEMORY = [
  "# Memory",
  "used_memory:6809872",
  "used_memory_human:6.49M",
  "used_memory_rss:21086208",
  "used_memory_rss_human:20.11M",
  "used_memory_peak:6986944",
  "used_memory_peak_human:6.66M",
  "used_memory_peak_perc:97.47%",
  "used_memory_overhead:1926984",
  "used_memory_startup:862080",
  "used_memory_dataset:4882888",
  "used_memory_dataset_perc:82.10%",
  "allocator_allocated:6809872",
  "allocator_active:21086208",
  "allocator_resident:21086208",
  "total_system_memory:4071378944",
  "total_system_memory_human:3.79G",
  "used_memory_lua:0",
  "used_memory_vm_eval:0",
  "used_memory_lua_human:0B",
  "used_memory_scripts_eval:0",
  "number_of_cached_scripts:0",
  "number_of_functions:0",
  "number_of_libraries:0",
  "used_memory_vm_functions:0",
  "used_memory_vm_total:0",
  "used_memory_vm_total_human:0B",
  "used_memory_functions:0",
  "used_memory_scripts:0",
  "used_memory_scripts_human:0B",
  "maxmemory:0",
  "maxmemory_human:0B",
  "maxmemory_policy:noeviction",
  "allocator_frag_ratio:3.10",
  "allocator_frag_bytes:14276336",
  "allocator_rss_ratio:1.00",
  "allocator_rss_bytes:0",
  "rss_overhead_ratio:1.00",
  "rss_overhead_bytes:0",
  "mem_fragmentation_ratio:3.10",
  "mem_fragmentation_bytes:14276336",
  "mem_not_counted_for_evict:0",
  "mem_replication_backlog:0",
  "mem_total_replication_buffers:0",
  "mem_clients_slaves:0",
  "mem_clients_normal:1064904",
  "mem_cluster_links:0",
  "mem_aof_buffer:0",
  "mem_allocator:v8",
  "active_defrag_running:0",
  "lazyfree_pending_objects:0",
  "lazyfreed_objects:0",
];

const PERSISTENCE = [
  "# Persistence",
  "loading:0",
  "async_loading:0",
  "current_cow_peak:0",
  "current_cow_size:0",
  "current_cow_size_age:0",
  "current_fork_perc:0.00",
  "current_save_keys_processed:0",
  "current_save_keys_total:0",
  "rdb_changes_since_last_save:42",
  "rdb_bgsave_in_progress:0",
  "rdb_last_save_time:1685633200",
  "rdb_last_bgsave_status:ok",
  "rdb_last_bgsave_time_sec:-1",
  "rdb_current_bgsave_time_sec:-1",
  "rdb_saves:0",
  "rdb_last_cow_size:0",
  "rdb_last_load_keys_expired:0",
  "rdb_last_load_keys_loaded:0",
  "aof_enabled:0",
  "aof_rewrite_in_progress:0",
  "aof_rewrite_scheduled:0",
  "aof_last_rewrite_time_sec:-1",
  "aof_current_rewrite_time_sec:-1",
  "aof_last_bgrewrite_status:ok",
  "aof_rewrites:0",
  "aof_rewrites_consecutive_failures:0",
  "aof_last_write_status:ok",
  "aof_last_cow_size:0",
  "module_fork_in_progress:0",
  "module_fork_last_cow_size:0",
];

const STATS = [
  "# Stats",
  "total_connections_received:5",
  "total_commands_processed:161",
  "instantaneous_ops_per_sec:7",
  "total_net_input_bytes:4949",
  "total_net_output_bytes:585703",
  "total_net_repl_input_bytes:0",
  "total_net_repl_output_bytes:1520",
  "instantaneous_input_kbps:0.12",
  "instantaneous_output_kbps:1.38",
  "instantaneous_input_repl_kbps:0.00",
  "instantaneous_output_repl_kbps:0.50",
  "rejected_connections:0",
  "sync_full:1",
  "sync_partial_ok:1",
  "sync_partial_err:0",
  "expired_keys:9",
  "expired_stale_perc:0.00",
  "expired_time_cap_reached_count:0",
  "expire_cycle_cpu_milliseconds:0",
  "evicted_keys:0",
  "evicted_clients:0",
  "total_eviction_exceeded_time:0",
  "current_eviction_exceeded_time:0",
  "keyspace_hits:44",
  "keyspace_misses:3",
  "pubsub_channels:2",
  "pubsub_patterns:1",
  "pubsubshard_channels:4",
  "latest_fork_usec:0",
  "total_forks:0",
  "migrate_cached_sockets:0",
  "slave_expires_tracked_keys:0",
  "active_defrag_hits:0",
  "active_defrag_misses:0",
  "active_defrag_key_hits:0",
  "active_defrag_key_misses:0",
  "total_active_defrag_time:0",
  "current_active_defrag_time:0",
  "tracking_total_keys:0",
  "tracking_total_items:0",
  "tracking_total_prefixes:0",
  "unexpected_error_replies:0",
  "total_error_replies:10",
  "dump_payload_sanitizations:0",
  "total_reads_processed:103",
  "total_writes_processed:104",
  "io_threaded_reads_processed:0",
  "io_threaded_writes_processed:0",
  "reply_buffer_shrinks:0",
  "reply_buffer_expands:0",
];

const REPLICATION_MASTER = [
  "# Replication",
  "role:master",
  "connected_slaves:2",
  "slave0:ip=127.0.0.1,port=30004,state=online,offset=1500,lag=0",
  "slave1:ip=127.0.0.1,port=30007,state=wait_bgsave,offset=0,lag=0",
  "master_failover_state:no-failover",
  `master_replid:${REPLID}`,
  `master_replid2:${ZERO_ID}`,
  "master_repl_offset:1520",
  "second_repl_offset:-1",
  "repl_backlog_active:1",
  "repl_backlog_size:1048576",
  "repl_backlog_first_byte_offset:1",
  "repl_backlog_histlen:1520",
];

const REPLICATION_REPLICA = [
  "# Replication",
  "role:slave",
  "master_host:127.0.0.1",
  "master_port:30001",
  "master_link_status:up",
  "master_last_io_seconds_ago:1",
  "master_sync_in_progress:0",
  "slave_read_repl_offset:1520",
  "slave_repl_offset:1500",
  "slave_priority:100",
  "slave_read_only:1",
  "replica_announced:1",
  "connected_slaves:0",
  "master_failover_state:no-failover",
  `master_replid:${REPLID}`,
  `master_replid2:${ZERO_ID}`,
  "master_repl_offset:1500",
  "second_repl_offset:-1",
  "repl_backlog_active:1",
  "repl_backlog_size:1048576",
  "repl_backlog_first_byte_offset:1",
  "repl_backlog_histlen:1500",
];

const CPU = ["# CPU", "used_cpu_sys:10.073955", "used_cpu_user:0.079581", "used_cpu_sys_children:0.000000", "used_cpu_user_children:0.000000"];
const MODULES = ["# Modules"];
const ERRORSTATS = ["# Errorstats", "errorstat_ERR:count=3", "errorstat_MOVED:count=5", "errorstat_WRONGTYPE:count=2"];
const CLUSTER = ["# Cluster", "cluster_enabled:1"];
const KEYSPACE = ["# Keyspace", "db0:keys=20005,expires=3,avg_ttl=12345"];

/** Sections joined as Redis joins them: one CRLF between sections, none after the last. */
const joined = (...sections: (readonly string[])[]): string => sections.map(crlf).join("\r\n");

describe("INFO text", () => {
  it("a master, default sections: every field in 7.0's order", () => {
    expect(info([], view())).toBe(joined(SERVER, CLIENTS, MEMORY, PERSISTENCE, STATS, REPLICATION_MASTER, CPU, MODULES, ERRORSTATS, CLUSTER, KEYSPACE));
  });

  it("a replica's Replication section", () => {
    expect(info(["replication"], view({ replication: REPLICA }))).toBe(crlf(REPLICATION_REPLICA));
  });

  it("a replica whose link is down, mid full sync, with a chained replica", () => {
    const r: InfoReplica = {
      ...REPLICA,
      linkUp: false,
      lastIoSecondsAgo: -1,
      transfer: { totalBytes: 1024, readBytes: 128, lastIoSecondsAgo: 2 },
      linkDownSeconds: 17,
      readOnly: false,
      announced: false,
      priority: 0,
      replicas: [{ ip: "10.0.0.9", port: 6379, state: "send_bulk", offset: 0, lagS: 0 }],
    };
    expect(info(["replication"], view({ replication: r }))).toBe(
      crlf([
        "# Replication",
        "role:slave",
        "master_host:127.0.0.1",
        "master_port:30001",
        "master_link_status:down",
        "master_last_io_seconds_ago:-1",
        "master_sync_in_progress:1",
        "slave_read_repl_offset:1520",
        "slave_repl_offset:1500",
        "master_sync_total_bytes:1024",
        "master_sync_read_bytes:128",
        "master_sync_left_bytes:896",
        "master_sync_perc:12.50",
        "master_sync_last_io_seconds_ago:2",
        "master_link_down_since_seconds:17",
        "slave_priority:0",
        "slave_read_only:0",
        "replica_announced:0",
        "connected_slaves:1",
        "slave0:ip=10.0.0.9,port=6379,state=send_bulk,offset=0,lag=0",
        "master_failover_state:no-failover",
        `master_replid:${REPLID}`,
        `master_replid2:${ZERO_ID}`,
        "master_repl_offset:1500",
        "second_repl_offset:-1",
        "repl_backlog_active:1",
        "repl_backlog_size:1048576",
        "repl_backlog_first_byte_offset:1",
        "repl_backlog_histlen:1500",
      ]),
    );
  });

  it("loading and AOF add their lines after the fixed block, AOF first", () => {
    const text = info(
      ["persistence"],
      view({
        persistence: {
          loading: { startS: 1685833190, totalBytes: 1000, loadedBytes: 250 },
          changesSinceLastSave: 0,
          lastSaveTimeS: 1685833190,
          aof: { currentSizeBytes: 4096, baseSizeBytes: 1024 },
        },
      }),
    );
    const ls = text.split("\r\n");
    expect(ls[1]).toBe("loading:1");
    expect(ls).toContain("aof_enabled:1");
    // elapsed 10 s, 750 bytes to go, 251 loaded (+1): eta = 10 * 750 / 251 = 29.
    expect(ls.slice(ls.indexOf("module_fork_last_cow_size:0") + 1)).toEqual([
      "aof_current_size:4096",
      "aof_base_size:1024",
      "aof_pending_rewrite:0",
      "aof_buffer_length:0",
      "aof_pending_bio_fsync:0",
      "aof_delayed_fsync:0",
      "loading_start_time:1685833190",
      "loading_total_bytes:1000",
      "loading_rdb_used_mem:0",
      "loading_loaded_bytes:250",
      "loading_loaded_perc:25.00",
      "loading_eta_seconds:29",
      "",
    ]);
  });

  it.each<[string, InfoView["keyspace"], string]>([
    ["keys and expires", { keys: 20005, expires: 3, avgTtlMs: 12345 }, "# Keyspace\r\ndb0:keys=20005,expires=3,avg_ttl=12345\r\n"],
    ["no TTLs", { keys: 1, expires: 0, avgTtlMs: 0 }, "# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n"],
    ["empty: the header alone", { keys: 0, expires: 0, avgTtlMs: 0 }, "# Keyspace\r\n"],
  ])("keyspace: %s", (_what, keyspace, expected) => {
    expect(info(["keyspace"], view({ keyspace }))).toBe(expected);
  });

  it("errorstats: byte order, header alone when there were no errors", () => {
    const errors = new Map([
      ["WRONGTYPE", 1],
      ["CLUSTERDOWN", 2],
      ["ASK", 3],
      ["Zeta", 4],
      ["ERR", 5],
    ]);
    expect(info(["errorstats"], view({ errors }))).toBe(
      crlf(["# Errorstats", "errorstat_ASK:count=3", "errorstat_CLUSTERDOWN:count=2", "errorstat_ERR:count=5", "errorstat_WRONGTYPE:count=1", "errorstat_Zeta:count=4"]),
    );
    expect(info(["errorstats"], view({ errors: new Map() }))).toBe("# Errorstats\r\n");
    expect(info(["stats"], view({ errors: new Map() }))).toContain("\r\ntotal_error_replies:0\r\n");
  });

  it("memory percentages are computed in single precision, as Redis's float arithmetic", () => {
    const m = { ...view().memory, usedBytes: 995653, peakBytes: 1000003 };
    // In double precision this is 99.5650…% → "99.57"; in float it is 99.5649…% → "99.56".
    expect(info(["memory"], view({ memory: m }))).toContain("\r\nused_memory_peak_perc:99.56%\r\n");
  });

  it("the peak is raised to what is in use", () => {
    const m = { ...view().memory, usedBytes: 2048, peakBytes: 1024, startupBytes: 0, clientsNormalBytes: 0, rssBytes: 2048 };
    const text = info(["memory"], view({ memory: m }));
    expect(text).toContain("\r\nused_memory_peak:2048\r\nused_memory_peak_human:2.00K\r\nused_memory_peak_perc:100.00%\r\n");
    expect(text).toContain("\r\nmem_fragmentation_ratio:1.00\r\nmem_fragmentation_bytes:0\r\n");
  });
});

/** The section headers INFO printed, in order. */
const headers = (text: string): string[] => text.split("\r\n").filter((l) => l.startsWith("# ")).map((l) => l.slice(2));

const DEFAULT = ["Server", "Clients", "Memory", "Persistence", "Stats", "Replication", "CPU", "Modules", "Errorstats", "Cluster", "Keyspace"];
const ALL = ["Server", "Clients", "Memory", "Persistence", "Stats", "Replication", "CPU", "Modules", "Commandstats", "Errorstats", "Latencystats", "Cluster", "Keyspace"];

describe("INFO section selection", () => {
  it.each<[readonly string[], readonly string[]]>([
    [[], DEFAULT],
    [["default"], DEFAULT],
    [["DeFaUlT"], DEFAULT],
    [["all"], ALL],
    [["everything"], ALL],
    [["ALL", "server"], ALL],
    [["server"], ["Server"]],
    [["keyspace", "SERVER"], ["Server", "Keyspace"]],
    [["cluster", "cpu", "clients"], ["Clients", "CPU", "Cluster"]],
    [["default", "commandstats"], ["Server", "Clients", "Memory", "Persistence", "Stats", "Replication", "CPU", "Modules", "Commandstats", "Errorstats", "Cluster", "Keyspace"]],
    [["modules"], ["Modules"]],
    [["module_list"], ["Modules"]],
    [["latencystats"], ["Latencystats"]],
    [["server", "server"], ["Server"]],
    [["nosuch"], []],
    [["nosuch", "persistence"], ["Persistence"]],
    [["servers"], []],
  ])("%j → %j", (args, expected) => {
    expect(headers(info(args, view()))).toEqual(expected);
  });

  it("prints nothing at all for unknown sections", () => {
    expect(info(["nosuch"], view())).toBe("");
  });

  it("an empty section is its header alone; sections are separated by one blank line", () => {
    expect(info(["modules"], view())).toBe("# Modules\r\n");
    expect(info(["modules", "cluster"], view())).toBe("# Modules\r\n\r\n# Cluster\r\ncluster_enabled:1\r\n");
    expect(info(["commandstats", "latencystats"], view())).toBe("# Commandstats\r\n\r\n# Latencystats\r\n");
  });
});

/** INFO read as ioredis's ready check does: split on CRLF, then at the first ':'; empty values dropped. */
function parseLikeIoredis(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\r\n")) {
    const [field, ...rest] = line.split(":");
    const value = rest.join(":");
    if (value !== "" && field !== undefined) out[field] = value;
  }
  return out;
}

describe("INFO read back as ioredis reads it", () => {
  it("a master: not loading, role master, every field once", () => {
    const text = info(["all"], view());
    const parsed = parseLikeIoredis(text);
    expect(parsed["loading"]).toBe("0");
    expect(parsed["role"]).toBe("master");
    expect(parsed["redis_version"]).toBe("7.0.15");
    expect(parsed["cluster_enabled"]).toBe("1");
    expect(parsed["connected_clients"]).toBe("3");
    expect(parsed["db0"]).toBe("keys=20005,expires=3,avg_ttl=12345");
    const fields = text.split("\r\n").filter((l) => l !== "" && !l.startsWith("# "));
    expect(fields.every((l) => /^[a-z0-9_]+(_[A-Z]+)?:/.test(l))).toBe(true);
    expect(new Set(fields.map((l) => l.slice(0, l.indexOf(":")))).size).toBe(fields.length);
  });

  it("a replica: role slave and master_link_status", () => {
    expect(parseLikeIoredis(info([], view({ replication: REPLICA })))).toMatchObject({ role: "slave", master_link_status: "up", master_host: "127.0.0.1" });
    const down = parseLikeIoredis(info([], view({ replication: { ...REPLICA, linkUp: false } })));
    expect(down["master_link_status"]).toBe("down");
  });

  it("while loading: loading:1 and an ETA", () => {
    const loading = { startS: Math.floor(1685833200650764 / 1e6), totalBytes: 0, loadedBytes: 0 };
    const parsed = parseLikeIoredis(info([], view({ persistence: { ...view().persistence, loading } })));
    expect(parsed["loading"]).toBe("1");
    expect(parsed["loading_eta_seconds"]).toBe("1");
  });
});

describe("number formats", () => {
  it.each([
    [0, "0.00"],
    [1.125, "1.12"],
    [1.375, "1.38"],
    [0.625, "0.62"],
    [0.875, "0.88"],
    [2.5, "2.50"],
    [97.46566, "97.47"],
    [0.005, "0.01"],
    [1.005, "1.00"],
    [-1.125, "-1.12"],
    [100, "100.00"],
  ])("fixed2(%s) is %s, as printf(\"%%.2f\")", (x, text) => {
    expect(fixed2(x)).toBe(text);
  });

  it.each([
    [0, "0B"],
    [1023, "1023B"],
    [1024, "1.00K"],
    [1152, "1.12K"],
    [1536, "1.50K"],
    [1048575, "1024.00K"],
    [1048576, "1.00M"],
    [6809872, "6.49M"],
    [4071378944, "3.79G"],
    [1024 ** 4, "1.00T"],
    [1.5 * 1024 ** 5, "1.50P"],
  ])("bytesToHuman(%d) is %s", (n, text) => {
    expect(bytesToHuman(n)).toBe(text);
  });
});
