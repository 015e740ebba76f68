// Where trace lines go: a file, a hash, memory, or a byte-for-byte comparison with a file.

import { createHash, type Hash } from "node:crypto";
import { closeSync, openSync, readSync, writeSync } from "node:fs";

export interface TraceSink {
  write(line: string): void;
  close(): void;
}

/** Hashes every line (with its newline) as written, so any sink can report the trace's sha256. */
export class HashingSink implements TraceSink {
  private readonly hash: Hash = createHash("sha256");
  lines = 0;
  bytes = 0;
  private digestValue: string | null = null;

  constructor(private readonly inner: TraceSink | null = null) {}

  write(line: string): void {
    const s = `${line}\n`;
    this.hash.update(s);
    this.lines += 1;
    this.bytes += Buffer.byteLength(s);
    this.inner?.write(line);
  }

  close(): void {
    if (this.digestValue === null) this.digestValue = this.hash.digest("hex");
    this.inner?.close();
  }

  get sha256(): string {
    if (this.digestValue === null) this.close();
    return this.digestValue as string;
  }
}

/** Appends lines to a file in large writes. */
export class FileSink implements TraceSink {
  private readonly fd: number;
  private buffer: string[] = [];
  private buffered = 0;
  private closed = false;

  constructor(readonly path: string) {
    this.fd = openSync(path, "w");
  }

  write(line: string): void {
    this.buffer.push(line);
    this.buffered += line.length + 1;
    if (this.buffered >= 1 << 16) this.flush();
  }

  flush(): void {
    if (this.buffer.length === 0) return;
    writeSync(this.fd, `${this.buffer.join("\n")}\n`);
    this.buffer = [];
    this.buffered = 0;
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    closeSync(this.fd);
    this.closed = true;
  }
}

export class MemorySink implements TraceSink {
  readonly lines: string[] = [];
  write(line: string): void {
    this.lines.push(line);
  }
  close(): void {}
}

/** Reads a file line by line without loading it whole. */
export class LineReader {
  private readonly fd: number;
  private pending = "";
  private readonly chunk = Buffer.alloc(1 << 16);
  private eof = false;
  private queue: string[] = [];

  constructor(path: string) {
    this.fd = openSync(path, "r");
  }

  next(): string | null {
    while (this.queue.length === 0) {
      if (this.eof) {
        if (this.pending === "") return null;
        const last = this.pending;
        this.pending = "";
        return last;
      }
      const n = readSync(this.fd, this.chunk, 0, this.chunk.length, null);
      if (n === 0) {
        this.eof = true;
        continue;
      }
      const text = this.pending + this.chunk.toString("utf8", 0, n);
      const parts = text.split("\n");
      this.pending = parts.pop() ?? "";
      this.queue = parts;
    }
    return this.queue.shift() ?? null;
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** Compares written lines with a reference file; remembers the first difference. */
export class CompareSink implements TraceSink {
  lineNo = 0;
  mismatch: { line: number; expected: string | null; actual: string | null } | null = null;

  constructor(private readonly reference: LineReader) {}

  write(line: string): void {
    this.lineNo += 1;
    if (this.mismatch !== null) return;
    const expected = this.reference.next();
    if (expected !== line) this.mismatch = { line: this.lineNo, expected, actual: line };
  }

  close(): void {
    if (this.mismatch === null) {
      const extra = this.reference.next();
      if (extra !== null && extra !== "") this.mismatch = { line: this.lineNo + 1, expected: extra, actual: null };
    }
    this.reference.close();
  }
}
