// What every real-runtime test shares: a `jobwire dev` broker in this process, child processes whose
// output lines can be awaited, the broker's view of a message, and a delivery with a bad signature.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { type Broker, createBroker } from "../../src/broker/index.ts";
import { signDelivery } from "../../src/signing.ts";
import { waitFor } from "../helpers/wait.ts";

export const root = join(import.meta.dir, "..", "..");

/**
 * The path of a runtime's binary, or an error that says how to install it: a missing runtime must
 * fail the suite loudly, never skip it.
 */
export function requireBinary(name: string, path: string | null | undefined, install: string): string {
  if (!path || !existsSync(path)) {
    throw new Error(`${name} is needed for this test and was not found${path ? ` at ${path}` : " on the PATH"}: ${install}`);
  }
  return path;
}

/** Random signing keys, so a worker that verifies with the dev keys (not its env) would fail. */
export function randomKeys(): { current: string; next: string } {
  const key = () => `sig_${crypto.randomUUID().replaceAll("-", "")}`;
  return { current: key(), next: key() };
}

/** A `jobwire dev` broker in this process: memory mode, a free port, the given keys. */
export function startBroker(signingKeys = randomKeys()): Promise<Broker> {
  return createBroker({ port: 0, host: "127.0.0.1", memory: true, log: false, signingKeys });
}

/** The environment of a child: this one's, without any QStash variable, plus `vars`. */
export function childEnv(vars: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !name.startsWith("QSTASH_")) env[name] = value;
  }
  return { ...env, NO_COLOR: "1", ...vars };
}

/** A running child process whose stdout and stderr lines are collected. */
export interface Child {
  readonly lines: string[];
  /** Resolves with the first match of `pattern` in a line (past or future), or rejects on timeout or exit. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code. */
  readonly exited: Promise<number>;
  /** Everything printed so far, for failure messages. */
  output(): string;
  /** SIGTERM, then SIGKILL if it is still running after a second. */
  stop(): Promise<void>;
}

export function spawnChild(cmd: string[], options: { cwd?: string; env: Record<string, string> }): Child {
  const proc = Bun.spawn(cmd, { cwd: options.cwd ?? root, env: options.env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const lines: string[] = [];
  const listeners = new Set<() => void>();
  let ended = false;
  const pump = async (stream: ReadableStream<Uint8Array>, prefix: string) => {
    const decoder = new TextDecoder();
    let buffer = "";
    for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        lines.push(prefix + buffer.slice(0, nl));
        buffer = buffer.slice(nl + 1);
        for (const listener of listeners) listener();
      }
    }
    if (buffer) lines.push(prefix + buffer);
  };
  const pumped = Promise.all([pump(proc.stdout, ""), pump(proc.stderr, "stderr: ")]);
  const exited = proc.exited.then(async (code) => {
    await pumped;
    ended = true;
    for (const listener of listeners) listener();
    return code;
  });
  const output = () => `$ ${cmd.join(" ")}\n${lines.join("\n")}`;
  return {
    lines,
    exited,
    output,
    waitForLine(pattern, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          for (const line of lines) {
            const match = line.match(pattern);
            if (match) return done(() => resolve(match));
          }
          if (ended) done(() => reject(new Error(`exited before printing ${pattern}\n${output()}`)));
        };
        const timer = setTimeout(() => done(() => reject(new Error(`timed out waiting for ${pattern}\n${output()}`))), timeoutMs);
        const done = (settle: () => void) => {
          clearTimeout(timer);
          listeners.delete(check);
          settle();
        };
        listeners.add(check);
        check();
      });
    },
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill("SIGTERM");
      const killed = await Promise.race([exited.then(() => true), Bun.sleep(1000).then(() => false)]);
      if (!killed) {
        proc.kill("SIGKILL");
        await exited;
      }
    },
  };
}

/** Stops every child, whatever happened. */
export async function stopAll(children: (Child | undefined)[]): Promise<void> {
  await Promise.allSettled(children.map((child) => child?.stop()));
}

interface EventView {
  state: string;
  url: string;
  messageId: string;
  responseStatus?: number;
}

/** The broker's event log for a message, oldest first, through its HTTP API (`GET /v2/events`). */
export async function events(broker: { url: string; token: string }, messageId: string): Promise<EventView[]> {
  const res = await fetch(`${broker.url}/v2/events?messageId=${encodeURIComponent(messageId)}`, {
    headers: { Authorization: `Bearer ${broker.token}` },
  });
  if (!res.ok) throw new Error(`GET /v2/events answered ${res.status}: ${await res.text()}`);
  const { events } = (await res.json()) as { events: EventView[] };
  return events.reverse();
}

/** Waits until the broker reports every message DELIVERED; returns each one's states. */
export async function waitDelivered(
  broker: { url: string; token: string },
  messageIds: string[],
  timeoutMs = 15_000,
): Promise<Map<string, string[]>> {
  const states = new Map<string, string[]>();
  await waitFor(
    `DELIVERED for ${messageIds.join(", ")}`,
    async () => {
      for (const id of messageIds) states.set(id, (await events(broker, id)).map((e) => e.state));
      return messageIds.every((id) => states.get(id)?.includes("DELIVERED"));
    },
    timeoutMs,
  );
  return states;
}

/** The `enqueued <job> <messageId>` lines an example's enqueue script prints. */
export function enqueuedIds(lines: string[]): Record<string, string> {
  const ids: Record<string, string> = {};
  for (const line of lines) {
    const match = /^enqueued (\S+) (\S+)/.exec(line);
    if (match) ids[match[1]!] = match[2]!;
  }
  return ids;
}

/** The log line each example's handler writes per job, as `[jobwire] <job> <messageId> <text>`. */
export const EFFECTS = {
  "send-welcome-email": (userId: number) => `welcome email sent to user ${userId}`,
  "resize-image": (imageId: string, width: number) => `image ${imageId} resized to ${width}px`,
  "import-csv": (fileUrl: string) => `imported ${fileUrl}`,
};

/**
 * Posts a delivery to `url` signed with a key the worker does not know, and one with no signature:
 * both must be refused with 401 before any handler runs.
 */
export async function badSignatureStatuses(url: string): Promise<number[]> {
  const body = JSON.stringify({ userId: 666 });
  const forged = await signDelivery(randomKeys().current, { url, body });
  const post = (headers: Record<string, string>) =>
    fetch(url, {
      method: "POST",
      body,
      headers: { "Content-Type": "application/json", "Upstash-Message-Id": `msg_forged_${Date.now()}`, ...headers },
    });
  const statuses: number[] = [];
  const variants: Record<string, string>[] = [{ "Upstash-Signature": forged }, {}];
  for (const headers of variants) {
    const res = await post(headers);
    await res.body?.cancel();
    statuses.push(res.status);
  }
  return statuses;
}
