import { describe, expect, test } from "bun:test";
import { Hono } from "hono";
import * as v from "valibot";
import { devKeys, delivery } from "../test/helpers/signed-request.ts";
import { ConfigError, JobInputError, NonRetryableError, RetryLaterError } from "./errors.ts";
import { type IdempotencyStore, memoryStore } from "./idempotency.ts";
import { defineJob } from "./job.ts";
import { createWorker, type JobContext } from "./worker.ts";

const base = "http://worker.test/jobs";

const sendEmail = defineJob({
  name: "send-email",
  input: v.object({ userId: v.number(), tags: v.optional(v.array(v.string())) }),
  retries: 4,
});
const keyed = defineJob({
  name: "keyed",
  input: v.object({ orderId: v.string() }),
  idempotencyKey: (input) => `order:${input.orderId}`,
});
const slow = defineJob({ name: "slow", input: v.object({}), timeout: 1 });

function setup(options: { store?: IdempotencyStore; publicUrl?: string; maxBodyBytes?: number } = {}) {
  const runs: { input: unknown; ctx: JobContext<{ tag: string }> }[] = [];
  let behaviour: (input: unknown, ctx: JobContext<{ tag: string }>) => unknown = () => ({ ok: true });
  const worker = createWorker({
    signingKeys: devKeys,
    store: options.store ?? memoryStore(),
    publicUrl: options.publicUrl,
    maxBodyBytes: options.maxBodyBytes,
    inject: (c) => ({ tag: c.req.header("x-tag") ?? "none" }),
    log: false,
  })
    .handle(sendEmail, async (input, ctx) => {
      runs.push({ input, ctx });
      return behaviour(input, ctx);
    })
    .handle(keyed, async (input, ctx) => {
      runs.push({ input, ctx });
      return behaviour(input, ctx);
    })
    .handle(slow, async (input, ctx) => {
      runs.push({ input, ctx });
      await new Promise((resolve) => setTimeout(resolve, 3000));
      return "too late";
    });
  const app = new Hono().route("/jobs", worker.app);
  return {
    runs,
    send: (req: Request) => app.fetch(req),
    behave(fn: typeof behaviour) {
      behaviour = fn;
    },
  };
}

async function json(res: Response) {
  expect(res.headers.get("content-type")).toContain("application/json");
  return (await res.json()) as Record<string, unknown>;
}

