// Pub/sub for one node: classic channels, patterns and sharded channels, as redis-server 7.0's
// pubsub.c keeps them (SUBSCRIBE PSUBSCRIBE SSUBSCRIBE and their UN- forms, PUBLISH and SPUBLISH
// delivery, PUBSUB introspection), plus the slot clean-up of cluster.c's removeChannelsInSlot.
//
// The registry only says who hears what: the node decides where messages go (its clients, the
// cluster bus), checks slots for the shard commands (MOVED, CROSSSLOT) and refuses SSUBSCRIBE
// in MULTI (Redis's CLIENT_DENY_BLOCKING). Channels, patterns and messages are byte strings.
// Every message is a RESP3 push; the RESP writer sends it to a RESP2 client as the array Redis
// sends.
//
// Where Faultline differs from Redis 7.0, on purpose (all orders are deterministic here):
// - UNSUBSCRIBE / SUNSUBSCRIBE with no names go through the client's channels in subscription
//   order; Redis walks the client's dict in hash order. (PUNSUBSCRIBE: both use subscription order.)
// - PUBLISH reaches matching patterns in the order they were created (first subscribed since they
//   last had no subscriber); Redis walks its pattern dict in hash order. Subscribers of one channel
//   or pattern are reached in subscription order, as Redis 7.0's client lists are.
// - PUBSUB CHANNELS / SHARDCHANNELS list channels in creation order; Redis uses hash order.

import { assert, assertNever } from "../machine.js";
import { bulk, byteStringToText, upperAscii } from "../keyspace/bytes.js";
import { globMatch } from "../keyspace/glob.js";
import { Resp, type RespValue } from "../resp/codec.js";

/** The host's name for one client connection. */
export type ClientId = string;

/** Classic channel (SUBSCRIBE), pattern (PSUBSCRIBE) or shard channel (SSUBSCRIBE). */
export type SubKind = "channel" | "pattern" | "shard";

/** A push message for one client. */
export interface Delivery {
  readonly client: ClientId;
  readonly msg: RespValue;
}

/** What one PUBLISH or SPUBLISH did on this node. */
export interface Published {
  /** In delivery order. Several deliveries may share one message value. */
  readonly deliveries: Delivery[];
  /** The integer PUBLISH answers: one per delivery, so a client reached twice counts twice. */
  readonly receivers: number;
}

const KINDS: readonly SubKind[] = ["channel", "pattern", "shard"];

/** One client's subscriptions by kind; each Set keeps subscription order. */
type ClientSubs = Record<SubKind, Set<string>>;

/** The reply words of each kind, built once: pushes share them. */
const WORDS: Record<SubKind, { readonly subscribe: RespValue; readonly unsubscribe: RespValue }> = {
  channel: { subscribe: Resp.bulk("subscribe"), unsubscribe: Resp.bulk("unsubscribe") },
  pattern: { subscribe: Resp.bulk("psubscribe"), unsubscribe: Resp.bulk("punsubscribe") },
  shard: { subscribe: Resp.bulk("ssubscribe"), unsubscribe: Resp.bulk("sunsubscribe") },
};
const MESSAGE = Resp.bulk("message");
const PMESSAGE = Resp.bulk("pmessage");
const SMESSAGE = Resp.bulk("smessage");

/** Subcommand names longer than this are cut in errors, as Redis's `%.128s`. */
const QUOTED_BYTES_MAX = 128;

/** PUBSUB HELP: Redis 7.0's text, header and HELP footer included. */
const HELP: RespValue = Resp.array(
  [
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Print this help.",
  ].map(Resp.simple),
);

type Subcommand = "CHANNELS" | "NUMPAT" | "NUMSUB" | "SHARDCHANNELS" | "SHARDNUMSUB" | "HELP";

/**
 * PUBSUB's subcommands and their arities as Redis 7.0's command table has them (counting
 * "PUBSUB" and the subcommand; negative means "at least").
 */
const SUBCOMMAND_ARITY: ReadonlyMap<Subcommand, number> = new Map<Subcommand, number>([
  ["CHANNELS", -2],
  ["NUMPAT", 2],
  ["NUMSUB", -2],
  ["SHARDCHANNELS", -2],
  ["SHARDNUMSUB", -2],
  ["HELP", 2],
]);

