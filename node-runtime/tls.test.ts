import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Certs, KEY_PASSPHRASE, makeCerts, opensslMissing, tlsSettingsFor } from "../test/real/support.js";
import { loadBusSecret, loadTls, parseTlsProtocols, TlsError, type TlsSettings } from "./tls.js";

const root = mkdtempSync(join(tmpdir(), "faultline-tls-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("tls-protocols", () => {
  it.each([
    ["TLSv1.2 TLSv1.3", "TLSv1.2", "TLSv1.3"],
    ["tlsv1.3", "TLSv1.3", "TLSv1.3"],
    ["  TLSv1.3   TLSv1.2 ", "TLSv1.2", "TLSv1.3"],
    ["TLSv1 TLSv1.1 TLSv1.2", "TLSv1", "TLSv1.2"],
  ])("reads %j as a version range", (text, minVersion, maxVersion) => {
    expect(parseTlsProtocols(text)).toEqual({ minVersion, maxVersion });
  });

  it.each([
    ["SSLv3", "Invalid tls-protocols specified. Use a combination of 'TLSv1', 'TLSv1.1', 'TLSv1.2' and 'TLSv1.3'."],
    ["", "tls-protocols names no protocol"],
    ["TLSv1 TLSv1.3", 'tls-protocols "TLSv1 TLSv1.3": node:tls takes a range of versions, without holes (say TLSv1 TLSv1.1 TLSv1.2 TLSv1.3)'],
  ])("refuses %j", (text, error) => {
    expect(() => parseTlsProtocols(text)).toThrow(new TlsError(error));
  });
});

describe("the bus secret", () => {
  it("is the text, or the file without its last line break", () => {
    expect(loadBusSecret({ text: "s3cret" })).toEqual(Buffer.from("s3cret"));
    const file = join(root, "secret");
    writeFileSync(file, "s3cret\n");
    expect(loadBusSecret({ file })).toEqual(Buffer.from("s3cret"));
    writeFileSync(file, "two\nlines\r\n");
    expect(loadBusSecret({ file })).toEqual(Buffer.from("two\nlines"));
  });

  it("refuses a missing or empty file in one line", () => {
    expect(() => loadBusSecret({ file: join(root, "nope") })).toThrow(new TlsError(`cannot read cluster-bus-secret-file ${join(root, "nope")}: no such file or directory`));
    const empty = join(root, "empty");
    writeFileSync(empty, "\n");
    expect(() => loadBusSecret({ file: empty })).toThrow(new TlsError("the cluster bus secret is empty"));
  });
});

const noOpenssl = opensslMissing();
const mustRun = process.env["CI"] === "true";
if (noOpenssl !== null && !mustRun) console.warn(`node-runtime/tls.test.ts certificate tests skipped: ${noOpenssl}`);

