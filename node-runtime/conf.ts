// `faultline node` settings: redis-server's directives, from a redis.conf-style file and from the
// command line (which wins, as redis-server appends its command-line options to the file's text).
//
// A config file line is `name arg…`, split with Redis's quoting rules (sdssplitargs, which
// core/resp's splitInlineArgs implements); `#` starts a comment line. Directive names are
// case-insensitive. Directives this node does not implement are warned about and ignored, so a
// stock redis.conf can be pointed at; a bad value of one it does implement is an error.

import { readFileSync } from "node:fs";
import { arch, release, type } from "node:os";
import { resolve } from "node:path";
import { decodeUtf8, encodeUtf8, splitInlineArgs } from "../core/resp/codec.js";
import { CLUSTER_DEFAULTS, type ClusterConfig } from "../core/cluster/types.js";

/** One directive and where it came from, for error messages. */
export interface Directive {
  readonly name: string;
  readonly args: readonly string[];
  /** "redis.conf:3" or "--port". */
  readonly where: string;
}

export interface NodeSettings {
  readonly port: number;
  readonly bind: string;
  /** The IP the node is known by (its address is announceIp:port). */
  readonly announceIp: string;
  readonly busPort: number;
  readonly dir: string;
  /** null: stderr. */
  readonly logfile: string | null;
  readonly nodeTimeoutMs: number;
  readonly replicaValidityFactor: number;
  readonly migrationBarrier: number;
  readonly allowReplicaMigration: boolean;
  readonly requireFullCoverage: boolean;
  readonly replicaPriority: number;
  readonly nofailover: boolean;
  readonly requirepass: string;
  readonly appendonly: boolean;
  readonly appendfsync: "always" | "everysec" | "no";
  /** Absolute path of the config file, or "". */
  readonly configFile: string;
  /** Things worth saying before starting (ignored directives, features not built yet). */
  readonly warnings: readonly string[];
}

export class ConfigError extends Error {}

/** Directives of a config file's text. */
export function parseConfigText(text: string, file: string): Directive[] {
  const out: Directive[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).trim();
    if (line === "" || line.startsWith("#")) continue;
    const args = splitInlineArgs(encodeUtf8(line));
    const where = `${file}:${i + 1}`;
    if (args === null) throw new ConfigError(`${where}: unbalanced quotes in configuration line`);
    if (args.length === 0) continue;
    const [name, ...rest] = args.map((a) => decodeUtf8(a));
    out.push({ name: (name as string).toLowerCase(), args: rest, where });
  }
  return out;
}

