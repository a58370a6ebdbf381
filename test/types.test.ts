// Compile-time contract: the `@ts-expect-error` lines and expectTypeOf calls below are checked by
// `npm run check` (tsc), which test/typecheck.test.ts runs as part of `npm test`. If any line stops
// being an error, tsc fails with "Unused '@ts-expect-error' directive".
import { describe, expect, expectTypeOf, test } from "bun:test";
import * as v from "valibot";
import { createClient, createWorker, defineJob, type JobContext } from "../src/index.ts";
import { devKeys } from "./helpers/signed-request.ts";

const welcome = defineJob({
  name: "send-welcome-email",
  input: v.object({ userId: v.number(), when: v.pipe(v.string(), v.transform((s) => new Date(s))) }),
});
const other = defineJob({ name: "other", input: v.object({ id: v.string() }) });

describe("types", () => {
  test("the client's fetch option takes plain functions (no runtime's extras such as Bun's preconnect)", () => {
    const calls: string[] = [];
    const jobs = createClient({
      workerUrl: "http://127.0.0.1:1/jobs",
      token: "t",
      fetch: (input, init) => {
        expectTypeOf(input).toEqualTypeOf<string>();
        calls.push(`${init.method} ${input}`);
        return fetch(input, init);
      },
    });
    createClient({ workerUrl: "http://127.0.0.1:1/jobs", token: "t", fetch: async () => new Response("{}") });
    createClient({ workerUrl: "http://127.0.0.1:1/jobs", token: "t", fetch });
    expect(typeof jobs.enqueue).toBe("function");
  });

  test("job names stay literal", () => {
    expectTypeOf(welcome.name).toEqualTypeOf<"send-welcome-email">();
    expect(welcome.name).toBe("send-welcome-email");
  });

  test("enqueue takes the schema's input type; handlers get its output type; deps come from inject", () => {
    const jobs = createClient({ workerUrl: "http://127.0.0.1:1/jobs", token: "t", jobs: [welcome] });
    type EnqueueInput = Parameters<typeof jobs.enqueue<typeof welcome>>[1];
    expectTypeOf<EnqueueInput>().toEqualTypeOf<{ userId: number; when: string }>();

    const worker = createWorker({ signingKeys: devKeys, inject: () => ({ mailer: { send: (id: number) => id } }), log: false })
      .handle(welcome, (input, ctx) => {
        expectTypeOf(input).toEqualTypeOf<{ userId: number; when: Date }>();
        expectTypeOf(ctx.deps.mailer.send).toEqualTypeOf<(id: number) => number>();
        expectTypeOf(ctx).toMatchTypeOf<JobContext<{ mailer: { send: (id: number) => number } }>>();
        return ctx.deps.mailer.send(input.userId);
      });
    expect(worker.jobs).toEqual(["send-welcome-email"]);

    const compileOnly = () => {
      // @ts-expect-error a wrong payload type
      void jobs.enqueue(welcome, { userId: "42", when: "2026-01-01" });
      // @ts-expect-error a missing key
      void jobs.enqueue(welcome, { userId: 42 });
      // @ts-expect-error a key the schema does not declare
      void jobs.enqueue(welcome, { userId: 42, when: "x", extra: true });
      // @ts-expect-error an unknown option
      void jobs.enqueue(welcome, { userId: 42, when: "x" }, { dealy: "10s" });
      // @ts-expect-error a job this client was not given
      void jobs.enqueue(other, { id: "a" });
      // @ts-expect-error a batch request with a wrong payload
      void jobs.enqueueMany([welcome.with({ userId: "1", when: "x" })]);
      const both = createClient({ workerUrl: "http://127.0.0.1:1/jobs", token: "t", jobs: [welcome, other] });
      void both.enqueueMany([welcome.with({ userId: 1, when: "x" }), other.with({ id: "a" })]);
      // @ts-expect-error a batch request pairing one job with another job's input
      void both.enqueueMany([{ job: welcome, input: { id: "a" }, options: undefined }]);
      // @ts-expect-error an unknown job option
      defineJob({ name: "x", input: v.object({}), retrys: 3 });
      // @ts-expect-error idempotencyKey gets the typed input
      defineJob({ name: "x", input: v.object({ a: v.number() }), idempotencyKey: (input) => input.b });
      createWorker({ signingKeys: devKeys, jobs: [welcome] })
        // @ts-expect-error a handler for a job the worker was not given
        .handle(other, () => null);
      createWorker({ signingKeys: devKeys }).handle(welcome, (input, ctx) => {
        // @ts-expect-error the handler's input is the output type: a Date, not a string
        input.when.toUpperCase();
        // @ts-expect-error no inject: deps is undefined
        ctx.deps.mailer;
      });
    };
    expect(typeof compileOnly).toBe("function");
  });
});
