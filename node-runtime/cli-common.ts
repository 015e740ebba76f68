// What the `faultline` commands share (cli.ts for Redis Cluster nodes, raft-cli.ts for Raft
// members): exit statuses, running a node process around its host, and running an admin command
// with its output on the terminal.
//
// A node process (`faultline node`, `faultline raft node`) exits 2 for bad usage, before it logs
// anything; 1 when it cannot start or run, with a `fatal` log line (and the same on stderr when the
// log goes to a file); 0 once SIGTERM or SIGINT has stopped it gracefully. A second signal during
// the stop exits 1 at once.

import { createInterface } from "node:readline/promises";
import { asAdminError, type Out } from "./admin.js";
import type { NodeLog } from "./log.js";

export const EXIT = { stopped: 0, failed: 1, usage: 2 } as const;

export function isErrno(e: unknown): e is NodeJS.ErrnoException {
  return e instanceof Error && typeof (e as NodeJS.ErrnoException).code === "string";
}

/** `settings()`; a `UsageError` it throws is printed after `command` and the process exits 2. */
export function settingsOrExit<T>(command: string, UsageError: abstract new (...args: never[]) => Error, settings: () => T): T {
  try {
    return settings();
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`${command}: ${e.message}\n`);
    return process.exit(EXIT.usage);
  }
}

/**
 * The way out of a node process that cannot go on: a `fatal` log line, flushed; the same after
 * `command` on stderr when the log goes to a file (on stderr it has just been said); exit 1. An
 * uncaught exception (a bug) takes it too.
 */
export function fatalExit(command: string, log: NodeLog, logfile: string | null): (why: string) => never {
  const fatal = (why: string): never => {
    log.event("fatal", "fatal", { error: why });
    log.flush();
    if (logfile !== null) process.stderr.write(`${command}: ${why}\n`);
    process.exit(EXIT.failed);
  };
  process.on("uncaughtException", (e) => fatal(`internal error (a bug in faultline): ${e.stack ?? e.message}`));
  return fatal;
}

/** What a node process runs: a NodeHost or a RaftHost. */
export interface Host {
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface ServeOptions {
  /** The host's data directory, named when it cannot be used. */
  readonly dir: string;
  /** A start error the user can act on (a file the host must not start from), fatal with its message. */
  readonly isStartError: (e: unknown) => e is Error;
  /** The address or option of a port that could not be listened on, from the error's port. */
  readonly listenWhat: (port: number | undefined) => string;
  /** Printed on stdout once started: where the node listens, its dir and log. */
  readonly startLine: string;
}

/**
 * Starts `host` (a start failure the user can act on is `fatal` in one line: a bad file, a port
 * in use, a directory it cannot use), says so on stdout, and runs until SIGTERM or SIGINT, which
 * stop it gracefully.
 */
export async function serve(host: Host, log: NodeLog, fatal: (why: string) => never, opts: ServeOptions): Promise<void> {
  try {
    await host.start();
  } catch (e) {
    if (opts.isStartError(e)) fatal(e.message);
    if (isErrno(e) && e.syscall === "listen") fatal(`cannot listen on ${opts.listenWhat((e as { port?: number }).port)}: ${e.code}`);
    if (isErrno(e)) fatal(`cannot use ${opts.dir}: ${e.message}`);
    throw e;
  }
  process.stdout.write(`${opts.startLine}\n`);
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(EXIT.failed); // a second signal: stop now
    stopping = true;
    log.event("info", "signal", { signal });
    host.stop().then(
      () => process.exit(EXIT.stopped),
      (e: unknown) => fatal(`shutdown failed: ${e instanceof Error ? e.message : String(e)}`),
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}

/**
 * Runs an admin command (`cluster …`, `local …`, `raft local …`) writing to the terminal; its
 * AdminError (or a connection or reply error) is printed as `[ERR] …`, exit 1, as is a `false`
 * result. `progress: false` leaves progress reports out.
 */
export async function admin(run: (out: Out) => Promise<boolean | void>, { progress = true } = {}): Promise<void> {
  const out = terminalOut(progress);
  try {
    const ok = await run(out);
    out.end();
    if (ok === false) process.exitCode = EXIT.failed;
  } catch (e) {
    out.end();
    const a = asAdminError(e);
    if (a === null) throw e;
    process.stderr.write(`[ERR] ${a.message}\n`);
    process.exitCode = EXIT.failed;
  }
}

/**
 * stdout for the admin commands. On a terminal a progress report rewrites its line; otherwise
 * (a pipe, a log) it is printed at most once a second, so logs stay short.
 */
function terminalOut(showProgress: boolean): Out & { end(): void } {
  const tty = process.stdout.isTTY === true;
  let showing = false;
  let lastProgressMs = 0;
  const endProgress = () => {
    if (showing) process.stdout.write("\n");
    showing = false;
  };
  return {
    line(text) {
      endProgress();
      process.stdout.write(`${text}\n`);
    },
    progress(text) {
      if (!showProgress) return;
      if (tty) {
        process.stdout.write(`\r\x1b[K${text}`);
        showing = true;
      } else if (Date.now() - lastProgressMs >= 1000) {
        lastProgressMs = Date.now();
        process.stdout.write(`${text}\n`);
      }
    },
    async confirm(question) {
      endProgress();
      const rl = createInterface({ input: process.stdin, output: process.stdout });
      try {
        // EOF on stdin (nothing to read) is a no.
        const answer = await Promise.race([rl.question(question), new Promise<string>((r) => rl.once("close", () => r("")))]);
        return answer.trim() === "yes";
      } finally {
        rl.close();
      }
    },
    end: endProgress,
  };
}
