// The Raft store's files at start: which files a member keeps, and how they are read back. The
// line format and the cut/refuse rules are records.ts's (shared with the cluster node); this file
// says which Raft file is appended to and what an operator does about one that is refused.
//
// - raft-log is appended to (and sometimes replaced whole by a compaction): a torn or damaged tail
//   is a crash's work, cut and truncated away on disk before the member appends again;
// - raft-snapshot is only ever replaced whole (temp file, fsync, rename), so any damage there is
//   refused, as is damage in the middle of raft-log (`RaftDiskError`, naming file and line).

import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Recovered, RecoveredFile } from "../core/machine.js";
import { LOG_FILE, SNAPSHOT_FILE } from "../core/raft/storage.js";
import { RecordFileError, type RecordFilePolicy, type RecordFileReport, recoverRecordFile } from "./records.js";

/** The files a Raft member keeps in its --dir (core/raft/storage.ts names them). */
export const RAFT_FILES = [LOG_FILE, SNAPSHOT_FILE] as const;

/** The disk holds something a Raft member cannot start from: the message says what and where. */
export class RaftDiskError extends RecordFileError {}

const RAFT_REMEDY = "remove this member's --dir and add it back as a new member (faultline raft --help), or restore the file from a backup";

function policy(name: string): RecordFilePolicy {
  return { appended: name === LOG_FILE, remedy: RAFT_REMEDY, error: RaftDiskError };
}

/**
 * Reads raft-log and raft-snapshot from `dir` as the node's `Recovered` (null when neither exists:
 * a fresh member). A cut tail of raft-log is truncated away on disk and fsynced before this
 * returns. Throws RaftDiskError when a file cannot be trusted.
 */
export function recoverRaftDir(dir: string): { recovered: Recovered | null; reports: RecordFileReport[] } {
  const files: Record<string, RecoveredFile> = {};
  const reports: RecordFileReport[] = [];
  for (const name of RAFT_FILES) {
    if (!existsSync(join(dir, name))) continue;
    const { file, report } = recoverRecordFile(dir, name, policy(name));
    files[name] = file;
    reports.push(report);
  }
  return { recovered: reports.length === 0 ? null : { files }, reports };
}
