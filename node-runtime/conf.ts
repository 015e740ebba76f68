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
import { CLIENT_LIMITS_DEFAULT, type ClientLimits, type OutputBufferLimit } from "./clients.js";
import { type BusSecretSource, parseTlsProtocols, TlsError, type TlsAuthClients, type TlsSettings } from "./tls.js";

/** One directive and where it came from, for error messages. */
export interface Directive {
  readonly name: string;
  readonly args: readonly string[];
  /** "redis.conf:3" or "--port". */
  readonly where: string;
}

export interface NodeSettings {
  /** The plain-text client port; 0: none (redis-server's `port 0`). */
  readonly port: number;
  /** The TLS client port; 0: none. */
  readonly tlsPort: number;
  /** The port in the node's address (tls-port with tls-cluster yes, as Redis announces it, else port). */
  readonly announcePort: number;
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
  /** tls-cluster yes: the bus is TLS with certificates both ways. */
  readonly tlsCluster: boolean;
  /** The tls-* settings when the node uses TLS (a tls-port or tls-cluster), else null. */
  readonly tls: TlsSettings | null;
  readonly busSecret: BusSecretSource | null;
  /** maxclients, timeout, client-query-buffer-limit, client-output-buffer-limit. */
  readonly clientLimits: ClientLimits;
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
  "tls-replication": "replicas are fed over the cluster bus here, so tls-cluster is what encrypts replication",
  "tls-session-caching": "node:tls's session cache defaults are used",
  "tls-session-cache-size": "node:tls's session cache defaults are used",
  "tls-session-cache-timeout": "node:tls's session cache defaults are used",
};

/** The tls-* directives that name files or lists (empty means unset, as in Redis). */
const TLS_FILE_DIRECTIVES = ["tls-cert-file", "tls-key-file", "tls-key-file-pass", "tls-client-cert-file", "tls-client-key-file", "tls-client-key-file-pass", "tls-ca-cert-file", "tls-ca-cert-dir", "tls-dh-params-file", "tls-protocols", "tls-ciphers", "tls-ciphersuites"];

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

  const port = int("port", 6379, 0, 65535);
  const tlsPort = int("tls-port", 0, 0, 65535);
  const tlsCluster = bool("tls-cluster", false);
  const announcePort = clientPorts(port, tlsPort, tlsCluster);
  const clusterPort = int("cluster-port", 0, 0, 65535);
  const busPort = clusterPort === 0 ? announcePort + 10000 : clusterPort;
  if (busPort > 65535) throw new ConfigError(`port ${announcePort}: the cluster bus port would be ${busPort}, over 65535 (use a port below 55536)`);
  if (clusterPort !== 0 && clusterPort !== announcePort + 10000) {
    warnings.push(`cluster-port ${clusterPort}: other nodes still dial port + 10000 = ${announcePort + 10000} (addresses carry no bus port yet); use this only behind a forwarder`);
  }
  const fileOrNull = (name: string): string | null => {
    const v = str(name, "");
    return v === "" ? null : v;
  };
  let tls: TlsSettings | null = null;
  if (tlsPort !== 0 || tlsCluster) tls = tlsSettings(fileOrNull, str, bool, (name) => last.get(name)?.where ?? name);
  else {
    const unused = TLS_FILE_DIRECTIVES.filter((name) => last.has(name));
    if (unused.length > 0) warnings.push(`${unused.join(", ")}: unused without tls-port or tls-cluster`);
  }
  const busSecret = busSecretOf(last, warnings);
  const clientLimits: ClientLimits = {
    maxclients: int("maxclients", CLIENT_LIMITS_DEFAULT.maxclients, 1, 2 ** 31 - 1),
    idleTimeoutS: int("timeout", CLIENT_LIMITS_DEFAULT.idleTimeoutS, 0, 2 ** 31 - 1),
    queryBufferBytesMax: size(last.get("client-query-buffer-limit"), CLIENT_LIMITS_DEFAULT.queryBufferBytesMax, 1024 * 1024),
    pubsub: outputBufferLimits(directives.filter((d) => d.name === "client-output-buffer-limit"), warnings),
  };
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
    tlsPort,
    announcePort,
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
    tlsCluster,
    tls,
    busSecret,
    clientLimits,
    configFile,
    warnings,
  };
}