describe("createWorker: success", () => {
  test("runs the handler with the validated input and a full context", async () => {
    const w = setup();
    const res = await w.send(
      await delivery(`${base}/send-email`, {
        body: JSON.stringify({ userId: 42 }),
        messageId: "msg_1",
        retried: 2,
        headers: { "x-tag": "blue", "Jobwire-Max-Attempts": "6" },
      }),
    );
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({ result: { ok: true } });
    expect(w.runs).toHaveLength(1);
    const { input, ctx } = w.runs[0]!;
    expect(input).toEqual({ userId: 42 });
    expect(ctx).toMatchObject({ job: "send-email", messageId: "msg_1", attempt: 3, maxAttempts: 6, deps: { tag: "blue" } });
    expect(ctx.idempotencyKey).toBe("send-email:msg:msg_1");
    expect(ctx.signal.aborted).toBe(false);
  });

  test("maxAttempts falls back to the job's retries + 1", async () => {
    const w = setup();
    await w.send(await delivery(`${base}/send-email`, { body: '{"userId":1}' }));
    expect(w.runs[0]!.ctx.maxAttempts).toBe(5);
  });

  test("attempt and maxAttempts ignore header values that are not whole numbers", async () => {
    const w = setup();
    const values = ["-1", "abc", "1.5", " ", "1e400", "1e3", "0x10", "0b11", "99999999999999999999"];
    for (const value of values) {
      await w.send(await delivery(`${base}/send-email`, { body: '{"userId":1}', headers: { "Upstash-Retried": value, "Jobwire-Max-Attempts": value } }));
    }
    expect(w.runs.map((r) => [r.ctx.attempt, r.ctx.maxAttempts])).toEqual(Array(values.length).fill([1, 5]));
  });

  test("a result JSON cannot carry is recorded as null with a warning: the job counts as done and never runs again", async () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const results: [string, unknown][] = [
      ["bigint", 10n],
      ["cycle", circular],
      ["throwing toJSON", { toJSON: () => { throw new Error("boom"); } }],
      ["function", () => 1],
    ];
    for (const [label, value] of results) {
      const w = setup();
      w.behave(() => value);
      const first = await w.send(await delivery(`${base}/send-email`, { body: '{"userId":1}', messageId: `msg_${label}` }));
      expect([label, first.status]).toEqual([label, 200]);
      const body = await json(first);
      expect(body.result).toBeNull();
      if (label !== "function") expect(body.warning).toMatch(/the handler's result is not JSON-serializable/);
      const again = await w.send(await delivery(`${base}/send-email`, { body: '{"userId":1}', messageId: `msg_${label}`, retried: 1 }));
      expect([label, await json(again)]).toEqual([label, { duplicate: true, result: null }]);
      expect([label, w.runs.length]).toEqual([label, 1]);
    }
  });

  test("an undefined result is answered as null", async () => {
    const w = setup();
    w.behave(() => undefined);
    const res = await w.send(await delivery(`${base}/send-email`, { body: '{"userId":1}' }));
    expect(await json(res)).toEqual({ result: null });
  });

  test("verifies against publicUrl behind a proxy, keeping the query string", async () => {
    const w = setup({ publicUrl: "https://app.example.com/jobs/" });
    const req = await delivery(`${base}/send-email?v=2`, {
      body: '{"userId":1}',
      signedUrl: "https://app.example.com/jobs/send-email?v=2",
    });
    expect((await w.send(req)).status).toBe(200);
    const direct = await delivery(`${base}/send-email?v=2`, { body: '{"userId":1}' });
    expect((await w.send(direct)).status).toBe(401);
    expect(w.runs).toHaveLength(1);
  });

  test("publicUrl set to a workerUrl with a query string: the request's own query is what is verified", async () => {
    const w = setup({ publicUrl: "https://app.example.com/jobs?bypass=s3cret" });
    const req = await delivery(`${base}/send-email?bypass=s3cret`, {
      body: '{"userId":1}',
      signedUrl: "https://app.example.com/jobs/send-email?bypass=s3cret",
    });
    expect((await w.send(req)).status).toBe(200);
    expect(w.runs).toHaveLength(1);
  });

  test("publicUrl is read as the client writes workerUrl: host case and a default port do not matter", async () => {
    const w = setup({ publicUrl: "https://App.Example.COM:443/jobs" });
    const req = await delivery(`${base}/send-email`, { body: '{"userId":1}', signedUrl: "https://app.example.com/jobs/send-email" });
    expect((await w.send(req)).status).toBe(200);
    expect(w.runs).toHaveLength(1);
  });

  test("a publicUrl that is not an absolute http(s) URL is a TypeError at once, not a 401 on every delivery", () => {
    for (const publicUrl of ["/jobs", "app.example.com/jobs", "ftp://app.example.com/jobs", ""]) {
      expect(() => setup({ publicUrl }), publicUrl).toThrow(/"publicUrl" must be an absolute http\(s\) URL/);
    }
  });

  test("accepts a delivery signed with the next key", async () => {
    const w = setup();
    const res = await w.send(await delivery(`${base}/send-email`, { body: '{"userId":1}', key: devKeys.next }));
    expect(res.status).toBe(200);
  });
});