/** The commands processCommand lets a RESP2 client run while it has any subscription. */
const ALLOWED_WHILE_SUBSCRIBED: ReadonlySet<string> = new Set(["ping", "subscribe", "ssubscribe", "unsubscribe", "sunsubscribe", "psubscribe", "punsubscribe", "quit", "reset"]);

/**
 * Whether a RESP2 client in subscribed mode (`count + shardCount > 0`) may run command `name`
 * (any case). RESP3 clients may run anything. Redis checks this after the command's existence and
 * arity, so the host should too.
 */
export function allowedWhileSubscribed(name: string): boolean {
  return ALLOWED_WHILE_SUBSCRIBED.has(name.toLowerCase());
}

/**
 * Redis 7.0's refusal for the others. `name` is the command's full name as the command table
 * spells it ("get", "pubsub|numsub"): Redis prints `cmd->fullname`, which is lower case.
 */
export function subscribedModeError(name: string): string {
  return `ERR Can't execute '${name.toLowerCase()}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context`;
}

/** The pub/sub registry of one node. */
export class PubSub {
  /** Subscriptions by client. A client with none has no entry, so idle clients cost nothing. */
  private readonly clients = new Map<ClientId, ClientSubs>();
  /**
   * Subscribers by name, per kind. A name with no subscriber has no entry; Map order is creation
   * order (first subscription since it last had none), Set order is subscription order.
   */
  private readonly subscribers: Record<SubKind, Map<string, Set<ClientId>>> = { channel: new Map(), pattern: new Map(), shard: new Map() };

  /**
   * SUBSCRIBE / PSUBSCRIBE / SSUBSCRIBE: one confirmation per name, in order:
   * push [subscribe|psubscribe|ssubscribe, name, count], where count is what Redis counts for the
   * kind (channels + patterns for classic, shard channels alone for shard). Subscribing twice keeps
   * one subscription.
   */
  subscribe(client: ClientId, kind: SubKind, names: readonly string[]): RespValue[] {
    assert(names.length > 0, "subscribe needs at least one name (the command's arity)");
    let subs = this.clients.get(client);
    if (subs === undefined) {
      subs = { channel: new Set(), pattern: new Set(), shard: new Set() };
      this.clients.set(client, subs);
    }
    const mine = subs[kind];
    const registry = this.subscribers[kind];
    const replies: RespValue[] = [];
    for (const name of names) {
      if (!mine.has(name)) {
        mine.add(name);
        const set = registry.get(name);
        if (set === undefined) registry.set(name, new Set([client]));
        else set.add(client);
      }
      replies.push(Resp.push([WORDS[kind].subscribe, bulk(name), Resp.integer(countOf(subs, kind))]));
    }
    return replies;
  }

  /**
   * UNSUBSCRIBE / PUNSUBSCRIBE / SUNSUBSCRIBE: one notice per name, push [unsubscribe|…, name,
   * count]; a name the client was not subscribed to is still confirmed. `names` empty means all
   * of that kind, in subscription order; when the client has none, one notice with a null name
   * and the client's count (0 unless it holds subscriptions of the other classic kind), as Redis.
   */
  unsubscribe(client: ClientId, kind: SubKind, names: readonly string[]): RespValue[] {
    const subs = this.clients.get(client);
    const word = WORDS[kind].unsubscribe;
    const replies: RespValue[] = [];
    if (names.length === 0) {
      if (subs === undefined || subs[kind].size === 0) {
        replies.push(Resp.push([word, Resp.null, Resp.integer(subs === undefined ? 0 : countOf(subs, kind))]));
        return replies;
      }
      // Deleting the entry being visited is safe while iterating a JS Set.
      for (const name of subs[kind]) {
        this.remove(client, subs, kind, name);
        replies.push(Resp.push([word, bulk(name), Resp.integer(countOf(subs, kind))]));
      }
    } else {
      for (const name of names) {
        if (subs !== undefined) this.remove(client, subs, kind, name);
        replies.push(Resp.push([word, bulk(name), Resp.integer(subs === undefined ? 0 : countOf(subs, kind))]));
      }
    }
    if (subs !== undefined) this.forgetIfIdle(client, subs);
    return replies;
  }

