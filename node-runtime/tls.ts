// TLS for real nodes, configured with redis-server's tls-* directives, and the cluster bus secret:
// the security material a node loads once, at start.
//
// `conf.ts` turns directives into `TlsSettings` (file paths and choices); `loadTls` reads the files
// and checks them with node:tls, so a missing file, a key that does not match its certificate or
// a cipher list that matches nothing is one line and exit 1 before anything listens. What it
// returns is the option objects node:tls takes, for the client port (clients.ts) and the bus
// (bus.ts).
//
// As in Redis: the CA is always explicit (tls-ca-cert-file or tls-ca-cert-dir; the system store
// is not used), peers' host names are not checked against their certificates (a certificate
// signed by the CA is what authenticates), tls-client-cert-file/-key-file are the outbound
// side's (bus links) and default to tls-cert-file/-key-file.

import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { createSecureContext, DEFAULT_CIPHERS, type ConnectionOptions, type SecureContextOptions, type SecureVersion, type TlsOptions } from "node:tls";

/** tls-auth-clients: whether clients of the TLS client port must present a certificate. */
export type TlsAuthClients = "yes" | "no" | "optional";

export interface TlsSettings {
  readonly certFile: string;
  readonly keyFile: string;
  readonly keyFilePass: string | null;
  /** The outbound side's (bus links); null: certFile / keyFile / keyFilePass. */
  readonly clientCertFile: string | null;
  readonly clientKeyFile: string | null;
  readonly clientKeyFilePass: string | null;
  /** At least one of the two is set. */
  readonly caCertFile: string | null;
  readonly caCertDir: string | null;
  readonly dhParamsFile: string | null;
  readonly authClients: TlsAuthClients;
  readonly minVersion: SecureVersion;
  readonly maxVersion: SecureVersion;
  /** tls-ciphers (TLSv1.2 and below), null: node:tls's default. */
  readonly ciphers: string | null;
  /** tls-ciphersuites (TLSv1.3), null: node:tls's default. */
  readonly ciphersuites: string | null;
  readonly preferServerCiphers: boolean;
}

/** A TLS setting or file that cannot be used: the message is one line, for the user. */
export class TlsError extends Error {}

/** In the order of their versions: tls-protocols must name a contiguous run of them. */
const VERSIONS: readonly SecureVersion[] = ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"];

/**
 * tls-protocols ("TLSv1.2 TLSv1.3", case-insensitive, Redis's names) as node:tls's version range.
 * Node takes a minimum and a maximum, so a set with a hole ("TLSv1 TLSv1.2") is refused.
 */
export function parseTlsProtocols(text: string): { minVersion: SecureVersion; maxVersion: SecureVersion } {
  const named = new Set<number>();
  for (const word of text.split(/\s+/).filter((w) => w !== "")) {
    const i = VERSIONS.findIndex((v) => v.toLowerCase() === word.toLowerCase());
    if (i < 0) throw new TlsError(`Invalid tls-protocols specified. Use a combination of 'TLSv1', 'TLSv1.1', 'TLSv1.2' and 'TLSv1.3'.`);
    named.add(i);
  }
  if (named.size === 0) throw new TlsError("tls-protocols names no protocol");
  const sorted = [...named].sort((a, b) => a - b);
  const min = sorted[0] as number;
  const max = sorted[sorted.length - 1] as number;
  if (max - min + 1 !== sorted.length) throw new TlsError(`tls-protocols "${text}": node:tls takes a range of versions, without holes (say ${VERSIONS.slice(min, max + 1).join(" ")})`);
  return { minVersion: VERSIONS[min] as SecureVersion, maxVersion: VERSIONS[max] as SecureVersion };
}

/** What the client port and the bus hand node:tls. */
export interface LoadedTls {
  /** The TLS client port's server (requestCert / rejectUnauthorized follow tls-auth-clients). */
  readonly clientPort: TlsOptions;
  /** tls-auth-clients, for the check `optional` needs after the handshake. */
  readonly authClients: TlsAuthClients;
  /** The bus listener: a peer must present a certificate signed by the CA. */
  readonly busServer: TlsOptions;
  /** Outbound bus links: our client certificate, the CA for the peer's. */
  readonly busClient: ConnectionOptions;
}

/** Reads and checks the certificates, keys and CA of `s`. Throws TlsError, one line, for the user. */
export function loadTls(s: TlsSettings): LoadedTls {
  // node:tls ignores a CA or DH file that holds no PEM block of its kind: say so instead.
  const ca = s.caCertFile !== null ? [readPem("tls-ca-cert-file", s.caCertFile, "CERTIFICATE")] : [];
  if (s.caCertDir !== null) ca.push(...readCaDir(s.caCertDir));
  const versions = { minVersion: s.minVersion, maxVersion: s.maxVersion };
  const ciphers = cipherOption(s);
  check({ ...versions, ...ciphers }, "tls-ciphers / tls-ciphersuites");
  const dh = s.dhParamsFile === null ? {} : { dhparam: readPem("tls-dh-params-file", s.dhParamsFile, "DH PARAMETERS") };
  const common: SecureContextOptions = { ca, ...versions, ...ciphers, ...dh };
  const server: SecureContextOptions = {
    ...common,
    cert: readFile("tls-cert-file", s.certFile),
    key: readFile("tls-key-file", s.keyFile),
    ...(s.keyFilePass !== null ? { passphrase: s.keyFilePass } : {}),
    honorCipherOrder: s.preferServerCiphers,
  };
  check(server, "tls-cert-file / tls-key-file");
  const client: ConnectionOptions = {
    ...common,
    cert: s.clientCertFile === null ? server.cert : readFile("tls-client-cert-file", s.clientCertFile),
    key: s.clientKeyFile === null ? server.key : readFile("tls-client-key-file", s.clientKeyFile),
    ...(s.clientKeyFile === null ? (s.keyFilePass !== null ? { passphrase: s.keyFilePass } : {}) : s.clientKeyFilePass !== null ? { passphrase: s.clientKeyFilePass } : {}),
    // Redis checks the peer's certificate against the CA, not its name: nodes are dialled by IP.
    checkServerIdentity: () => undefined,
  };
  if (s.clientCertFile !== null || s.clientKeyFile !== null) check(client, "tls-client-cert-file / tls-client-key-file");
  return {
    clientPort: { ...server, requestCert: s.authClients !== "no", rejectUnauthorized: s.authClients === "yes" },
    authClients: s.authClients,
    busServer: { ...server, requestCert: true, rejectUnauthorized: true },
    busClient: client,
  };
}