describe("createWorker: bad input never runs the handler", () => {
  const cases: [string, () => Promise<Request>, number, RegExp, boolean][] = [
    ["unknown job", () => delivery(`${base}/nope`, { body: "{}" }), 489, /unknown job "nope"/, true],
    ["missing signature", () => delivery(`${base}/send-email`, { body: '{"userId":1}', unsigned: true }), 401, /missing Upstash-Signature/, false],
    ["garbled signature", async () => { const r = await delivery(`${base}/send-email`, { body: '{"userId":1}' }); r.headers.set("Upstash-Signature", "garbage.x.y"); return r; }, 401, /invalid signature/, false],
    ["signature with another key", () => delivery(`${base}/send-email`, { body: '{"userId":1}', key: "sig_attacker" }), 401, /invalid signature/, false],
    ["signature for another URL", () => delivery(`${base}/send-email`, { body: '{"userId":1}', signedUrl: `${base}/keyed` }), 401, /this request was made to/, false],
    ["tampered body", () => delivery(`${base}/send-email`, { body: '{"userId":2}', signedBody: '{"userId":1}' }), 401, /body hash/, false],
    ["non-JSON body", () => delivery(`${base}/send-email`, { body: "{userId:1" }), 489, /not valid JSON/, true],
    ["invalid input", () => delivery(`${base}/send-email`, { body: '{"userId":"x"}' }), 489, /invalid input for job "send-email"/, true],
    ["oversized body", () => delivery(`${base}/send-email`, { body: JSON.stringify({ userId: 1, tags: ["x".repeat(3000)] }) }), 489, /exceeds the limit of 1024 bytes/, true],
    ["wrong method", () => delivery(`${base}/send-email`, { method: "PUT", body: '{"userId":1}' }), 405, /not allowed/, false],
  ];
  for (const [what, make, status, message, nonRetryable] of cases) {
    test(`${what}: ${status}`, async () => {
      const w = setup({ maxBodyBytes: 1024 });
      const res = await w.send(await make());
      expect(res.status).toBe(status);
      const body = await json(res);
      expect(String(body.error)).toMatch(message);
      expect(res.headers.get("Upstash-NonRetryable-Error")).toBe(nonRetryable ? "true" : null);
      expect(w.runs).toHaveLength(0);
      // Every 489 about the input says what is wrong as issues, as the README's table has it.
      if (what === "non-JSON body" || what === "invalid input") expect(Array.isArray(body.issues) && (body.issues as unknown[]).length > 0).toBe(true);
    });
  }

  test("an expired signature: 401", async () => {
    const w = setup();
    const realNow = Date.now;
    let req: Request;
    try {
      Date.now = () => realNow() - 3_600_000;
      req = await delivery(`${base}/send-email`, { body: '{"userId":1}' });
    } finally {
      Date.now = realNow;
    }
    const res = await w.send(req);
    expect(res.status).toBe(401);
    expect(String((await json(res)).error)).toMatch(/expired/);
    expect(w.runs).toHaveLength(0);
  });

  test("invalid input lists every issue with its path", async () => {
    const w = setup();
    const res = await w.send(await delivery(`${base}/send-email`, { body: '{"userId":"x","tags":["a",3]}' }));
    expect(res.status).toBe(489);
    const body = await json(res);
    expect(body.issues).toEqual([
      { message: expect.stringContaining("number"), path: ["userId"] },
      { message: expect.stringContaining("string"), path: ["tags", 1] },
    ]);
  });

  test("a path outside any job: 404 JSON, under the mount point only", async () => {
    const w = setup();
    for (const path of ["/send-email/extra", "/send-email/extra/more", "/send-email/", "", "/"]) {
      const res = await w.send(await delivery(`${base}${path}`, { body: "{}" }));
      expect([path, res.status]).toEqual([path, 404]);
      expect((await json(res)).error).toBe(`no route for POST /jobs${path}`);
    }
    const get = await w.send(new Request(`${base}/send-email/extra`));
    expect(get.status).toBe(404);
    // Served on its own, at the root.
    const bare = createWorker({ signingKeys: devKeys, store: memoryStore(), log: false }).handle(sendEmail, () => null).app;
    for (const path of ["/", "/send-email/", "/send-email/x", "/send-email/x/y"]) {
      const res = await bare.fetch(new Request(`http://worker.test${path}`, { method: "POST" }));
      expect([path, res.status, ((await json(res)) as { error: string }).error]).toEqual([path, 404, `no route for POST ${path}`]);
    }
    // Outside the mount point the parent app answers, as it would without the worker.
    const outside = await w.send(new Request("http://worker.test/elsewhere", { method: "POST" }));
    expect(outside.status).toBe(404);
    expect(outside.headers.get("content-type")).not.toContain("application/json");
  });

  test("every method but POST on a job's path: 405 with Allow, and the handler does not run", async () => {
    const w = setup();
    for (const method of ["GET", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"]) {
      const res = await w.send(new Request(`${base}/send-email`, { method }));
      expect([method, res.status, res.headers.get("allow")]).toEqual([method, 405, "POST"]);
    }
    expect(w.runs).toHaveLength(0);
  });
});

describe("createWorker: outcomes", () => {
  test("NonRetryableError: 489 with the non-retryable header", async () => {
    const w = setup();
    w.behave(() => {
      throw new NonRetryableError("user 1 does not exist");
    });
    const res = await w.send(await delivery(`${base}/send-email`, { body: '{"userId":1}' }));
    expect(res.status).toBe(489);
    expect(res.headers.get("Upstash-NonRetryable-Error")).toBe("true");
    expect(await json(res)).toEqual({ error: "NonRetryableError", message: "user 1 does not exist" });
  });

  test("a JobInputError thrown by the handler: 489 with its issues, as the worker's own validation answers", async () => {
    const w = setup();
    w.behave(() => {
      throw new JobInputError("send-email", [{ message: "no such user", path: [{ key: "userId" }] }]);
    });
    const res = await w.send(await delivery(`${base}/send-email`, { body: '{"userId":1}' }));
    expect(res.status).toBe(489);
    expect(res.headers.get("Upstash-NonRetryable-Error")).toBe("true");
    expect(await json(res)).toEqual({
      error: "JobInputError",
      message: 'invalid input for job "send-email": userId: no such user',
      issues: [{ message: "no such user", path: ["userId"] }],
    });
  });

  test("RetryLaterError: 429 with Retry-After", async () => {
    const w = setup();
    w.behave(() => {
      throw new RetryLaterError("rate limited", { after: "2m" });
    });
    const res = await w.send(await delivery(`${base}/send-email`, { body: '{"userId":1}' }));
    expect(res.status).toBe(429);
    expect(res.headers.get("Retry-After")).toBe("120");
    expect(await json(res)).toMatchObject({ error: "RetryLaterError", retryAfter: 120 });
  });

  test("RetryLaterError takes seconds and every duration form, combined ones too", () => {
    const after = (value: number | string) => new RetryLaterError("later", { after: value }).after;
    expect([after(5), after(2.2), after("45"), after("1500ms"), after("30s"), after("1m30s"), after("1d2h")]).toEqual([5, 3, 45, 2, 30, 90, 93_600]);
    expect(() => after("soon")).toThrow(/"after" must be seconds or a duration like .*got "soon"/);
    expect(() => after("-5s")).toThrow(TypeError);
  });

  test("any other throw: 500 with name and message, no stack", async () => {
    const w = setup();
    w.behave(() => {
      throw new TypeError("boom");
    });
    const res = await w.send(await delivery(`${base}/send-email`, { body: '{"userId":1}' }));
    expect(res.status).toBe(500);
    const body = await json(res);
    expect(body).toEqual({ error: "TypeError", message: "boom" });
    expect(JSON.stringify(body)).not.toContain("at ");
  });

  test("a failed attempt releases the key: the retry of the same message runs again", async () => {
    const w = setup();
    let calls = 0;
    w.behave(() => {
      calls++;
      if (calls < 3) throw new Error(`fail ${calls}`);
      return { done: calls };
    });
    for (const retried of [0, 1, 2]) {
      await w.send(await delivery(`${base}/send-email`, { body: '{"userId":1}', messageId: "msg_r", retried }));
    }
    expect(w.runs.map((r) => r.ctx.attempt)).toEqual([1, 2, 3]);
    const again = await w.send(await delivery(`${base}/send-email`, { body: '{"userId":1}', messageId: "msg_r", retried: 3 }));
    expect(await json(again)).toEqual({ duplicate: true, result: { done: 3 } });
    expect(w.runs).toHaveLength(3);
  });

  test("the handler's signal aborts at the job's timeout, and the attempt fails (500)", async () => {
    const w = setup();
    const res = await w.send(await delivery(`${base}/slow`, { body: "{}" }));
    expect(res.status).toBe(500);
    expect(await json(res)).toMatchObject({ error: "TimeoutError" });
    expect(w.runs[0]!.ctx.signal.aborted).toBe(true);
  });
});

describe("createWorker: idempotency", () => {
  test("an empty Upstash-Message-Id is no id: each delivery is keyed by its own token", async () => {
    const w = setup();
    for (const userId of [1, 2]) {
      const res = await w.send(await delivery(`${base}/send-email`, { body: JSON.stringify({ userId }), messageId: "" }));
      expect(await json(res)).toEqual({ result: { ok: true } });
    }
    expect(w.runs.map((run) => run.ctx.messageId)).toEqual([expect.stringMatching(/^jwt_/), expect.stringMatching(/^jwt_/)]);
    expect(w.runs).toHaveLength(2);
  });

  test("the same message delivered twice runs once and answers the stored result", async () => {
    const w = setup();
    w.behave(() => ({ sent: "yes" }));
    const first = await w.send(await delivery(`${base}/send-email`, { body: '{"userId":1}', messageId: "msg_d" }));
    const second = await w.send(await delivery(`${base}/send-email`, { body: '{"userId":1}', messageId: "msg_d", retried: 1 }));
    expect(await json(first)).toEqual({ result: { sent: "yes" } });
    expect(second.status).toBe(200);
    expect(await json(second)).toEqual({ duplicate: true, result: { sent: "yes" } });
    expect(w.runs).toHaveLength(1);
  });

  test("two messages with the same idempotency key: the second is a duplicate", async () => {
    const w = setup();
    await w.send(await delivery(`${base}/keyed`, { body: '{"orderId":"A"}', messageId: "msg_a" }));
    const res = await w.send(await delivery(`${base}/keyed`, { body: '{"orderId":"A"}', messageId: "msg_b" }));
    expect(await json(res)).toEqual({ duplicate: true, result: { ok: true } });
    expect(w.runs).toHaveLength(1);
    expect(w.runs[0]!.ctx.idempotencyKey).toBe("keyed:order:A");
  });

  test("a concurrent duplicate is acknowledged without running while the first runs", async () => {
    const w = setup();
    let release!: () => void;
    w.behave(() => new Promise((resolve) => (release = () => resolve("first"))));
    const first = w.send(await delivery(`${base}/keyed`, { body: '{"orderId":"B"}', messageId: "msg_1" }));
    await new Promise((resolve) => setTimeout(resolve, 20));
    const second = await w.send(await delivery(`${base}/keyed`, { body: '{"orderId":"B"}', messageId: "msg_2" }));
    expect(await json(second)).toEqual({ duplicate: true, runningAs: "msg_1" });
    release();
    expect(await json(await first)).toEqual({ result: "first" });
    expect(w.runs).toHaveLength(1);
  });

  test("store unavailable: 503 with Retry-After, and the handler does not run", async () => {
    const down: IdempotencyStore = {
      claim: async () => {
        throw new Error("connect ECONNREFUSED");
      },
      complete: async () => {},
      release: async () => {},
    };
    const w = setup({ store: down });
    const res = await w.send(await delivery(`${base}/send-email`, { body: '{"userId":1}' }));
    expect(res.status).toBe(503);
    expect(res.headers.get("Retry-After")).toBe("10");
    expect(String((await json(res)).error)).toMatch(/idempotency store unavailable: connect ECONNREFUSED/);
    expect(w.runs).toHaveLength(0);
  });
});

describe("createWorker: configuration", () => {
  test("refuses to start without signing keys, naming the variables, with a ConfigError", () => {
    expect(() => createWorker({ signingKeys: { current: "", next: "" } })).toThrow(/QSTASH_CURRENT_SIGNING_KEY/);
    expect(() => createWorker({ signingKeys: { current: "", next: "" } })).toThrow(ConfigError);
  });

  test("a clockTolerance that is not a number of seconds >= 0 is refused at once", () => {
    for (const clockTolerance of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => createWorker({ signingKeys: devKeys, clockTolerance }), String(clockTolerance)).toThrow(/clockTolerance must be a number of seconds >= 0/);
    }
  });

  test("signing keys and store can be read per request (Workers bindings)", async () => {
    const store = memoryStore();
    const seen: string[] = [];
    const worker = createWorker<undefined, { Bindings: { CURRENT?: string; NEXT?: string } }>({
      signingKeys: (c) => ({ current: c.env.CURRENT ?? "", next: c.env.NEXT ?? "" }),
      store: () => store,
      log: false,
    }).handle(sendEmail, (input) => seen.push(`user ${input.userId}`));
    const ok = await worker.app.fetch(await delivery("http://w.test/send-email", { body: '{"userId":1}' }), {
      CURRENT: devKeys.current,
      NEXT: devKeys.next,
    });
    expect(ok.status).toBe(200);
    expect(seen).toEqual(["user 1"]);
    const missing = await worker.app.fetch(await delivery("http://w.test/send-email", { body: '{"userId":2}' }), {});
    expect(missing.status).toBe(500);
    expect(String((await json(missing)).error)).toMatch(/QSTASH_CURRENT_SIGNING_KEY/);
    expect(seen).toEqual(["user 1"]);
  });

  test("refuses two handlers for one job", () => {
    const worker = createWorker({ signingKeys: devKeys, log: false }).handle(sendEmail, () => 1);
    expect(() => worker.handle(sendEmail, () => 2)).toThrow(/already has a handler/);
  });
});

