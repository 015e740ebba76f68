// The viewer's Node side, behind `sim view` and `faultline view`: reads traces and logs (and
// optionally a `sim run --json` result, for the checkers' findings), then either serves the
// built page (dist/viz/) and the data on 127.0.0.1, or writes one self-contained HTML file with
// the page, the script, the styles and the data inlined. It builds nothing at run time.

import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { findingsOf, type Finding } from "./model/clients.js";
import type { TraceInput } from "./model/trace.js";

/** A problem with the user's input or setup; the message is one line for the terminal. */
export class ViewError extends Error {}

export interface ViewData {
  readonly inputs: readonly TraceInput[];
  readonly findings: readonly Finding[];
}

const ASSETS = ["index.html", "main.js", "style.css"] as const;

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "it is a directory" : code === "EACCES" ? "permission denied" : (e as Error).message;
    throw new ViewError(`cannot read ${path}: ${why}`);
  }
}

/** Whether the text's first line is a trace header or an event (the page reports anything deeper). */
function looksLikeTrace(text: string): boolean {
  const first = text.split("\n", 50).find((l) => l.trim() !== "");
  if (first === undefined) return false;
  try {
    const v = JSON.parse(first) as unknown;
    if (v === null || typeof v !== "object" || Array.isArray(v)) return false;
    const r = v as Record<string, unknown>;
    return r["type"] === "header" || (typeof r["t"] === "number" && typeof r["type"] === "string");
  } catch {
    return false;
  }
}

/** Reads the files: traces and logs to show, and `sim run --json` results to mark findings from. */
export function readViewData(files: readonly string[]): ViewData {
  if (files.length === 0) throw new ViewError("name at least one trace or log file");
  const inputs: TraceInput[] = [];
  const findings: Finding[] = [];
  for (const path of files) {
    const text = readText(path);
    if (looksLikeTrace(text)) {
      inputs.push({ name: basename(path), text });
      continue;
    }
    let parsed: unknown = undefined;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Neither a trace nor a JSON document: reported below.
    }
    const found = findingsOf(parsed);
    if (found === null) throw new ViewError(`${path}: not a trace, a node log or a sim run --json result (its first line is not a trace event)`);
    findings.push(...found);
  }
  if (inputs.length === 0) throw new ViewError("no trace among the files: give a trace (sim run --trace) or node logs as well");
  return { inputs, findings };
}

/** Where the built page is: beside this module once compiled (dist/viz/), else dist/viz/ of the repo. */
export function assetsDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const dir of [here, join(here, "..", "dist", "viz")]) if (ASSETS.every((a) => existsSync(join(dir, a)))) return dir;
  throw new ViewError("the viewer is not built: run npm run build");
}

/** `<` escaped so that no text inside can close the script element it sits in. */
function scriptSafe(text: string): string {
  return text.replace(/<\/(script)/gi, "<\\/$1").replace(/<!--/g, "<\\!--");
}

function attribute(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
}

/**
 * A trace or log inside a script element, as raw JSON lines: `<` only occurs inside JSON strings,
 * where `\u003c` means the same, so the page parses the text as it stands (no unescaping pass).
 */
function traceScript(input: TraceInput): string {
  return `<script type="application/x-ndjson" class="faultline-trace" data-name="${attribute(input.name)}">${input.text.replace(/</g, "\\u003c")}</script>`;
}

/** One HTML file with everything inlined: opens from disk, no server, attachable to a bug report. */
export function reportHtml(data: ViewData, dir = assetsDir()): string {
  const html = readFileSync(join(dir, "index.html"), "utf8");
  const css = readFileSync(join(dir, "style.css"), "utf8");
  const js = readFileSync(join(dir, "main.js"), "utf8");
  const styleTag = '<link rel="stylesheet" href="style.css">';
  const scriptTag = '<script src="main.js"></script>';
  if (!html.includes(styleTag) || !html.includes(scriptTag)) throw new ViewError(`${join(dir, "index.html")} is not the viewer's page: rebuild with npm run build`);
  const findings = `<script id="faultline-findings" type="application/json">${JSON.stringify(data.findings).replace(/</g, "\\u003c")}</script>`;
  // Replacer functions, so that `$&` and friends in the bundle or a trace are not read as patterns.
  return html
    .replace(styleTag, () => `<style>${css.replace(/<\/(style)/gi, "<\\/$1")}</style>`)
    .replace(scriptTag, () => [...data.inputs.map(traceScript), findings, `<script>${scriptSafe(js)}</script>`].join("\n"));
}

export interface Served {
  readonly url: string;
  close(): Promise<void>;
}

const TYPES: Readonly<Record<string, string>> = { "index.html": "text/html; charset=utf-8", "main.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8" };

/**
 * Serves the page on 127.0.0.1 (port 0: any free port), `data.json` (the inputs' names and
 * addresses, and the findings) and each input's text as it is at `trace/<k>`: the page fetches
 * the text itself rather than a JSON string holding it, which would cost a second parse.
 */
export async function serveView(data: ViewData, port = 0, dir = assetsDir()): Promise<Served> {
  const body = JSON.stringify({ inputs: data.inputs.map((input, k) => ({ name: input.name, href: `trace/${k}` })), findings: data.findings });
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://localhost").pathname.replace(/^\/+/, "") || "index.html";
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405).end();
    } else if (path === "data.json") {
      res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" }).end(body);
    } else if (/^trace\/\d+$/.test(path) && data.inputs[Number(path.slice(6))] !== undefined) {
      res.writeHead(200, { "content-type": "application/x-ndjson; charset=utf-8", "cache-control": "no-store" }).end(data.inputs[Number(path.slice(6))]?.text);
    } else if ((ASSETS as readonly string[]).includes(path)) {
      res.writeHead(200, { "content-type": TYPES[path] ?? "application/octet-stream", "cache-control": "no-store" }).end(readFileSync(join(dir, path)));
    } else {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) => reject(e.code === "EADDRINUSE" ? new ViewError(`port ${port} is in use: choose another with --port, or 0 for any`) : e));
    server.listen(port, "127.0.0.1", resolve);
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}/`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface ViewArgs {
  readonly files: readonly string[];
  readonly out?: string | undefined;
  readonly port?: number | undefined;
}

/**
 * The `view` subcommand of both CLIs: writes the report, or serves until Ctrl-C (then resolves).
 * `say` prints one line for the user.
 */
export async function runView(args: ViewArgs, say: (line: string) => void): Promise<void> {
  if (args.port !== undefined && (!Number.isInteger(args.port) || args.port < 0 || args.port > 65535)) throw new ViewError(`--port ${args.port}: expected 0..65535`);
  const data = readViewData(args.files);
  if (args.out !== undefined) {
    const html = reportHtml(data);
    try {
      writeFileSync(args.out, html);
    } catch (e) {
      throw new ViewError(`cannot write ${args.out}: ${(e as Error).message}`);
    }
    say(`Wrote ${args.out} (${Math.round(html.length / 1024).toLocaleString("en")} KB): open it in a browser.`);
    return;
  }
  const served = await serveView(data, args.port ?? 0);
  say(`Viewer: ${served.url}  (Ctrl-C stops it)`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  await served.close();
}
