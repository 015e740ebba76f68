// Checksummed records: the line format of every durable file a real node keeps (the cluster node's
// nodes.conf, AOF and snapshot files; the Raft member's log and snapshot), and how a file is read
// back — and repaired — at start. disk.ts writes the lines; disk.ts's `recover` (cluster node) and
// raft-records.ts's `recoverRaftDir` (Raft member) read them with `recoverRecordFile`.
//
// Each record is one line: the CRC-32 (zlib's) of the record's JSON text as 8 lower-case hex
// digits, a space, the JSON text, a newline:
//
//   3a1f09c2 {"k":"step","term":3,"votedFor":"n2","log":null}
//
// JSON text never holds a raw newline, so lines are records; the checksum catches a torn or
// damaged record that happens to parse.
//
// Reading a file back (`parseRecordFile`):
// - a last line without its newline is a torn append (a crash mid-write): it is cut;
// - a complete line that fails its checksum (or is not `crc json`) with nothing valid after it is
//   a damaged tail (a crash left garbage, or zeros, on some filesystems): it is cut, with
//   everything after it;
// - a damaged line with a valid record after it is damage in the middle, which no crash causes:
//   the file cannot be trusted and the node must not start (a clear message naming file and line);
// - a file that is only ever replaced whole (temp file, fsync, rename) is never torn, so any damage
//   in it is refused too;
// - a file whose first line is plain JSON was written by an older Faultline (JSON lines without a
//   checksum): refused, rather than cut away as a damaged tail.
// What is cut is also truncated on disk (and fsynced) before the node appends again, so a cut tail
// can never end up in the middle of the file (`recoverRecordFile`). Each file's outcome is
// reported for the log.

import { closeSync, fsyncSync, ftruncateSync, openSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import type { RecoveredFile } from "../core/machine.js";
import type { Json } from "../core/trace.js";

/** The largest file read back at start: what readFileSync reads in one go (2 GiB - 1). */
const RECORD_FILE_BYTES_MAX = 2 ** 31 - 1;
const CRC_HEX_CHARS = 8;
const NEWLINE = 0x0a;
const SPACE = 0x20;

/**
 * A durable file a node must not start from: the message says which, where and what to do.
 * Each host has its own subclass (RecoveryError, RaftDiskError), which its CLI reports in one line.
 */
export class RecordFileError extends Error {}

/** How one file is read back, as its host decides. */
export interface RecordFilePolicy {
  /**
   * The file is appended to, so a crash can leave a torn or damaged tail: it is cut. A file that
   * is only ever replaced whole is never torn: any damage in it is refused.
   */
  readonly appended: boolean;
  /** What the operator can do about a refused file; it ends the error's message. */
  readonly remedy: string;
  /** The error thrown for a refused file. */
  readonly error: new (message: string) => RecordFileError;
}

/** One record as its line: `<crc32 hex> <json>\n`. */
export function recordLine(record: Json): string {
  const json = JSON.stringify(record);
  return `${crcHex(json)} ${json}\n`;
}

/** The CRC-32 of `data` in 8 hex digits (a string is taken as its UTF-8 bytes, without copying it to a Buffer first). */
function crcHex(data: Buffer | string): string {
  return crc32(data).toString(16).padStart(CRC_HEX_CHARS, "0");
}

/** A line's record, or why it is not one. `line` excludes the newline. */
export function parseLine(line: Buffer): { ok: true; record: Json } | { ok: false; why: string } {
  if (line.length < CRC_HEX_CHARS + 2 || line[CRC_HEX_CHARS] !== SPACE) return { ok: false, why: "not a checksummed record" };
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
 * The records of one file's bytes, cutting a torn or damaged tail of an appended file; throws
 * `policy.error` for damage before the last valid record, for any damage in a file replaced
 * whole, and for a file in the format before checksums.
 */
export function parseRecordFile(bytes: Buffer, path: string, policy: RecordFilePolicy): ParsedFile {
  const records: Json[] = [];
  let start = 0;
  let line = 1;
  let firstBad: { line: number; offset: number; why: string } | null = null;
  for (;;) {
    const nl = bytes.indexOf(NEWLINE, start);
    if (nl < 0) break;
    const parsed = parseLine(bytes.subarray(start, nl));
    if (parsed.ok) {
      if (firstBad !== null) throw middleDamage(path, firstBad.line, firstBad.why, line, policy);
      records.push(parsed.record);
    } else if (firstBad === null) {
      if (line === 1 && isPlainJson(bytes.subarray(start, nl))) {
        throw new policy.error(`${path} was written by an older Faultline (JSON lines without checksums), which this version does not read; ${policy.remedy}`);
      }
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
  if (!policy.appended) {
    // Line 1 already bad: most likely a file some other program wrote (a redis-server nodes.conf).
    if (validBytes === 0 && firstBad !== null) throw new policy.error(`${path} line 1 is not a Faultline record (${firstBad.why}): not a Faultline data file, or a damaged one; ${policy.remedy}`);
    throw new policy.error(`${path} is damaged: ${cutReason}. It is replaced whole and never torn, so this is not a crash mid-write; ${policy.remedy}`);
  }
  return { records, validBytes, droppedBytes, cutReason };
}

function isPlainJson(line: Buffer): boolean {
  try {
    JSON.parse(line.toString("utf8"));
    return true;
  } catch {
    return false;
  }
}

function middleDamage(path: string, badLine: number, why: string, goodLine: number, policy: RecordFilePolicy): RecordFileError {
  return new policy.error(
    `${path} line ${badLine} is damaged (${why}) but line ${goodLine} after it is a valid record: the file is corrupt before its end, ` +
      `which no crash causes. Refusing to start on it; ${policy.remedy}`,
  );
}

/** One file's outcome at start, for the node's log. */
export interface RecordFileReport {
  readonly file: string;
  readonly records: number;
  /** Bytes cut off the end (0: none), and why (null: nothing cut). */
  readonly droppedBytes: number;
  readonly cutReason: string | null;
}

/**
 * Reads `dir`/`name` back under `policy`. A cut tail is truncated away on disk and fsynced before
 * this returns, so the node's next append follows the last good record. Throws `policy.error`
 * when the file cannot be trusted (or is not a regular file, or too large to be ours).
 */
export function recoverRecordFile(dir: string, name: string, policy: RecordFilePolicy): { file: RecoveredFile; report: RecordFileReport } {
  const path = join(dir, name);
  const st = statSync(path);
  if (!st.isFile()) throw new policy.error(`${path} is not a file; ${policy.remedy}`);
  if (st.size > RECORD_FILE_BYTES_MAX) throw new policy.error(`${path} is ${st.size} bytes, more than a Faultline file can be (${RECORD_FILE_BYTES_MAX}): not one of ours; ${policy.remedy}`);
  const parsed = parseRecordFile(readFileSync(path), path, policy);
  if (parsed.droppedBytes > 0) truncate(path, parsed.validBytes);
  return {
    file: { records: parsed.records, tornTail: parsed.droppedBytes > 0 },
    report: { file: name, records: parsed.records.length, droppedBytes: parsed.droppedBytes, cutReason: parsed.cutReason },
  };
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