  /**
   * PUBLISH on this node: "message" to the channel's subscribers in subscription order, then
   * "pmessage" to each matching pattern's subscribers (patterns in creation order).
   */
  publish(channel: string, message: string): Published {
    const deliveries: Delivery[] = [];
    const direct = this.subscribers.channel.get(channel);
    let channelBulk: RespValue | null = null;
    let messageBulk: RespValue | null = null;
    if (direct !== undefined) {
      channelBulk = bulk(channel);
      messageBulk = bulk(message);
      const msg = Resp.push([MESSAGE, channelBulk, messageBulk]);
      for (const client of direct) deliveries.push({ client, msg });
    }
    for (const [pattern, clients] of this.subscribers.pattern) {
      if (!globMatch(pattern, channel)) continue;
      channelBulk ??= bulk(channel);
      messageBulk ??= bulk(message);
      const msg = Resp.push([PMESSAGE, bulk(pattern), channelBulk, messageBulk]);
      for (const client of clients) deliveries.push({ client, msg });
    }
    return { deliveries, receivers: deliveries.length };
  }

  /** SPUBLISH on this node: "smessage" to the shard channel's subscribers; patterns never match. */
  spublish(channel: string, message: string): Published {
    const deliveries: Delivery[] = [];
    const direct = this.subscribers.shard.get(channel);
    if (direct !== undefined) {
      const msg = Resp.push([SMESSAGE, bulk(channel), bulk(message)]);
      for (const client of direct) deliveries.push({ client, msg });
    }
    return { deliveries, receivers: deliveries.length };
  }

  /** The client went away (or ran RESET): all its subscriptions go, without notices, as freeClient. */
  dropClient(client: ClientId): void {
    const subs = this.clients.get(client);
    if (subs === undefined) return;
    for (const kind of KINDS) {
      for (const name of subs[kind]) this.remove(client, subs, kind, name);
    }
    this.clients.delete(client);
  }

  /**
   * The node no longer serves the slots `lost` accepts: every shard channel hashing into one is
   * dropped, each subscriber getting push [sunsubscribe, channel, shard count] (Redis 7.0's
   * removeChannelsInSlot). Channels go by ascending slot, then byte order within a slot, as
   * Redis walks its slot-to-channel radix tree; subscribers in subscription order. `slotOf` maps
   * a byte-string channel to its slot (hash tags included). Costs one `slotOf` per shard channel.
   */
  dropShardSlots(lost: (slot: number) => boolean, slotOf: (channel: string) => number): Delivery[] {
    const doomed: { readonly slot: number; readonly channel: string }[] = [];
    for (const channel of this.subscribers.shard.keys()) {
      const slot = slotOf(channel);
      if (lost(slot)) doomed.push({ slot, channel });
    }
    doomed.sort((a, b) => a.slot - b.slot || (a.channel < b.channel ? -1 : a.channel > b.channel ? 1 : 0));
    const deliveries: Delivery[] = [];
    for (const { channel } of doomed) {
      const clients = this.subscribers.shard.get(channel);
      assert(clients !== undefined, "a doomed shard channel has subscribers");
      this.subscribers.shard.delete(channel);
      const channelBulk = bulk(channel);
      for (const client of clients) {
        const subs = this.clients.get(client);
        assert(subs !== undefined && subs.shard.delete(channel), "subscriber lists and client subscriptions agree");
        deliveries.push({ client, msg: Resp.push([WORDS.shard.unsubscribe, channelBulk, Resp.integer(subs.shard.size)]) });
        this.forgetIfIdle(client, subs);
      }
    }
    return deliveries;
  }

  /**
   * Classic subscriptions (channels + patterns) the client holds. A RESP2 client is in subscribed
   * mode while `count + shardCount > 0`.
   */
  /** Whether any client has a subscription of any kind. */
  get hasSubscribers(): boolean {
    return this.clients.size > 0;
  }

  count(client: ClientId): number {
    const subs = this.clients.get(client);
    return subs === undefined ? 0 : countOf(subs, "channel");
  }

  /** Shard channel subscriptions the client holds. */
  shardCount(client: ClientId): number {
    return this.clients.get(client)?.shard.size ?? 0;
  }

