// Turning an Upstash REST request body into Redis commands: argument mapping, the commands this
// endpoint refuses, and the 400s for bodies that are not commands. Nothing here touches Redis.

/** One Redis command, ready for the wire: the name first, every argument a string. */
export type RedisCommand = readonly [string, ...string[]];

/** The body is not a command (or not a list of commands): a 400 that nothing reached Redis for. */
export class MalformedRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MalformedRequestError";
  }
}

// Commands that change the state of the connection they run on (every request shares it), hold it
// (pub/sub, MONITOR, replication), or block it (blocking pops, WAIT). Upstash REST refuses them too;
// compare-and-set is done with EVAL, never WATCH.
const STATEFUL = ["multi", "exec", "discard", "watch", "unwatch", "auth", "hello", "reset", "quit", "client", "readonly", "readwrite", "shutdown"];
const HOLDING = ["subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe", "monitor", "sync", "psync", "replconf"];
const BLOCKING = ["blpop", "brpop", "brpoplpush", "blmove", "blmpop", "bzpopmin", "bzpopmax", "bzmpop", "wait", "waitaof"];
const REFUSED = new Map<string, string>([
  ...STATEFUL.map((name) => [name, "connection-stateful"] as [string, string]),
  ...HOLDING.map((name) => [name, "connection-holding"] as [string, string]),
  ...BLOCKING.map((name) => [name, "blocking"] as [string, string]),
]);

/**
 * Why Redis must not see `command` through this endpoint, as an `ERR ... not supported` message,
 * or undefined when it may run.
 */
export function refusal(command: RedisCommand): string | undefined {
  const name = command[0].toLowerCase();
  const kind = REFUSED.get(name);
  if (kind) return `ERR ${kind} command '${name}' is not supported by the REST API`;
  if (name === "select") {
    // As Redis answers: one argument, a whole number (`00` is 0).
    if (command.length !== 2) return "ERR wrong number of arguments for 'select' command";
    if (!/^\d+$/.test(command[1]!)) return "ERR value is not an integer or out of range";
    if (Number(command[1]) !== 0) return "ERR 'select' of a database other than 0 is not supported by the REST API";
  }
  if ((name === "xread" || name === "xreadgroup") && blocks(command)) {
    return `ERR blocking command '${name} ... block' is not supported by the REST API`;
  }
  return undefined;
}

/** Whether an XREAD/XREADGROUP has a BLOCK option: among the options before STREAMS, not a key or an id after it. */
function blocks(command: RedisCommand): boolean {
  for (let i = 1; i < command.length; i++) {
    const arg = command[i]!.toLowerCase();
    if (arg === "streams") return false;
    if (arg === "block") return true;
    // GROUP takes two values, COUNT one: skipped, so a group or consumer named "block" is no option.
    if (arg === "group") i += 2;
    else if (arg === "count") i += 1;
  }
  return false;
}

/**
 * Whether the command is `SELECT 0`: the REST API serves one database, its "0", which is whatever
 * database the endpoint's Redis URL names. Answered `OK` here, never sent: on a shared connection it
 * would switch every later command to Redis's own database 0 until the next reconnect.
 */
export function isSelectZero(command: RedisCommand): boolean {
  // The only SELECT `refusal` lets through.
  return command[0].toLowerCase() === "select" && refusal(command) === undefined;
}

/** Maps one JSON argument to its Redis string: numbers as `String(n)`, booleans as words, null as "". */
function argument(value: unknown, position: number): string {
  switch (typeof value) {
    case "string":
      return value;
    case "number":
      return String(value);
    case "boolean":
      return value ? "true" : "false";
    default:
      if (value === null) return "";
      throw new MalformedRequestError(
        `ERR argument ${position} is ${Array.isArray(value) ? "an array" : `of type ${typeof value}`}: send strings, numbers, booleans or null`,
      );
  }
}

/** Parses one command array (`["set", "k", "v"]`); throws {@link MalformedRequestError}. */
export function parseCommand(value: unknown): RedisCommand {
  if (!Array.isArray(value)) throw new MalformedRequestError("ERR a command must be a JSON array like [\"get\", \"key\"]");
  if (value.length === 0) throw new MalformedRequestError("ERR empty command");
  return value.map(argument) as unknown as RedisCommand;
}

/** Parses a batch (`[["set", "k", "v"], ["incr", "n"]]`); any malformed entry rejects the whole batch. */
export function parseBatch(value: unknown): RedisCommand[] {
  if (!Array.isArray(value)) throw new MalformedRequestError("ERR the body must be a JSON array of commands like [[\"get\", \"key\"]]");
  if (value.length === 0) throw new MalformedRequestError("ERR empty batch: send at least one command");
  return value.map((entry, index) => {
    try {
      return parseCommand(entry);
    } catch (error) {
      throw new MalformedRequestError(`${(error as Error).message} (command ${index})`);
    }
  });
}

/** Parses a request body as JSON; throws {@link MalformedRequestError}. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new MalformedRequestError("ERR the body is not valid JSON");
  }
}