/**
 * The port in the node's address, after checking the client ports make sense together. As in
 * Redis, a node with tls-cluster is known by its TLS port (MOVED and CLUSTER NODES name it, and
 * its bus is at tls-port + 10000).
 */
function clientPorts(port: number, tlsPort: number, tlsCluster: boolean): number {
  if (port === 0 && tlsPort === 0) throw new ConfigError("port 0 and no tls-port: the node would have no client port");
  if (port !== 0 && port === tlsPort) throw new ConfigError(`port and tls-port are both ${port}`);
  if (tlsCluster) {
    if (tlsPort === 0) throw new ConfigError("tls-cluster yes: the node is known by its tls-port, so it needs one");
    return tlsPort;
  }
  if (port === 0) throw new ConfigError("port 0: without tls-cluster yes the node is known by its plain-text port; set tls-cluster yes (or a port)");
  return port;
}

/** The tls-* settings, for a node with a TLS port or a TLS bus. */
function tlsSettings(
  fileOrNull: (name: string) => string | null,
  str: (name: string, fallback: string) => string,
  bool: (name: string, fallback: boolean) => boolean,
  where: (name: string) => string,
): TlsSettings {
  const certFile = fileOrNull("tls-cert-file");
  const keyFile = fileOrNull("tls-key-file");
  if (certFile === null || keyFile === null) throw new ConfigError("TLS (tls-port or tls-cluster) needs tls-cert-file and tls-key-file");
  const caCertFile = fileOrNull("tls-ca-cert-file");
  const caCertDir = fileOrNull("tls-ca-cert-dir");
  if (caCertFile === null && caCertDir === null) throw new ConfigError("Either tls-ca-cert-file or tls-ca-cert-dir must be specified");
  const auth = str("tls-auth-clients", "yes").toLowerCase();
  if (auth !== "yes" && auth !== "no" && auth !== "optional") throw new ConfigError(`${where("tls-auth-clients")}: 'tls-auth-clients' must be yes, no or optional, got '${auth}'`);
  let versions: ReturnType<typeof parseTlsProtocols>;
  try {
    versions = parseTlsProtocols(str("tls-protocols", "TLSv1.2 TLSv1.3"));
  } catch (e) {
    if (!(e instanceof TlsError)) throw e;
    throw new ConfigError(`${where("tls-protocols")}: ${e.message}`);
  }
  const path = (name: string): string | null => {
    const v = fileOrNull(name);
    return v === null ? null : resolve(v);
  };
  return {
    certFile: resolve(certFile),
    keyFile: resolve(keyFile),
    keyFilePass: fileOrNull("tls-key-file-pass"),
    clientCertFile: path("tls-client-cert-file"),
    clientKeyFile: path("tls-client-key-file"),
    clientKeyFilePass: fileOrNull("tls-client-key-file-pass"),
    caCertFile: path("tls-ca-cert-file"),
    caCertDir: path("tls-ca-cert-dir"),
    dhParamsFile: path("tls-dh-params-file"),
    authClients: auth as TlsAuthClients,
    ...versions,
    ciphers: fileOrNull("tls-ciphers"),
    ciphersuites: fileOrNull("tls-ciphersuites"),
    preferServerCiphers: bool("tls-prefer-server-ciphers", false),
  };
}

/** cluster-bus-secret or cluster-bus-secret-file (not both); the file is read at start. */
function busSecretOf(last: ReadonlyMap<string, Directive>, warnings: string[]): BusSecretSource | null {
  const text = last.get("cluster-bus-secret");
  const file = last.get("cluster-bus-secret-file");
  if (text !== undefined && file !== undefined) throw new ConfigError(`${text.where}, ${file.where}: give cluster-bus-secret or cluster-bus-secret-file, not both`);
  const d = text ?? file;
  if (d === undefined) return null;
  if (d.args.length !== 1) throw new ConfigError(`${d.where}: '${d.name}' takes one argument`);
  const value = d.args[0] as string;
  if (value === "") throw new ConfigError(`${d.where}: '${d.name}' is empty`);
  if (text === undefined) return { file: resolve(value) };
  if (d.where.startsWith("--")) warnings.push(`${d.where}: other users of this machine can read a secret on the command line (ps); prefer --cluster-bus-secret-file`);
  return { text: value };
}