  /** The client's subscriptions of each kind: CLIENT LIST's sub=, psub= and ssub=. */
  subscriptionsOf(client: ClientId): { channels: number; patterns: number; shard: number } {
    const subs = this.clients.get(client);
    if (subs === undefined) return { channels: 0, patterns: 0, shard: 0 };
    return { channels: subs.channel.size, patterns: subs.pattern.size, shard: subs.shard.size };
  }

  /**
   * PUBSUB <subcommand> …, `args` without the leading "PUBSUB": the reply, with Redis 7.0's errors
   * for a missing or unknown subcommand (processCommand's container-command checks), wrong arity
   * (the subcommand's table arity), and the command's own syntax check.
   */
  command(args: readonly string[]): RespValue {
    const sub = args[0];
    if (sub === undefined) return Resp.error("ERR wrong number of arguments for 'pubsub' command");
    const name = upperAscii(sub) as Subcommand;
    const arity = SUBCOMMAND_ARITY.get(name);
    if (arity === undefined) {
      return Resp.error(`ERR unknown subcommand '${byteStringToText(sub.slice(0, QUOTED_BYTES_MAX))}'. Try PUBSUB HELP.`);
    }
    const argc = args.length + 1;
    if (arity > 0 ? argc !== arity : argc < -arity) {
      return Resp.error(`ERR wrong number of arguments for 'pubsub|${name.toLowerCase()}' command`);
    }
    switch (name) {
      case "HELP":
        return HELP;
      case "NUMPAT":
        return Resp.integer(this.subscribers.pattern.size);
      case "NUMSUB":
        return this.numsub(this.subscribers.channel, args);
      case "SHARDNUMSUB":
        return this.numsub(this.subscribers.shard, args);
      case "CHANNELS":
      case "SHARDCHANNELS":
        // The table arity lets more arguments through; pubsubCommand then refuses them.
        if (args.length > 2) {
          return Resp.error(`ERR unknown subcommand or wrong number of arguments for '${byteStringToText(sub)}'. Try PUBSUB HELP.`);
        }
        return channelList(name === "CHANNELS" ? this.subscribers.channel : this.subscribers.shard, args[1]);
      default:
        return assertNever(name, "PUBSUB subcommand");
    }
  }

  /** For INFO: pubsub_channels, pubsub_patterns (distinct patterns) and pubsubshard_channels. */
  stats(): { channels: number; patterns: number; shardChannels: number } {
    return { channels: this.subscribers.channel.size, patterns: this.subscribers.pattern.size, shardChannels: this.subscribers.shard.size };
  }

  /** NUMSUB / SHARDNUMSUB: a flat array of name, subscriber count for each name asked (an array in RESP3 too, as Redis). */
  private numsub(registry: ReadonlyMap<string, ReadonlySet<ClientId>>, args: readonly string[]): RespValue {
    const out: RespValue[] = [];
    for (let i = 1; i < args.length; i++) {
      const name = args[i] as string;
      out.push(bulk(name), Resp.integer(registry.get(name)?.size ?? 0));
    }
    return Resp.array(out);
  }

  /** Drops one subscription if the client holds it; a name left without subscribers is forgotten. */
  private remove(client: ClientId, subs: ClientSubs, kind: SubKind, name: string): void {
    if (!subs[kind].delete(name)) return;
    const registry = this.subscribers[kind];
    const clients = registry.get(name);
    assert(clients !== undefined && clients.delete(client), "client subscriptions and subscriber lists agree");
    if (clients.size === 0) registry.delete(name);
  }

  private forgetIfIdle(client: ClientId, subs: ClientSubs): void {
    if (subs.channel.size + subs.pattern.size + subs.shard.size === 0) this.clients.delete(client);
  }
}

/** The count a confirmation of `kind` carries: Redis's clientSubscriptionsCount or clientShardSubscriptionsCount. */
function countOf(subs: ClientSubs, kind: SubKind): number {
  return kind === "shard" ? subs.shard.size : subs.channel.size + subs.pattern.size;
}

/** CHANNELS / SHARDCHANNELS: the active channels, matching `pattern` when given, in creation order. */
function channelList(registry: ReadonlyMap<string, unknown>, pattern: string | undefined): RespValue {
  const out: RespValue[] = [];
  for (const channel of registry.keys()) {
    if (pattern === undefined || globMatch(pattern, channel)) out.push(bulk(channel));
  }
  return Resp.array(out);
}