describe("createWorker: synchronous handlers and the timeout", () => {
  const plain = defineJob({ name: "plain", input: v.object({ n: v.number() }) });
  const timed = defineJob({ name: "timed", input: v.object({}), timeout: 1 });

  test("a handler that returns a value, not a promise: answered, stored, deduplicated; one that throws is released", async () => {
    let calls = 0;
    const worker = createWorker({ signingKeys: devKeys, store: memoryStore(), log: false }).handle(plain, (input) => {
      calls++;
      if (input.n < 0) throw new NonRetryableError("negative");
      return { doubled: input.n * 2 };
    });
    const first = await worker.app.fetch(await delivery("http://w.test/plain", { body: '{"n":2}', messageId: "msg_s" }));
    expect(await json(first)).toEqual({ result: { doubled: 4 } });
    const again = await worker.app.fetch(await delivery("http://w.test/plain", { body: '{"n":2}', messageId: "msg_s", retried: 1 }));
    expect(await json(again)).toEqual({ duplicate: true, result: { doubled: 4 } });
    const failed = await worker.app.fetch(await delivery("http://w.test/plain", { body: '{"n":-1}', messageId: "msg_t" }));
    expect(failed.status).toBe(489);
    const retried = await worker.app.fetch(await delivery("http://w.test/plain", { body: '{"n":-1}', messageId: "msg_t", retried: 1 }));
    expect(retried.status).toBe(489);
    expect(calls).toBe(3);
  });

  test("a timeout beyond setTimeout's range (over 24.8 days) does not end the handler at once", async () => {
    const long = defineJob({ name: "long", input: v.object({}), timeout: "30d" });
    const worker = createWorker({ signingKeys: devKeys, store: memoryStore(), log: false }).handle(long, async (_, ctx) => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      return { aborted: ctx.signal.aborted };
    });
    const res = await worker.app.fetch(await delivery("http://w.test/long", { body: "{}" }));
    expect([res.status, await json(res)]).toEqual([200, { result: { aborted: false } }]);
  });

  test("a signal read before the timeout aborts when it passes; an inject slower than the timeout fails the attempt", async () => {
    const seen: { abortedAt?: number; started: number }[] = [];
    const worker = createWorker({
      signingKeys: devKeys,
      store: memoryStore(),
      log: false,
      inject: async (c) => {
        if (c.req.header("x-slow-inject")) await new Promise((resolve) => setTimeout(resolve, 1100));
      },
    }).handle(timed, async (_, ctx) => {
      const entry: (typeof seen)[number] = { started: Date.now() };
      seen.push(entry);
      ctx.signal.addEventListener("abort", () => (entry.abortedAt = Date.now()));
      await new Promise((resolve) => setTimeout(resolve, 1500));
      return "late";
    });
    const [onTime, slowInject] = await Promise.all([
      worker.app.fetch(await delivery("http://w.test/timed", { body: "{}" })),
      worker.app.fetch(await delivery("http://w.test/timed", { body: "{}", headers: { "x-slow-inject": "1" } })),
    ]);
    for (const res of [onTime, slowInject]) {
      expect(res.status).toBe(500);
      expect(await json(res)).toMatchObject({ error: "TimeoutError" });
    }
    const [first] = seen;
    expect(first!.abortedAt! - first!.started).toBeGreaterThanOrEqual(900);
    expect(first!.abortedAt! - first!.started).toBeLessThan(1400);
  });
});