const SIZE_UNITS: Readonly<Record<string, number>> = { "": 1, b: 1, k: 1000, kb: 1024, m: 1000 ** 2, mb: 1024 ** 2, g: 1000 ** 3, gb: 1024 ** 3 };

/** Redis's memory size syntax (memtoull): digits and an optional unit, k = 1000, kb = 1024, … (any case). Null if it is not one. */
export function parseSize(text: string): number | null {
  const m = /^(\d{1,16})([a-z]{0,2})$/i.exec(text);
  if (m === null) return null;
  const unit = SIZE_UNITS[(m[2] as string).toLowerCase()];
  if (unit === undefined) return null;
  const bytes = Number(m[1]) * unit;
  return Number.isSafeInteger(bytes) ? bytes : null;
}

function size(d: Directive | undefined, fallback: number, min: number): number {
  if (d === undefined) return fallback;
  if (d.args.length !== 1) throw new ConfigError(`${d.where}: '${d.name}' takes one argument`);
  const bytes = parseSize(d.args[0] as string);
  if (bytes === null || bytes < min) throw new ConfigError(`${d.where}: '${d.name}' must be a size of at least ${min} bytes (1mb, 512mb, 1gb…), got '${d.args[0] as string}'`);
  return bytes;
}

/**
 * The pubsub class of every client-output-buffer-limit directive, in order (a later one wins, as in
 * Redis, which merges the classes each names). Each directive is groups of `<class> <hard> <soft>
 * <soft seconds>`; on the command line the groups may be one quoted argument. Errors use Redis's
 * words. Normal clients keep Faultline's pause-reading behaviour and replicas are fed over the bus,
 * so limits for those classes are warned about and ignored (`normal 0 0 0`, Redis's default, is not).
 */
function outputBufferLimits(directives: readonly Directive[], warnings: string[]): OutputBufferLimit {
  let pubsub = CLIENT_LIMITS_DEFAULT.pubsub;
  for (const d of directives) {
    const words = d.args.flatMap((a) => a.split(/\s+/)).filter((w) => w !== "");
    if (words.length === 0 || words.length % 4 !== 0) throw new ConfigError(`${d.where}: Wrong number of arguments in buffer limit configuration.`);
    for (let i = 0; i < words.length; i += 4) {
      const [cls, hardText, softText, secondsText] = words.slice(i, i + 4) as [string, string, string, string];
      const kind = cls.toLowerCase();
      if (kind !== "normal" && kind !== "replica" && kind !== "slave" && kind !== "pubsub") throw new ConfigError(`${d.where}: Invalid client class specified in buffer limit configuration.`);
      const hardBytes = parseSize(hardText);
      const softBytes = parseSize(softText);
      if (hardBytes === null || softBytes === null || !/^\d{1,9}$/.test(secondsText)) throw new ConfigError(`${d.where}: Error in hard, soft or soft_seconds setting in buffer limit configuration.`);
      const limit: OutputBufferLimit = { hardBytes, softBytes, softSeconds: Number(secondsText) };
      if (kind === "pubsub") pubsub = limit;
      else if (kind === "normal" && (hardBytes !== 0 || softBytes !== 0)) warnings.push(`${d.where}: client-output-buffer-limit normal: not supported; a normal client's reading pauses above 4 MiB of unsent output instead`);
      else if (kind !== "normal") warnings.push(`${d.where}: client-output-buffer-limit ${kind}: replicas are fed over the cluster bus here; ignored`);
    }
  }
  return pubsub;
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
  "tls-port",
  "tls-cluster",
  "tls-auth-clients",
  "tls-prefer-server-ciphers",
  ...TLS_FILE_DIRECTIVES,
  "cluster-bus-secret",
  "cluster-bus-secret-file",
  "maxclients",
  "timeout",
  "client-query-buffer-limit",
  "client-output-buffer-limit",
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
