import { describe, expect, test } from "bun:test";
import * as v from "valibot";
import { z } from "zod";
import { ConfigError } from "./errors.ts";
import { defineJob, validateInput } from "./job.ts";

describe("defineJob", () => {
  test("keeps the name, schema and defaults", () => {
    const job = defineJob({ name: "send-welcome-email", input: v.object({ userId: v.number() }), retries: 5, timeout: "30s", queue: "emails" });
    expect(job.name).toBe("send-welcome-email");
    expect(job.defaults).toEqual({ retries: 5, timeout: "30s", queue: "emails" });
    expect(Object.isFrozen(job)).toBe(true);
  });

  for (const name of ["", "has space", "a/b", "-leading", "é", "x".repeat(129), "a?b"]) {
    test(`refuses the name ${JSON.stringify(name.slice(0, 20))}`, () => {
      expect(() => defineJob({ name, input: v.object({}) })).toThrow(/invalid job name/);
    });
  }

  test("refuses an input that is not a Standard Schema", () => {
    expect(() => defineJob({ name: "x", input: {} as never })).toThrow(/must be a Standard Schema/);
  });

  const bad: [string, Record<string, unknown>, RegExp][] = [
    ["negative retries", { retries: -1 }, /"retries" must be a whole number/],
    ["fractional retries", { retries: 1.5 }, /"retries"/],
    ["a bad timeout", { timeout: "30 seconds" }, /"timeout": invalid duration/],
    ["a bad delay", { delay: "-5s" }, /"delay": invalid duration/],
    ["a delay no date can hold", { delay: `${"9".repeat(30)}d` }, /"delay": invalid duration .*longer than any date can hold/],
    ["a timeout no date can hold", { timeout: 1e13 }, /"timeout": invalid duration .*longer than any date can hold/],
    ["a retryDelay with code", { retryDelay: "process.exit(1)" }, /"retryDelay" must be an expression/],
    ["a retryDelay with an unknown function", { retryDelay: "random() * 10" }, /"retryDelay"/],
    ["a queue name with a slash", { queue: "a/b" }, /"queue"/],
    ["flow control without limits", { flowControl: { key: "k" } }, /needs "parallelism" or "rate"/],
    ["flow control with zero parallelism", { flowControl: { key: "k", parallelism: 0 } }, /parallelism/],
    ["flow control with a bad period", { flowControl: { key: "k", rate: 1, period: "soon" } }, /period/],
    ["a retryDelay that is not a string", { retryDelay: 1000 }, /"retryDelay" must be a string, got number/],
    ["a label that is not a string", { label: 5 }, /"label" must be a string/],
    ["a label with a line break", { label: "a\nb" }, /"label" cannot be sent as a header/],
    ["a flow-control key beyond Latin-1", { flowControl: { key: "用户", parallelism: 1 } }, /"flowControl.key" cannot be sent as a header/],
    ["an idempotencyKey that is not a function", { idempotencyKey: "abc" }, /"idempotencyKey" must be a function of the input/],
  ];
  for (const [what, options, message] of bad) {
    test(`refuses ${what} with a ConfigError`, () => {
      let error: unknown;
      try {
        defineJob({ name: "job", input: v.object({}), ...options });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).toContain('job "job"');
    });
  }

  test("accepts a valid retryDelay expression", () => {
    expect(defineJob({ name: "j", input: v.object({}), retryDelay: "min(60000, pow(2, retried) * 1000)" }).defaults.retryDelay).toBeString();
  });

  test("with() makes a typed enqueue request", () => {
    const job = defineJob({ name: "j", input: v.object({ id: v.number() }) });
    const request = job.with({ id: 1 }, { delay: "5s" });
    expect(request).toEqual({ job, input: { id: 1 }, options: { delay: "5s" } });
  });
});

describe("validateInput with any Standard Schema", () => {
  test("valibot: output type with transforms, issues with paths", async () => {
    const job = defineJob({ name: "v", input: v.object({ n: v.pipe(v.string(), v.transform(Number)) }) });
    expect(await validateInput(job, { n: "5" })).toEqual({ success: true, value: { n: 5 } });
    const bad = await validateInput(job, { n: 5 });
    expect(bad.success).toBe(false);
    if (!bad.success) expect(bad.issues[0]!.path?.map((p) => (typeof p === "object" ? p.key : p))).toEqual(["n"]);
  });

  test("zod works as a second Standard Schema library", async () => {
    const job = defineJob({ name: "z", input: z.object({ email: z.string().email(), tags: z.array(z.string()) }) });
    expect(await validateInput(job, { email: "a@b.co", tags: ["x"] })).toEqual({ success: true, value: { email: "a@b.co", tags: ["x"] } });
    const bad = await validateInput(job, { email: "nope", tags: ["x", 2] });
    expect(bad.success).toBe(false);
    if (!bad.success) {
      const paths = bad.issues.map((i) => i.path?.map((p) => (typeof p === "object" ? p.key : p)));
      expect(paths).toEqual([["email"], ["tags", 1]]);
    }
  });

  test("async schemas are awaited", async () => {
    const job = defineJob({ name: "a", input: v.pipeAsync(v.string(), v.checkAsync(async (s) => s.length > 2, "too short")) });
    expect((await validateInput(job, "abc")).success).toBe(true);
    expect((await validateInput(job, "ab")).success).toBe(false);
  });
});
