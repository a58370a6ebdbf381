// The RESP side of the REST endpoint: two long-lived @redis/client connections (one shared by `/`
// and `/pipeline`, one for transactions), talking RESP2, with bulk strings decoded as Buffers so
// values stay binary-safe. Redis errors stay `ErrorReply`s; anything else (refused connection, lost
// socket, offline) becomes a `RedisUnavailableError`, and the clients reconnect on their own.
import { Buffer } from "node:buffer";
import { createClient, ErrorReply, RESP_TYPES } from "@redis/client";
import { MAX_TIMER_MS } from "../duration.ts";
import type { RedisCommand } from "./redis-rest-command.ts";

/** Redis cannot be reached right now; the endpoint answers 500 and keeps reconnecting. */
export class RedisUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "RedisUnavailableError";
  }
}

/**
 * What the REST app needs from Redis. Each method rejects with {@link RedisUnavailableError} when
 * Redis cannot be reached, and `command`/`transaction` with an `ErrorReply` for a Redis error.
 */
export interface RedisRunner {
  /** Runs one command; a Redis error rejects as `ErrorReply`. */
  command(command: RedisCommand): Promise<unknown>;
  /** Runs every command in order, not atomically; a failed one yields its `ErrorReply` in place. */
  pipeline(commands: readonly RedisCommand[]): Promise<unknown[]>;
  /**
   * Runs the commands as one `MULTI ... EXEC`: the replies, with runtime errors as `ErrorReply`s in
   * place. A transaction Redis discards at queue time rejects with an `ErrorReply` (EXECABORT).
   */
  transaction(commands: readonly RedisCommand[]): Promise<unknown[]>;
  /** Closes the connections. */
  close(): Promise<void>;
}

/** Options of {@link connectRedis}. */
export interface ConnectRedisOptions {
  /** Receives a line when the connection is lost and when it is back. */
  log?: (line: string) => void;
  /**
   * How long a request waits for Redis's reply before it fails with {@link RedisUnavailableError}
   * (a stalled Redis, or a command that never finishes). The command may still run. The connection
   * it waited on is then replaced, so nothing queued behind it waits for ever and its late reply
   * reaches no later request. @default 5000
   */
  commandTimeoutMs?: number;
}

// Bulk strings as Buffers (binary-safe); integers as their digits, since decoding them as numbers
// rounds any past 2^53 (the reply encoder writes them as exact JSON numbers).
const BUFFERS = { [RESP_TYPES.BLOB_STRING]: Buffer, [RESP_TYPES.NUMBER]: String };

/**
 * Connects to the Redis at `url` (`redis://[user:pass@]host:port[/db]`) and returns a
 * {@link RedisRunner}. Fails at once, with a message that says so, when Redis is not there at start;
 * after that, outages are survived by reconnecting.
 */
export async function connectRedis(url: string, options: ConnectRedisOptions = {}): Promise<RedisRunner> {
  const log = options.log ?? (() => {});
  const timeoutMs = options.commandTimeoutMs ?? 5_000;
  if (!(timeoutMs > 0)) throw new RangeError(`commandTimeoutMs must be a positive number of milliseconds, got ${timeoutMs}`);
  const where = redact(url);
  const shared = new Replaceable(await open(url, where, "shared", log), () => open(url, where, "shared", log));
  let tx: Replaceable;
  try {
    tx = new Replaceable(await open(url, where, "transaction", log), () => open(url, where, "transaction", log));
  } catch (error) {
    shared.client.destroy();
    throw error;
  }

  const unavailable = (error: unknown): never => {
    if (error instanceof ErrorReply || error instanceof RedisUnavailableError) throw error;
    throw new RedisUnavailableError(`Redis at ${where} is unreachable: ${(error as Error)?.message ?? String(error)}`, { cause: error });
  };

  // @redis/client's own command timeout only covers the wait to write a command, not the reply.
  // A request stops waiting here, and the connection it waited on is replaced: a command that never
  // finishes (an endless script) would otherwise hold every later command queued behind it, and a
  // late reply can never reach a later request.
  const answered = <T>(connection: Replaceable, work: Promise<T>): Promise<T> => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        connection.replace(() => log(`redis: a command on the ${connection === shared ? "shared" : "transaction"} connection to ${where} did not answer within ${timeoutMs} ms; opened a new connection`));
        reject(new RedisUnavailableError(`Redis at ${where} did not answer within ${timeoutMs} ms; the command may still run when it does`));
      }, Math.min(timeoutMs, MAX_TIMER_MS));
    });
    return Promise.race([work, late]).finally(() => clearTimeout(timer));
  };

  return {
    command: (command) => answered(shared, shared.client.sendCommand(command)).catch(unavailable),

    async pipeline(commands) {
      // Queued in one synchronous loop, so the client writes them to the socket in one go.
      const client = shared.client;
      const settled = await answered(shared, Promise.allSettled(commands.map((command) => client.sendCommand(command))));
      return settled.map((outcome) => {
        if (outcome.status === "fulfilled") return outcome.value;
        if (outcome.reason instanceof ErrorReply) return outcome.reason;
        return unavailable(outcome.reason);
      });
    },

    async transaction(commands) {
      // MULTI, the commands and EXEC are queued in one synchronous loop on a connection only
      // transactions use, so the client writes the whole block contiguously and Redis, which runs a
      // connection's commands in order, can never see two transactions nested or interleaved.
      const client = tx.client;
      const promises = [["MULTI"] as const, ...commands, ["EXEC"] as const].map((command) => client.sendCommand(command));
      const settled = await answered(tx, Promise.allSettled(promises));
      for (const outcome of settled) if (outcome.status === "rejected" && !(outcome.reason instanceof ErrorReply)) unavailable(outcome.reason);
      const exec = settled[settled.length - 1]!;
      if (exec.status === "rejected") {
        const queued = settled.slice(1, -1).find((outcome) => outcome.status === "rejected");
        const reason = (exec.reason as ErrorReply).message;
        throw new ErrorReply(queued ? `${reason} ${(queued.reason as ErrorReply).message}` : reason);
      }
      if (!Array.isArray(exec.value)) throw new ErrorReply("EXECABORT Transaction discarded");
      return exec.value;
    },

    async close() {
      await Promise.allSettled([shared.close(timeoutMs), tx.close(timeoutMs)]);
    },
  };
}

