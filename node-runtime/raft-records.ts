// The Raft store's files on disk, checksummed: how a record is written and how the files are read
// back (and repaired) at start.
//
// Each record is one line: the CRC-32 (zlib's) of the record's JSON text as 8 lower-case hex
// digits, a space, the JSON text, a newline:
//
//   3a1f09c2 {"k":"step","term":3,"votedFor":"n2","log":null}
//
// JSON text never holds a raw newline, so lines are records; the checksum catches a torn or
// damaged record that happens to parse. node-runtime/disk.ts writes the lines (`recordLine` is
// its encoder): appends grouped with one fsync, whole-file replaces by temp file and rename.
//
// Reading back (`recoverRaftDir`), per file:
// - a last line without its newline is a torn append (a crash mid-write): it is cut;
// - a complete line that fails its checksum (or is not `crc json`) with nothing valid after it is
//   a damaged tail (a crash left garbage, or zeros): it is cut, with everything after it;
// - a damaged line with a valid record after it is damage in the middle: the file cannot be
//   trusted and the node must not start (`RaftDiskError`, a clear message naming file and line);
// - raft-snapshot is only ever replaced whole (temp file, fsync, rename), so any damage there is
//   refused too.
// What is cut is also truncated on disk (and fsynced) before the node appends again, so a cut
// tail can never end up in the middle of the file. Each file's outcome is reported for the log.

import { closeSync, existsSync, fsyncSync, ftruncateSync, openSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import type { Recovered, RecoveredFile } from "../core/machine.js";
import { LOG_FILE, SNAPSHOT_FILE } from "../core/raft/storage.js";
import type { Json } from "../core/trace.js";

/** The files a Raft member keeps in its --dir (core/raft/storage.ts names them). */
export const RAFT_FILES = [LOG_FILE, SNAPSHOT_FILE] as const;
/** Largest file read back at start: beyond it the file is not one of ours. */
const RAFT_FILE_BYTES_MAX = 4 * 1024 * 1024 * 1024 - 1;
const CRC_HEX_CHARS = 8;
const NEWLINE = 0x0a;

/** The disk holds something a Raft member cannot start from: the message says what and where. */
export class RaftDiskError extends Error {}

/** One record as its line: `<crc32 hex> <json>\n`. */
export function recordLine(record: Json): string {
  const json = JSON.stringify(record);
  return `${crcHex(Buffer.from(json, "utf8"))} ${json}\n`;
}

function crcHex(bytes: Buffer): string {
  return crc32(bytes).toString(16).padStart(CRC_HEX_CHARS, "0");
}

/** A line's record, or why it is not one. `line` excludes the newline. */
export function parseLine(line: Buffer): { ok: true; record: Json } | { ok: false; why: string } {
  if (line.length < CRC_HEX_CHARS + 2 || line[CRC_HEX_CHARS] !== 0x20) return { ok: false, why: "not a checksummed record" };
  const expected = line.toString("latin1", 0, CRC_HEX_CHARS);
  if (!/^[0-9a-f]{8}$/.test(expected)) return { ok: false, why: "not a checksummed record" };
  const json = line.subarray(CRC_HEX_CHARS + 1);
  if (crcHex(json) !== expected) return { ok: false, why: "checksum mismatch" };
  try {
    return { ok: true, record: JSON.parse(json.toString("utf8")) as Json };
  } catch {
    // The checksum matched text that is not JSON: written so by a bug, not by a crash.
    return { ok: false, why: "checksummed text that is not JSON" };
  }
}

/** What reading one file found. `validBytes`: the length of the part kept. */
export interface ParsedFile {
  readonly records: Json[];
  readonly validBytes: number;
  /** Bytes cut off the end (0: none), and why. */
  readonly droppedBytes: number;
  readonly cutReason: string | null;
}

/**
 * The records of one file's bytes, cutting a torn or damaged tail; throws RaftDiskError for
 * damage before the last valid record (or anywhere, with `cutTail` false).
 */
export function parseRecordFile(bytes: Buffer, path: string, cutTail: boolean): ParsedFile {
  const records: Json[] = [];
  let start = 0;
  let line = 1;
  let firstBad: { line: number; offset: number; why: string } | null = null;
  for (;;) {
    const nl = bytes.indexOf(NEWLINE, start);
    if (nl < 0) break;
    const parsed = parseLine(bytes.subarray(start, nl));
    if (parsed.ok) {
      if (firstBad !== null) throw middleDamage(path, firstBad.line, firstBad.why, line);
      records.push(parsed.record);
    } else if (firstBad === null) {
      firstBad = { line, offset: start, why: parsed.why };
    }
    start = nl + 1;
    line += 1;
  }
  const validBytes = firstBad?.offset ?? start;
  const droppedBytes = bytes.length - validBytes;
  if (droppedBytes === 0) return { records, validBytes, droppedBytes, cutReason: null };
  const cutReason =
    firstBad === null
      ? `torn last record (${droppedBytes} bytes without a newline)`
      : `damaged tail from line ${firstBad.line} (${firstBad.why}; ${droppedBytes} bytes)`;
  if (!cutTail) {
    throw new RaftDiskError(`${path} is damaged: ${cutReason}. It is replaced whole and never torn, so this is not a crash mid-write; restore it from a backup, or remove this member's --dir and add it back as a new member`);
  }
  return { records, validBytes, droppedBytes, cutReason };
}

function middleDamage(path: string, badLine: number, why: string, goodLine: number): RaftDiskError {
  return new RaftDiskError(
    `${path} line ${badLine} is damaged (${why}) but line ${goodLine} after it is a valid record: the log is corrupt before its end, ` +
      "which no crash causes. Refusing to start on it; remove this member's --dir and add it back as a new member (faultline raft --help), or restore the file from a backup",
  );
}

/** One file's outcome at start, for the node's log. */
export interface RaftFileReport {
  readonly file: string;
  readonly records: number;
  readonly droppedBytes: number;
  readonly cutReason: string | null;
}

/**
 * Reads raft-log and raft-snapshot from `dir` as the node's `Recovered` (null when neither exists:
 * a fresh member). A cut tail of raft-log is truncated away on disk and fsynced before this
 * returns. Throws RaftDiskError when a file cannot be trusted.
 */
export function recoverRaftDir(dir: string): { recovered: Recovered | null; reports: RaftFileReport[] } {
  const files: Record<string, RecoveredFile> = {};
  const reports: RaftFileReport[] = [];
  for (const name of RAFT_FILES) {
    const path = join(dir, name);
    if (!existsSync(path)) continue;
    const st = statSync(path);
    if (!st.isFile()) throw new RaftDiskError(`${path} is not a file`);
    if (st.size > RAFT_FILE_BYTES_MAX) throw new RaftDiskError(`${path} is ${st.size} bytes: not a Faultline Raft file`);
    const parsed = parseRecordFile(readFileSync(path), path, name === LOG_FILE);
    if (parsed.droppedBytes > 0) truncate(path, parsed.validBytes);
    files[name] = { records: parsed.records, tornTail: parsed.droppedBytes > 0 };
    reports.push({ file: name, records: parsed.records.length, droppedBytes: parsed.droppedBytes, cutReason: parsed.cutReason });
  }
  return { recovered: reports.length === 0 ? null : { files }, reports };
}

/** Cuts the file to `length` bytes and makes the cut durable. */
function truncate(path: string, length: number): void {
  const fd = openSync(path, "r+");
  try {
    ftruncateSync(fd, length);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
