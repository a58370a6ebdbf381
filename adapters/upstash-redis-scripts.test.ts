// The script runner's batching against an injected pipeline (a unit seam: what each request carries
// and how replies are matched). The store against a real redis-server is test/redis/.
import { describe, expect, test } from "bun:test";
import { MAX_CALLS_PER_REQUEST, MAX_CHARS_PER_REQUEST, type PipelineSource, RequestTimeoutError, type Script, scriptRunner } from "./upstash-redis-scripts.ts";

type Command = [string, ...unknown[]];

/** A pipeline source recording each request's commands, answering with `answer`. */
function recorder(answer: (commands: Command[]) => unknown) {
  const requests: Command[][] = [];
  const source = {
    pipeline() {
      const commands: Command[] = [];
      const pipeline = {
        evalsha: (sha: string, keys: string[], args: string[]) => (commands.push(["evalsha", sha, keys, args]), pipeline),
        eval: (script: string, keys: string[], args: string[]) => (commands.push(["eval", script, keys, args]), pipeline),
        exec: async () => {
          requests.push(commands);
          return answer(commands);
        },
      };
      return pipeline;
    },
  } as unknown as PipelineSource;
  return { source, requests };
}

const script = (): Script => ({ source: "return ARGV[1]" });
const echo = (commands: Command[]) => commands.map((command) => ({ result: (command[3] as string[])[0] }));

describe("scriptRunner", () => {
  test("runs by SHA-1 of the script, and the reply reaches its own operation", async () => {
    const { source, requests } = recorder(echo);
    const run = scriptRunner(source, 4, 10_000);
    expect(await Promise.all([run(script(), ["k1"], ["a"]), run(script(), ["k2"], ["b"])])).toEqual(["a", "b"]);
    expect(requests).toHaveLength(1);
    // sha1("return ARGV[1]")
    expect(requests[0]![0]).toEqual(["evalsha", "098e0f0d1448c0a81dafe820f66d460eb09263da", ["k1"], ["a"]]);
  });

  test("operations Redis does not know the script of go again, with the script, and only they", async () => {
    const known = script();
    const unknown = script();
    unknown.source = "return 2";
    const { source, requests } = recorder((commands) =>
      commands.map((command) =>
        command[0] === "evalsha" && command[3] && (command[3] as string[])[0] === "new"
          ? { error: "NOSCRIPT No matching script. Please use EVAL." }
          : { result: (command[3] as string[])[0] },
      ),
    );
    const run = scriptRunner(source, 4, 10_000);
    expect(await Promise.all([run(known, ["k"], ["old"]), run(unknown, ["k"], ["new"])])).toEqual(["old", "new"]);
    expect(requests.map((commands) => commands.map((command) => command[0]))).toEqual([["evalsha", "evalsha"], ["eval"]]);
    expect(requests[1]![0]![1]).toBe("return 2");
  });

  test(`a request carries at most ${MAX_CALLS_PER_REQUEST} operations`, async () => {
    const { source, requests } = recorder(echo);
    const run = scriptRunner(source, Number.POSITIVE_INFINITY, 10_000);
    const replies = await Promise.all(Array.from({ length: 250 }, (_, i) => run(script(), ["k"], [String(i)])));
    expect(replies).toEqual(Array.from({ length: 250 }, (_, i) => String(i)));
    expect(requests.map((commands) => commands.length)).toEqual([100, 100, 50]);
  });

  test("a request stops taking operations past the size bound; a larger one goes alone", async () => {
    const { source, requests } = recorder(echo);
    const run = scriptRunner(source, Number.POSITIVE_INFINITY, 10_000);
    const over = "x".repeat(MAX_CHARS_PER_REQUEST / 2 + 1); // two of them are past the bound
    const big = "x".repeat(MAX_CHARS_PER_REQUEST * 2);
    await Promise.all([over, over, big, "small", "small"].map((arg) => run(script(), [], [arg])));
    expect(requests.map((commands) => commands.length)).toEqual([1, 1, 1, 2]);
  });

  test("a reply list that does not match the commands fails every operation of the request (none hangs)", async () => {
    const { source } = recorder((commands) => commands.slice(1).map(() => ({ result: 1 })));
    const run = scriptRunner(source, 4, 10_000);
    const results = await Promise.allSettled([run(script(), ["a"], ["1"]), run(script(), ["b"], ["2"])]);
    for (const result of results) {
      expect(result.status).toBe("rejected");
      expect(String((result as PromiseRejectedResult).reason)).toMatch(/1 replies for 2 commands/);
    }
  });

  test("with every request slot busy, operations wait and then share one request", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { source, requests } = recorder(echo);
    let sent = 0;
    const slow = {
      pipeline() {
        const pipeline = source.pipeline();
        const exec = pipeline.exec.bind(pipeline);
        return Object.assign(pipeline, { exec: async () => (sent++, await gate, exec({ keepErrors: true })) });
      },
    } as unknown as PipelineSource;
    const run = scriptRunner(slow, 1, 10_000);
    const first = run(script(), [], ["0"]);
    await new Promise((resolve) => setTimeout(resolve, 1));
    const rest = [1, 2, 3].map((i) => run(script(), [], [String(i)]));
    await new Promise((resolve) => setTimeout(resolve, 1));
    expect(sent).toBe(1); // the first request has not answered; the other three wait for its slot
    release();
    expect(await Promise.all([first, ...rest])).toEqual(["0", "1", "2", "3"]);
    expect(requests.map((commands) => commands.length)).toEqual([1, 3]);
  });

  test("a request that never answers fails its operations after the timeout and frees its slot", async () => {
    let sent = 0;
    const stalled = {
      pipeline() {
        const commands: Command[] = [];
        const pipeline = {
          evalsha: (_sha: string, _keys: string[], args: string[]) => (commands.push(["evalsha", args[0]]), pipeline),
          exec: () => {
            sent++;
            // The first request never answers; later ones do.
            return sent === 1 ? new Promise(() => {}) : Promise.resolve(commands.map((command) => ({ result: command[1] })));
          },
        };
        return pipeline;
      },
    } as unknown as PipelineSource;
    const run = scriptRunner(stalled, 1, 50);
    const first = run(script(), [], ["a"]).then(() => undefined, (error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 1));
    const second = run(script(), [], ["b"]); // waits for the only slot
    expect(await first).toBeInstanceOf(RequestTimeoutError);
    expect(String(await first)).toMatch(/did not answer within 50 ms/);
    expect(await second).toBe("b");
    expect(sent).toBe(2);
  });
});