type Client = Awaited<ReturnType<typeof open>>;

/** A connection that can be swapped for a fresh one while requests keep using `client`. */
class Replaceable {
  #replacing = false;
  #closed = false;

  constructor(
    public client: Client,
    private readonly reopen: () => Promise<Client>,
  ) {}

  /**
   * Opens a new connection for the commands that come next, then destroys this one, failing what
   * still waits on it. One replacement at a time; if the new connection cannot be opened (Redis
   * stalled or down), this one stays and the next timeout tries again.
   */
  replace(onReplaced: () => void): void {
    if (this.#replacing || this.#closed) return;
    this.#replacing = true;
    const stuck = this.client;
    this.reopen().then(
      (fresh) => {
        this.#replacing = false;
        if (this.#closed) return fresh.destroy();
        this.client = fresh;
        stuck.destroy();
        onReplaced();
      },
      () => {
        this.#replacing = false;
      },
    );
  }

  /** Closes once the commands in flight are answered, or drops the connection after `graceMs`. */
  async close(graceMs: number): Promise<void> {
    this.#closed = true;
    const client = this.client;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), Math.min(graceMs, MAX_TIMER_MS));
    });
    const closed = client.close().then(() => "closed" as const, () => "closed" as const);
    // A stalled Redis never answers: closing would wait for it for ever.
    if ((await Promise.race([closed, late])) === "late") client.destroy();
    clearTimeout(timer);
  }
}

async function open(url: string, where: string, role: string, log: (line: string) => void) {
  let connected = false;
  let down = false;
  const client = createClient({
    url,
    RESP: 2,
    // Without an offline queue a request during an outage fails at once (a 500) instead of hanging
    // until Redis is back; the Upstash client and the worker's store retry on their side.
    disableOfflineQueue: true,
    // No CLIENT SETINFO handshake: a connection is usable once the socket is, which lets a new one
    // open while Redis is busy with a command that never finishes.
    disableClientInfo: true,
    commandOptions: { typeMapping: BUFFERS },
    socket: {
      connectTimeout: 2_000,
      // Before the first connection: give up, so a wrong URL is reported at start. After it: keep
      // trying, quickly at first, at most every second.
      reconnectStrategy: (retries: number, cause: Error) =>
        connected ? Math.min(50 * 2 ** retries, 1_000) : new RedisUnavailableError(`cannot connect to Redis at ${where}: ${cause.message}; is redis-server running?`, { cause }),
    },
  });
  client.on("error", (error: Error) => {
    if (connected && !down) {
      down = true;
      log(`redis: lost the ${role} connection to ${where} (${error.message}); reconnecting`);
    }
  });
  client.on("ready", () => {
    if (down) log(`redis: ${role} connection to ${where} is back`);
    down = false;
  });
  try {
    await client.connect();
  } catch (error) {
    client.destroy();
    if (error instanceof RedisUnavailableError) throw error;
    // The strategy's own error, as the client wraps it (a ReconnectStrategyError).
    const original = (error as { originalError?: unknown }).originalError;
    if (original instanceof RedisUnavailableError) throw original;
    throw new RedisUnavailableError(`cannot connect to Redis at ${where}: ${(error as Error).message}`, { cause: error });
  }
  connected = true;
  return client;
}

/** The URL without its password, for messages. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return url;
  }
}