describe.skipIf(noOpenssl !== null && !mustRun)("loadTls", () => {
  let certs: Certs;
  let base: TlsSettings;
  beforeAll(async () => {
    if (noOpenssl !== null) throw new Error(`${noOpenssl}, and CI=true requires these tests`);
    certs = await makeCerts(mkdtempSync(join(root, "certs-")));
    base = tlsSettingsFor(certs.cert, certs.key, certs.caCert);
  });

  it("gives the client port tls-auth-clients' choice, the bus mutual authentication, and outbound links the server certificate by default", () => {
    const yes = loadTls(base);
    expect(yes.clientPort).toMatchObject({ requestCert: true, rejectUnauthorized: true });
    expect(yes.busServer).toMatchObject({ requestCert: true, rejectUnauthorized: true });
    expect(yes.busClient.cert).toEqual(yes.busServer.cert);
    expect(yes.busClient.checkServerIdentity?.("10.0.0.1", {} as never)).toBeUndefined();
    expect(loadTls({ ...base, authClients: "no" }).clientPort).toMatchObject({ requestCert: false, rejectUnauthorized: false });
    expect(loadTls({ ...base, authClients: "optional" }).clientPort).toMatchObject({ requestCert: true, rejectUnauthorized: false });
  });

  it("uses tls-client-cert-file for outbound links, with its own passphrase", () => {
    const loaded = loadTls({ ...base, clientCertFile: certs.clientCert, clientKeyFile: certs.clientKeyEncrypted, clientKeyFilePass: KEY_PASSPHRASE });
    expect(loaded.busClient).toMatchObject({ passphrase: KEY_PASSPHRASE });
    expect(loaded.busClient.cert).not.toEqual(loaded.busServer.cert);
  });

  it("reads every PEM certificate of tls-ca-cert-dir", () => {
    const dir = join(root, "ca-dir");
    mkdirSync(dir);
    copyFileSync(certs.caCert, join(dir, "a.pem"));
    copyFileSync(certs.otherCaCert, join(dir, "b.pem"));
    writeFileSync(join(dir, "README"), "not a certificate\n");
    mkdirSync(join(dir, "sub"));
    expect(loadTls({ ...base, caCertFile: null, caCertDir: dir }).busServer.ca).toHaveLength(2);
  });

  it("joins tls-ciphersuites and tls-ciphers into node's one list, keeping node's default for the half not given", () => {
    const both = loadTls({ ...base, ciphers: "ECDHE-ECDSA-AES128-GCM-SHA256", ciphersuites: "TLS_AES_128_GCM_SHA256" });
    expect(both.clientPort.ciphers).toBe("TLS_AES_128_GCM_SHA256:ECDHE-ECDSA-AES128-GCM-SHA256");
    expect(loadTls({ ...base, ciphersuites: "TLS_AES_256_GCM_SHA384" }).clientPort.ciphers).toMatch(/^TLS_AES_256_GCM_SHA384:ECDHE-/);
    expect(loadTls(base).clientPort.ciphers).toBeUndefined();
  });

  it.each([
    ["a missing certificate", (_c: Certs, b: TlsSettings) => ({ ...b, certFile: join(root, "missing.crt") }), (_c: Certs) => `cannot read tls-cert-file ${join(root, "missing.crt")}: no such file or directory`],
    ["a directory as the key", (_c: Certs, b: TlsSettings) => ({ ...b, keyFile: root }), () => `cannot read tls-key-file ${root}: illegal operation on a directory`],
    ["a key that is not the certificate's", (c: Certs, b: TlsSettings) => ({ ...b, keyFile: c.clientKey }), () => "tls-cert-file / tls-key-file: key values mismatch"],
    ["a certificate that is not PEM", (c: Certs, b: TlsSettings) => ({ ...b, certFile: c.caCert.replace("ca.crt", "leaf.ext") }), () => "tls-cert-file / tls-key-file: no start line"],
    ["a wrong passphrase", (c: Certs, b: TlsSettings) => ({ ...b, clientCertFile: c.clientCert, clientKeyFile: c.clientKeyEncrypted, clientKeyFilePass: "wrong" }), () => "tls-client-cert-file / tls-client-key-file: bad decrypt"],
    ["an empty CA directory", (_c: Certs, b: TlsSettings) => ({ ...b, caCertFile: null, caCertDir: mkdtempSync(join(root, "empty-")) }), () => "holds no PEM certificate"],
    ["ciphers that match nothing", (_c: Certs, b: TlsSettings) => ({ ...b, ciphers: "NO-SUCH-CIPHER" }), () => "tls-ciphers / tls-ciphersuites: no cipher match"],
    ["a CA file that is not PEM", (c: Certs, b: TlsSettings) => ({ ...b, caCertFile: c.caCert.replace("ca.crt", "leaf.ext") }), (c: Certs) => `tls-ca-cert-file ${c.caCert.replace("ca.crt", "leaf.ext")} holds no PEM CERTIFICATE`],
    ["DH parameters that are not PEM", (c: Certs, b: TlsSettings) => ({ ...b, dhParamsFile: c.caCert.replace("ca.crt", "leaf.ext") }), (c: Certs) => `tls-dh-params-file ${c.caCert.replace("ca.crt", "leaf.ext")} holds no PEM DH PARAMETERS`],
    ["a TLSv1.2 cipher in tls-ciphersuites", (_c: Certs, b: TlsSettings) => ({ ...b, ciphersuites: "ECDHE-ECDSA-AES128-GCM-SHA256" }), () => 'tls-ciphersuites "ECDHE-ECDSA-AES128-GCM-SHA256": TLSv1.3 suites are named TLS_… (TLSv1.2 ciphers go in tls-ciphers)'],
  ])("refuses %s in one line", (_what, change, error) => {
    let thrown: unknown = null;
    try {
      loadTls(change(certs, base));
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(TlsError);
    expect((thrown as Error).message).toContain(error(certs));
    expect((thrown as Error).message).not.toContain("\n");
  });
});