/**
 * node:tls's `ciphers` for tls-ciphers and tls-ciphersuites: node takes both in one list and
 * tells TLSv1.3 suites by their `TLS_` prefix. An unset half keeps node's default for it.
 */
function cipherOption(s: TlsSettings): { ciphers?: string } {
  if (s.ciphers === null && s.ciphersuites === null) return {};
  const defaults = DEFAULT_CIPHERS.split(":");
  const suites = s.ciphersuites ?? defaults.filter((c) => c.startsWith("TLS_")).join(":");
  const older = s.ciphers ?? defaults.filter((c) => !c.startsWith("TLS_")).join(":");
  if (s.ciphersuites !== null && suites.split(":").some((c) => c !== "" && !c.startsWith("TLS_"))) {
    throw new TlsError(`tls-ciphersuites "${suites}": TLSv1.3 suites are named TLS_… (TLSv1.2 ciphers go in tls-ciphers)`);
  }
  if (s.ciphers !== null && older.split(":").some((c) => c.startsWith("TLS_"))) {
    throw new TlsError(`tls-ciphers "${older}": TLSv1.3 suites (TLS_…) go in tls-ciphersuites`);
  }
  return { ciphers: [suites, older].filter((part) => part !== "").join(":") };
}

/** Builds a secure context from `options` (what a listener or a link would), as a start-up check. */
function check(options: SecureContextOptions, what: string): void {
  try {
    createSecureContext(options);
  } catch (e) {
    throw new TlsError(`${what}: ${opensslReason(e)}`);
  }
}

function readFile(directive: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new TlsError(`cannot read ${directive} ${path}: ${systemReason(e)}`);
  }
}

/** A file that must hold a PEM block of `label` ("CERTIFICATE"). */
function readPem(directive: string, path: string, label: string): Buffer {
  const pem = readFile(directive, path);
  if (!pem.includes(`-----BEGIN ${label}-----`)) throw new TlsError(`${directive} ${path} holds no PEM ${label}`);
  return pem;
}

/** Every PEM certificate in the files of `dir` (Redis hands the directory to OpenSSL as CApath). */
function readCaDir(dir: string): Buffer[] {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (e) {
    throw new TlsError(`cannot read tls-ca-cert-dir ${dir}: ${systemReason(e)}`);
  }
  const out: Buffer[] = [];
  for (const name of names) {
    const path = join(dir, name);
    try {
      if (!statSync(path).isFile()) continue;
    } catch {
      continue; // a dangling link, as OpenSSL's CApath lookup skips it
    }
    const pem = readFile("tls-ca-cert-dir", path);
    if (pem.includes("-----BEGIN CERTIFICATE-----")) out.push(pem);
  }
  if (out.length === 0) throw new TlsError(`tls-ca-cert-dir ${dir} holds no PEM certificate`);
  return out;
}

/** "no such file or directory" for ENOENT and its kin, else the message. */
function systemReason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (typeof err.code === "string" && typeof err.message === "string") {
    const m = /^[A-Z]+: ([^,]+)/.exec(err.message);
    return m?.[1] ?? err.message;
  }
  return String(e);
}

/**
 * OpenSSL's reason ("key values mismatch", "certificate verify failed") without the library's
 * file and line, which node:tls appends to some errors.
 */
export function opensslReason(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const reason = (e as { reason?: unknown }).reason;
  if (typeof reason === "string" && reason !== "") return reason;
  const line = e.message.split("\n")[0] as string;
  const lib = /error:[0-9A-F]+:[^:]*:(?:[^:]*:)?([^:]+)/.exec(line);
  return lib?.[1] ?? line;
}

// ---- the bus secret ------------------------------------------------------------------------------

/** cluster-bus-secret (the text) or cluster-bus-secret-file (a path). */
export type BusSecretSource = { readonly text: string } | { readonly file: string };

/**
 * The secret's bytes. A file's last line break is not part of it (`echo s > file`); an empty
 * secret is refused. Throws TlsError, one line.
 */
export function loadBusSecret(source: BusSecretSource): Buffer {
  let secret: Buffer;
  if ("text" in source) secret = Buffer.from(source.text, "utf8");
  else {
    try {
      secret = readFileSync(source.file);
    } catch (e) {
      throw new TlsError(`cannot read cluster-bus-secret-file ${source.file}: ${systemReason(e)}`);
    }
    const end = secret.length - (secret.at(-1) === 0x0a ? (secret.at(-2) === 0x0d ? 2 : 1) : 0);
    secret = secret.subarray(0, end);
  }
  if (secret.length === 0) throw new TlsError("the cluster bus secret is empty");
  return secret;
}
