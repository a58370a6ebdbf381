// The end-to-end checks every process-based example (Bun, Deno, Node) must pass in its own runtime:
// its enqueue script publishes the three jobs of examples/jobs.ts to a `jobwire dev` broker, the
// broker delivers them over loopback to its worker, which verifies each signature and runs the job.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type Child, childEnv, EFFECTS, badSignatureStatuses, enqueuedIds, spawnChild, stopAll, waitDelivered } from "./harness.ts";

/** A broker as the suite uses it: in this process (createBroker) or another (the CLI). */
export interface BrokerHandle {
  url: string;
  token: string;
  signingKeys: { current: string; next: string };
  close(): Promise<void>;
}

export interface ProcessExample {
  /** Names the describe block, e.g. "Deno example, in Deno". */
  title: string;
  /** Starts the broker that delivers to the worker. */
  broker(): Promise<BrokerHandle>;
  /** Runs first, in beforeAll (a build, say). */
  prepare?(): Promise<void>;
  /** The command that runs the example's worker (it reads its configuration from the environment). */
  worker(): string[];
  /** The command that runs the example's enqueue script; `args` follow it. */
  enqueue(args: string[]): string[];
  cwd?: string;
  /** Per-test timeout; the first test includes starting the worker. @default 30_000 */
  timeoutMs?: number;
}

export function describeProcessExample(example: ProcessExample): void {
  describe(example.title, () => {
    const timeout = example.timeoutMs ?? 30_000;
    let broker: BrokerHandle | undefined;
    let worker: Child | undefined;
    let workerUrl = "";
    const spawned: Child[] = [];
    const run = (cmd: string[], vars: Record<string, string>): Child => {
      const child = spawnChild(cmd, { cwd: example.cwd, env: childEnv(vars) });
      spawned.push(child);
      return child;
    };

    beforeAll(async () => {
      await example.prepare?.();
      broker = await example.broker();
      worker = run(example.worker(), {
        QSTASH_CURRENT_SIGNING_KEY: broker.signingKeys.current,
        QSTASH_NEXT_SIGNING_KEY: broker.signingKeys.next,
        PORT: "0",
      });
      workerUrl = (await worker.waitForLine(/worker listening on (http:\/\/\S+)/))[1]!;
    }, timeout * 2);

    afterAll(async () => {
      await stopAll(spawned);
      await broker?.close();
    });

    test(
      "its enqueue script publishes three jobs; the broker delivers them; the worker verifies and runs each once",
      async () => {
        const enqueue = run(example.enqueue(["42"]), { QSTASH_URL: broker!.url, QSTASH_TOKEN: broker!.token, WORKER_URL: workerUrl });
        expect(await enqueue.exited, enqueue.output()).toBe(0);
        const ids = enqueuedIds(enqueue.lines);
        expect(Object.keys(ids).sort(), enqueue.output()).toEqual(["import-csv", "resize-image", "send-welcome-email"]);

        const states = await waitDelivered(broker!, Object.values(ids));
        for (const [job, id] of Object.entries(ids)) {
          // Delivered on the first attempt: the signature was accepted and the handler succeeded.
          expect(states.get(id), `${job} ${id}`).toContain("DELIVERED");
          expect(states.get(id), `${job} ${id}`).not.toContain("RETRY");
        }

        // The visible effect: one line per job, naming the message the broker delivered.
        const effects: Record<string, string> = {
          "send-welcome-email": EFFECTS["send-welcome-email"](42),
          "resize-image": EFFECTS["resize-image"]("avatar-42", 256),
          "import-csv": EFFECTS["import-csv"]("https://files.example.com/users.csv"),
        };
        for (const [job, text] of Object.entries(effects)) {
          await worker!.waitForLine(new RegExp(`\\[jobwire\\] ${job} ${ids[job]} ${escape(text)}$`), 5_000);
        }
        for (const text of Object.values(effects)) {
          expect(worker!.lines.filter((line) => line.endsWith(text)), worker!.output()).toHaveLength(1);
        }
      },
      timeout,
    );

    test(
      "enqueueing the same welcome email again is deduplicated by the broker and runs nothing",
      async () => {
        const again = run(example.enqueue(["42"]), { QSTASH_URL: broker!.url, QSTASH_TOKEN: broker!.token, WORKER_URL: workerUrl });
        expect(await again.exited, again.output()).toBe(0);
        expect(again.lines.some((line) => /^enqueued send-welcome-email \S+ \(deduplicated\)$/.test(line)), again.output()).toBe(true);
        const ids = enqueuedIds(again.lines);
        await waitDelivered(broker!, [ids["resize-image"]!, ids["import-csv"]!]);
        expect(worker!.lines.filter((line) => line.endsWith(EFFECTS["send-welcome-email"](42)))).toHaveLength(1);
      },
      timeout,
    );

    test(
      "a delivery with a forged signature, or none, is refused with 401 and runs nothing",
      async () => {
        expect(await badSignatureStatuses(`${workerUrl}/send-welcome-email`)).toEqual([401, 401]);
        expect(worker!.lines.some((line) => line.includes("user 666")), worker!.output()).toBe(false);
      },
      timeout,
    );

    test(
      "without signing keys the worker refuses to start, naming the missing variable",
      async () => {
        const misconfigured = run(example.worker(), { PORT: "0" });
        expect(await misconfigured.exited, misconfigured.output()).not.toBe(0);
        expect(misconfigured.output()).toMatch(/QSTASH_CURRENT_SIGNING_KEY is not set/);
        expect(misconfigured.output()).not.toMatch(/worker listening/);
      },
      timeout,
    );
  });
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}