export function readConfigFile(path: string): Directive[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError(`cannot read config file ${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
  return parseConfigText(text, path);
}

/** Redis's old names for directives that were renamed. */
const ALIASES: Readonly<Record<string, string>> = {
  "cluster-slave-validity-factor": "cluster-replica-validity-factor",
  "cluster-slave-no-failover": "cluster-replica-no-failover",
  "slave-priority": "replica-priority",
};

/** Directives accepted and not acted on yet: they warn with the reason. */
const NOT_IMPLEMENTED: Readonly<Record<string, string>> = {
  "cluster-config-file": "the node keeps its config in <dir>/nodes.conf (JSON), whatever this says",
};

/**
 * The settings for `directives` (file first, then command line: the last occurrence wins). Throws
 * ConfigError with the directive's origin for a value that does not parse.
 */
export function resolveSettings(directives: readonly Directive[], configFile: string): NodeSettings {
  const last = new Map<string, Directive>();
  const warnings: string[] = [];
  for (const d0 of directives) {
    const d = { ...d0, name: ALIASES[d0.name] ?? d0.name };
    if (!KNOWN.has(d.name)) {
      warnings.push(`${d.where}: '${d.name}' is not supported by faultline node; ignored`);
      continue;
    }
    last.set(d.name, d);
  }
  const str = (name: string, fallback: string): string => {
    const d = last.get(name);
    if (d === undefined) return fallback;
    if (d.args.length !== 1) throw new ConfigError(`${d.where}: '${name}' takes one argument`);
    return d.args[0] as string;
  };
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const text = str(name, String(fallback));
    if (!/^-?\d{1,15}$/.test(text) || Number(text) < min || Number(text) > max) {
      throw new ConfigError(`${(last.get(name) as Directive).where}: '${name}' must be an integer in ${min}..${max}, got '${text}'`);
    }
    return Number(text);
  };
  const bool = (name: string, fallback: boolean): boolean => {
    const text = str(name, fallback ? "yes" : "no").toLowerCase();
    if (text !== "yes" && text !== "no") throw new ConfigError(`${(last.get(name) as Directive).where}: '${name}' must be yes or no, got '${text}'`);
    return text === "yes";
  };

  const enabled = last.get("cluster-enabled");
  if (enabled === undefined) throw new ConfigError("faultline node runs in cluster mode only: pass --cluster-enabled yes (or put 'cluster-enabled yes' in the config file)");
  if (!bool("cluster-enabled", false)) throw new ConfigError(`${enabled.where}: cluster-enabled no is not supported: faultline node runs in cluster mode only`);

  for (const name of Object.keys(NOT_IMPLEMENTED)) {
    const d = last.get(name);
    if (d === undefined) continue;
    warnings.push(`${d.where}: ${name}: ${NOT_IMPLEMENTED[name] as string}`);
  }
  const appendfsync = str("appendfsync", CLUSTER_DEFAULTS.appendfsync).toLowerCase();
  if (appendfsync !== "always" && appendfsync !== "everysec" && appendfsync !== "no") {
    throw new ConfigError(`${(last.get("appendfsync") as Directive).where}: 'appendfsync' must be always, everysec or no, got '${appendfsync}'`);
  }

  const port = int("port", 6379, 1, 65535);
  const clusterPort = int("cluster-port", 0, 0, 65535);
  const busPort = clusterPort === 0 ? port + 10000 : clusterPort;
  if (busPort > 65535) throw new ConfigError(`port ${port}: the cluster bus port would be ${busPort}, over 65535 (use a port below 55536)`);
  if (clusterPort !== 0 && clusterPort !== port + 10000) {
    warnings.push(`cluster-port ${clusterPort}: other nodes still dial port + 10000 = ${port + 10000} (addresses carry no bus port yet); use this only behind a forwarder`);
  }
  const bindDirective = last.get("bind");
  let bind = "127.0.0.1";
  if (bindDirective !== undefined) {
    if (bindDirective.args.length === 0) throw new ConfigError(`${bindDirective.where}: 'bind' needs an address`);
    bind = (bindDirective.args[0] as string).replace(/^-/, "");
    if (bindDirective.args.length > 1) warnings.push(`${bindDirective.where}: bind: only the first address (${bind}) is used`);
  }
  const announceIp = str("cluster-announce-ip", wildcard(bind) ? "" : bind);
  if (announceIp === "") throw new ConfigError(`bind ${bind} listens on every address: say which one other nodes and clients reach with --cluster-announce-ip`);
  const logfile = str("logfile", "");
  const dir = resolve(str("dir", "."));

  return {
    port,
    bind,
    announceIp,
    busPort,
    dir,
    logfile: logfile === "" ? null : resolve(logfile),
    nodeTimeoutMs: int("cluster-node-timeout", CLUSTER_DEFAULTS.nodeTimeoutMs, 1, 2 ** 31 - 1),
    replicaValidityFactor: int("cluster-replica-validity-factor", CLUSTER_DEFAULTS.replicaValidityFactor, 0, 2 ** 31 - 1),
    migrationBarrier: int("cluster-migration-barrier", CLUSTER_DEFAULTS.migrationBarrier, 0, 2 ** 31 - 1),
    allowReplicaMigration: bool("cluster-allow-replica-migration", CLUSTER_DEFAULTS.allowReplicaMigration),
    requireFullCoverage: bool("cluster-require-full-coverage", CLUSTER_DEFAULTS.requireFullCoverage),
    replicaPriority: int("replica-priority", CLUSTER_DEFAULTS.replicaPriority, 0, 2 ** 31 - 1),
    nofailover: bool("cluster-replica-no-failover", CLUSTER_DEFAULTS.nofailover),
    requirepass: str("requirepass", ""),
    appendonly: bool("appendonly", CLUSTER_DEFAULTS.appendonly),
    appendfsync,
    configFile,
    warnings,
  };
}

/** Every directive `resolveSettings` reads or warns about. */
const KNOWN = new Set([
  "port",
  "bind",
  "cluster-enabled",
  "cluster-node-timeout",
  "cluster-port",
  "cluster-announce-ip",
  "dir",
  "logfile",
  "requirepass",
  "cluster-replica-validity-factor",
  "cluster-migration-barrier",
  "cluster-allow-replica-migration",
  "cluster-require-full-coverage",
  "replica-priority",
  "cluster-replica-no-failover",
  "appendonly",
  "appendfsync",
  ...Object.keys(NOT_IMPLEMENTED),
]);

function wildcard(bind: string): boolean {
  return bind === "*" || bind === "0.0.0.0" || bind === "::" || bind === "::*";
}

/** The ClusterConfig of a real node: Redis's defaults, these settings, no bootstrap (a lone empty master). */
export function clusterConfig(s: NodeSettings, faultlineVersion: string, executable: string): ClusterConfig {
  return {
    ...CLUSTER_DEFAULTS,
    nodeTimeoutMs: s.nodeTimeoutMs,
    replicaValidityFactor: s.replicaValidityFactor,
    migrationBarrier: s.migrationBarrier,
    allowReplicaMigration: s.allowReplicaMigration,
    requireFullCoverage: s.requireFullCoverage,
    replicaPriority: s.replicaPriority,
    nofailover: s.nofailover,
    requirepass: s.requirepass,
    appendonly: s.appendonly,
    appendfsync: s.appendfsync,
    bootstrap: null,
    host: {
      faultlineVersion,
      processId: process.pid,
      os: `${type()} ${release()} ${arch() === "x64" ? "x86_64" : arch()}`,
      multiplexingApi: MULTIPLEXING[process.platform] ?? "libuv",
      executable,
      configFile: s.configFile,
    },
  };
}

/** What libuv polls with, as INFO's multiplexing_api names it. */
const MULTIPLEXING: Readonly<Record<string, string>> = { linux: "epoll", darwin: "kqueue", freebsd: "kqueue", openbsd: "kqueue", sunos: "evport", win32: "iocp" };
