// The keyspace's public surface: what hosts and the cluster node import.

export { bytesToByteString, byteStringToBytes, byteStringToText, textToByteString } from "./bytes.js";
export { COMMANDS, type CommandFlag, type CommandSpec, arityOk, commandKeys } from "./commands.js";
export type { KeyspaceLimits } from "./ctx.js";
export { globMatch } from "./glob.js";
export { ACTIVE_EXPIRE_REPEAT_PERCENT, ACTIVE_EXPIRE_SAMPLE_KEYS, type ActiveExpireReport, type BlockOn, DEFAULT_LIMITS, Keyspace, type ListEnd, type Result, type SlotOf, type SnapshotEntry, unknownCommandError } from "./keyspace.js";
