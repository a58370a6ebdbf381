// Runs the store's Lua scripts through `@upstash/redis` pipelines, a few HTTP requests at a time.
// An operation made while every request slot is busy waits, and the next free slot carries all the
// operations waiting as one `/pipeline` request. Idle, an operation goes out at once (after the same
// two microtasks the client's own auto-pipelining waits, so operations of one tick share a request);
// under load, requests grow larger instead of more numerous, which is what costs CPU on both ends.
// A request that does not answer in time fails its operations and frees its slot, so a stalled
// connection can never hold every later operation behind it.
import type { Redis } from "@upstash/redis";
import { MAX_TIMER_MS } from "../src/duration.ts";

/** What the runner needs from a `Redis` instance of `@upstash/redis`. */
export type PipelineSource = Pick<Redis, "pipeline">;

/** A Lua script, with its SHA-1 (hex) once computed. */
export interface Script {
  source: string;
  sha?: Promise<string>;
}

/** Runs `script` with `keys` and `args`, atomically in Redis; resolves with its reply. */
export type RunScript = (script: Script, keys: string[], args: string[]) => Promise<unknown>;

interface Call {
  script: Script;
  keys: string[];
  args: string[];
  /** Characters of keys and arguments: bounds the size of one request. */
  size: number;
  resolve(reply: unknown): void;
  reject(error: unknown): void;
}

type Reply = { result?: unknown; error?: string };

/** At most this many operations in one request. */
export const MAX_CALLS_PER_REQUEST = 100;
/**
 * A request stops taking operations past this many characters of keys and arguments; a larger
 * operation goes alone, as it would unbatched. Small enough that escaping and UTF-8 (at most 6
 * bytes per character) keep a shared request under 400 KB, far below Upstash's request limit (10 MB
 * on Free and Pay-as-you-go databases), so sharing never makes a request too large that would have
 * fitted alone.
 */
export const MAX_CHARS_PER_REQUEST = 64 * 1024;

/** The error of the operations of a request that did not answer within its timeout. */
export class RequestTimeoutError extends Error {
  constructor(ms: number) {
    super(`Redis did not answer within ${ms} ms (the operation may still take effect)`);
    this.name = "RequestTimeoutError";
  }
}

/**
 * A runner sending at most `maxInFlight` requests at once (`Infinity`: no limit); a request not
 * answered within `timeoutMs` fails its operations with {@link RequestTimeoutError} and frees its slot.
 */
export function scriptRunner(redis: PipelineSource, maxInFlight: number, timeoutMs: number): RunScript {
  const waiting: Call[] = [];
  let inFlight = 0;
  let scheduled = false;

  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    queueMicrotask(() => queueMicrotask(flush));
  };

  function flush(): void {
    scheduled = false;
    while (waiting.length > 0 && inFlight < maxInFlight) {
      let n = 0;
      let chars = 0;
      while (n < waiting.length && n < MAX_CALLS_PER_REQUEST && (n === 0 || chars + waiting[n]!.size <= MAX_CHARS_PER_REQUEST)) {
        chars += waiting[n++]!.size;
      }
      const batch = waiting.splice(0, n);
      inFlight++;
      let freed = false;
      const free = () => {
        if (freed) return;
        freed = true;
        inFlight--;
        if (waiting.length > 0) schedule();
      };
      // Late replies then settle nothing: each operation was already failed (settling twice is a no-op).
      const timer = setTimeout(() => {
        const error = new RequestTimeoutError(timeoutMs);
        for (const call of batch) call.reject(error);
        free();
      }, Math.min(timeoutMs, MAX_TIMER_MS));
      send(redis, batch).finally(() => {
        clearTimeout(timer);
        free();
      });
    }
  }

  return (script, keys, args) =>
    new Promise((resolve, reject) => {
      let size = 0;
      for (const key of keys) size += key.length;
      for (const arg of args) size += arg.length;
      waiting.push({ script, keys, args, size, resolve, reject });
      schedule();
    });
}

/** One request for `batch` by SHA; those Redis does not know the script of go again with the script. */
async function send(redis: PipelineSource, batch: Call[]): Promise<void> {
  try {
    const shas = await Promise.all(batch.map((call) => shaOf(call.script)));
    const replies = await exec(redis, batch, (pipeline, call, i) => pipeline.evalsha(shas[i]!, call.keys, call.args));
    const unknown: Call[] = [];
    replies.forEach((reply, i) => {
      if (reply.error && /noscript/i.test(reply.error)) unknown.push(batch[i]!);
      else settle(batch[i]!, reply);
    });
    if (unknown.length === 0) return;
    const again = await exec(redis, unknown, (pipeline, call) => pipeline.eval(call.script.source, call.keys, call.args));
    again.forEach((reply, i) => settle(unknown[i]!, reply));
  } catch (error) {
    // Whatever is still waiting for this request fails with it (settling twice is a no-op).
    for (const call of batch) call.reject(error);
  }
}

type Pipeline = ReturnType<PipelineSource["pipeline"]>;

async function exec(redis: PipelineSource, calls: Call[], add: (pipeline: Pipeline, call: Call, i: number) => void): Promise<Reply[]> {
  const pipeline = redis.pipeline();
  calls.forEach((call, i) => add(pipeline, call, i));
  const replies = (await pipeline.exec({ keepErrors: true })) as unknown;
  if (!Array.isArray(replies) || replies.length !== calls.length) {
    throw new Error(`the pipeline answered ${Array.isArray(replies) ? `${replies.length} replies` : "no list"} for ${calls.length} commands`);
  }
  return replies as Reply[];
}

function settle(call: Call, reply: Reply): void {
  if (reply.error) call.reject(new Error(`Command failed: ${reply.error}`));
  else call.resolve(reply.result);
}

function shaOf(script: Script): Promise<string> {
  script.sha ??= crypto.subtle.digest("SHA-1", new TextEncoder().encode(script.source)).then(
    (digest) => Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join(""),
    (error: unknown) => {
      script.sha = undefined; // tried again by the next operation
      throw error;
    },
  );
  return script.sha;
}
