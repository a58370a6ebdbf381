// Header mapping of createClient, checked at the HTTP level: a loopback server records what it sends.
// (Parity with the official SDK is in test/compat/publish-parity.test.ts; end-to-end delivery
// through `jobwire dev` in test/e2e.)
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as v from "valibot";
import { createClient } from "./client.ts";
import { DEV_TOKEN } from "./env.ts";
import { BrokerError, ConfigError, EnqueueBatchError, JobInputError } from "./errors.ts";
import { defineJob } from "./job.ts";
import { type RecordedRequest, type RecordingServer, recordingServer } from "../test/helpers/recording-server.ts";

const seen: RecordedRequest[] = [];
let server: RecordingServer;
let baseUrl: string;

beforeAll(() => {
  server = recordingServer((request) => {
    seen.push(request);
    const { path } = request;
    if (path.startsWith("/v2/batch")) {
      const items = JSON.parse(request.body) as { body?: string }[];
      // As hosted QStash: a message it refuses gets an error entry, and the others are enqueued.
      const answers = items.map((item, i) =>
        item.body?.includes('"refuse"') ? { error: `message ${i} refused` } : item.body?.includes('"no-id"') ? { url: "x" } : { messageId: `msg_b${i}`, url: "x" },
      );
      return Response.json(answers.slice(0, items.some((item) => item.body?.includes('"short"')) ? 1 : undefined), { status: 201 });
    }
    if (path.startsWith("/v2/schedules/")) return Response.json({ scheduleId: "scd_1" });
    if (request.method === "DELETE") return Response.json({ cancelled: 1 });
    const dedup = request.headers.get("upstash-deduplication-id") === "seen-before";
    return Response.json({ messageId: "msg_1", url: "x", ...(dedup ? { deduplicated: true } : {}) }, { status: dedup ? 202 : 201 });
  });
  baseUrl = server.url;
});
afterAll(() => server.stop());

const welcome = defineJob({
  name: "send-welcome-email",
  input: v.object({ userId: v.number() }),
  retries: 5,
  retryDelay: "pow(2, retried) * 1000",
  timeout: "30s",
  label: "emails",
  idempotencyKey: (input) => `welcome:${input.userId}`,
});
const queued = defineJob({ name: "queued", input: v.object({ n: v.number() }), queue: "fifo" });
const flow = defineJob({ name: "flow", input: v.object({}), flowControl: { key: "tenant-1", parallelism: 2, rate: 10, period: "1m" } });

function client() {
  return createClient({ workerUrl: "http://127.0.0.1:3000/jobs/", baseUrl, token: "tok", retry: false });
}
const last = () => seen.at(-1)!;

describe("createClient", () => {
  test("the local dev token with no baseUrl is a ConfigError: it would go to hosted QStash", () => {
    expect(() => createClient({ workerUrl: "http://127.0.0.1:3000/jobs", token: DEV_TOKEN })).toThrow(ConfigError);
    expect(() => createClient({ workerUrl: "http://127.0.0.1:3000/jobs", token: DEV_TOKEN })).toThrow(/local dev token.*no "baseUrl".*hosted QStash/);
    expect(() => createClient({ workerUrl: "http://127.0.0.1:3000/jobs", token: DEV_TOKEN, baseUrl: "http://127.0.0.1:8080" })).not.toThrow();
  });

  test("enqueue publishes the input as JSON to workerUrl/name with the job's options as headers", async () => {
    const result = await client().enqueue(welcome, { userId: 42 }, { delay: "1m30s", headers: { "X-Trace": "t1" } });
    expect(result).toEqual({ messageId: "msg_1", deduplicated: false });
    const req = last();
    expect(req.method).toBe("POST");
    expect(req.path).toBe("/v2/publish/http://127.0.0.1:3000/jobs/send-welcome-email");
    expect(req.body).toBe('{"userId":42}');
    const h = req.headers;
    expect(h.get("authorization")).toBe("Bearer tok");
    expect(h.get("content-type")).toBe("application/json");
    expect(h.get("upstash-retries")).toBe("5");
    expect(h.get("upstash-retry-delay")).toBe("pow(2, retried) * 1000");
    expect(h.get("upstash-timeout")).toBe("30s");
    expect(h.get("upstash-delay")).toBe("90s");
    expect(h.get("upstash-label")).toBe("emails");
    expect(h.get("upstash-deduplication-id")).toBe("send-welcome-email:welcome:42");
    expect(h.get("upstash-forward-jobwire-idempotency-key")).toBe("welcome:42");
    expect(h.get("upstash-forward-jobwire-max-attempts")).toBe("6");
    expect(h.get("upstash-forward-x-trace")).toBe("t1");
  });

  test("enqueue options override the job's defaults", async () => {
    await client().enqueue(welcome, { userId: 1 }, { retries: 0, deduplicationId: "custom", notBefore: new Date(1_900_000_000_000) });
    const h = last().headers;
    expect(h.get("upstash-retries")).toBe("0");
    expect(h.get("upstash-deduplication-id")).toBe("custom");
    expect(h.get("upstash-not-before")).toBe("1900000000");
    expect(h.get("upstash-forward-jobwire-max-attempts")).toBe("1");
  });

  test("reports a deduplicated publish", async () => {
    const result = await client().enqueue(welcome, { userId: 1 }, { deduplicationId: "seen-before" });
    expect(result).toEqual({ messageId: "msg_1", deduplicated: true });
  });

  test("a job with a queue is enqueued into it", async () => {
    await client().enqueue(queued, { n: 1 });
    expect(last().path).toBe("/v2/enqueue/fifo/http://127.0.0.1:3000/jobs/queued");
  });

  test("flow control becomes its two headers", async () => {
    await client().enqueue(flow, {});
    expect(last().headers.get("upstash-flow-control-key")).toBe("tenant-1");
    expect(last().headers.get("upstash-flow-control-value")).toMatch(/parallelism=2/);
    expect(last().headers.get("upstash-flow-control-value")).toMatch(/rate=10/);
    expect(last().headers.get("upstash-flow-control-value")).toMatch(/period=60/);
  });

  test("invalid input throws JobInputError with paths, and nothing is published", async () => {
    const before = seen.length;
    const error = await client()
      .enqueue(welcome, { userId: "42" } as never)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JobInputError);
    expect((error as JobInputError).issues[0].path).toEqual(["userId"]);
    expect((error as JobInputError).message).toMatch(/invalid input for job "send-welcome-email": userId:/);
    expect(seen.length).toBe(before);
  });

  test("the input is validated as the worker will receive it, its JSON; what JSON cannot carry is refused", async () => {
    const optional = defineJob({ name: "optional-input", input: v.optional(v.object({ n: v.number() })) });
    const dated = defineJob({ name: "dated", input: v.object({ when: v.date() }) });
    const before = seen.length;
    const none = await client().enqueue(optional, undefined).catch((e: unknown) => e);
    expect(none).toBeInstanceOf(JobInputError);
    expect((none as JobInputError).message).toMatch(/the input is undefined, which JSON cannot carry/);
    // A Date becomes a string in JSON: the schema, run on what is sent, refuses it.
    const date = await client().enqueue(dated, { when: new Date(0) }).catch((e: unknown) => e);
    expect(date).toBeInstanceOf(JobInputError);
    expect((date as JobInputError).issues[0].path).toEqual(["when"]);
    const big = await client().enqueue(optional, { n: 1n } as never).catch((e: unknown) => e);
    expect((big as JobInputError).message).toMatch(/not JSON-serializable/);
    await expect(client().enqueueMany([optional.with(undefined)])).rejects.toThrow(JobInputError);
    expect(seen.length).toBe(before);
    // What JSON carries unchanged goes as is.
    await client().enqueue(optional, { n: 1 });
    expect(last().body).toBe('{"n":1}');
  });

  test("enqueueMany validates every request first, then sends one batch", async () => {
    const before = seen.length;
    await expect(client().enqueueMany([welcome.with({ userId: 1 }), welcome.with({ userId: "x" } as never)])).rejects.toThrow(JobInputError);
    expect(seen.length).toBe(before);
    const results = await client().enqueueMany([welcome.with({ userId: 1 }), queued.with({ n: 2 }, { delay: "5s" })]);
    expect(results).toEqual([
      { messageId: "msg_b0", deduplicated: false },
      { messageId: "msg_b1", deduplicated: false },
    ]);
    expect(seen.length).toBe(before + 1);
    const items = JSON.parse(last().body) as { destination: string; headers: Record<string, string>; body: string; queue?: string }[];
    expect(items[0]!.destination).toBe("http://127.0.0.1:3000/jobs/send-welcome-email");
    expect(items[0]!.body).toBe('{"userId":1}');
    expect(items[0]!.headers["upstash-deduplication-id"]).toBe("send-welcome-email:welcome:1");
    expect(items[1]!.queue).toBe("fifo");
    expect(items[1]!.headers["upstash-delay"]).toBe("5s");
  });

  test("enqueueMany: messages the broker refuses throw EnqueueBatchError with every result, in order", async () => {
    const note = defineJob({ name: "note", input: v.object({ text: v.string() }) });
    const error = await client()
      .enqueueMany([note.with({ text: "ok" }), note.with({ text: "refuse" }), note.with({ text: "no-id" }), note.with({ text: "fine" })])
      .then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(EnqueueBatchError);
    expect((error as EnqueueBatchError).results).toEqual([
      { messageId: "msg_b0", deduplicated: false },
      { error: "message 1 refused" },
      { error: "the broker answered no messageId for this message" },
      { messageId: "msg_b3", deduplicated: false },
    ]);
    expect((error as Error).message).toBe("2 of 4 messages were refused by the broker (the first: message 1 refused); the others were enqueued: see `results`");
    // An answer without one result per message cannot be lined up with them: BrokerError, which
    // says the call may have taken effect (sending the "missing" ones again could enqueue them twice).
    const short = await client().enqueueMany([note.with({ text: "short" }), note.with({ text: "ok" })]).then(() => undefined, (e: unknown) => e);
    expect(short).toBeInstanceOf(BrokerError);
    expect((short as BrokerError).status).toBe(201);
    expect((short as Error).message).toMatch(/expected a JSON array of 2 results, got .* \(the call may have taken effect\)/);
  });

  test("enqueueMany of nothing sends nothing", async () => {
    const before = seen.length;
    expect(await client().enqueueMany([])).toEqual([]);
    expect(seen.length).toBe(before);
  });

  test("schedule upserts by id with the cron and the input", async () => {
    const digest = defineJob({ name: "send-digest", input: v.object({ userId: v.number() }) });
    const result = await client().schedule(digest, { id: "daily", cron: "0 9 * * *", input: { userId: 7 } });
    expect(result).toEqual({ scheduleId: "scd_1" });
    const req = last();
    expect(req.path).toBe("/v2/schedules/http://127.0.0.1:3000/jobs/send-digest");
    expect(req.headers.get("upstash-cron")).toBe("0 9 * * *");
    expect(req.headers.get("upstash-schedule-id")).toBe("daily");
    expect(req.body).toBe('{"userId":7}');
  });

  test("schedule refuses a job with an idempotencyKey (every firing would be a duplicate of the first)", async () => {
    const before = seen.length;
    const error = await client().schedule(welcome, { id: "daily", cron: "0 9 * * *", input: { userId: 7 } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/schedule "send-welcome-email": the job has an idempotencyKey, so every firing .* would be a duplicate/);
    expect(seen.length).toBe(before);
  });

  test("cancel deletes the message", async () => {
    await client().cancel("msg_9");
    expect(last().method).toBe("DELETE");
    expect(last().path).toBe("/v2/messages/msg_9");
  });

  test("a query string in workerUrl stays after the job's name", async () => {
    const c = createClient({ workerUrl: "http://127.0.0.1:3000/jobs/?bypass=s3cret&x=a/b", baseUrl, token: "tok", retry: false });
    await c.enqueue(queued, { n: 1 });
    expect(last().path).toBe("/v2/enqueue/fifo/http://127.0.0.1:3000/jobs/queued?bypass=s3cret&x=a/b");
    await c.enqueueMany([queued.with({ n: 2 })]);
    expect((JSON.parse(last().body) as { destination: string }[])[0]!.destination).toBe("http://127.0.0.1:3000/jobs/queued?bypass=s3cret&x=a/b");
  });

  test("a key in any script is sent percent-encoded; a header value fetch cannot send is a ConfigError at once", async () => {
    const named = defineJob({ name: "named", input: v.object({ name: v.string() }), idempotencyKey: (input) => `user:${input.name}` });
    await client().enqueue(named, { name: "张三" });
    expect(last().headers.get("upstash-deduplication-id")).toBe(`named:${encodeURIComponent("user:张三")}`);
    expect(last().headers.get("upstash-forward-jobwire-idempotency-key")).toBe(encodeURIComponent("user:张三"));
    const before = seen.length;
    const header = await client().enqueue(queued, { n: 1 }, { headers: { "X-Bad": "a\nb" } }).catch((e: unknown) => e);
    expect(header).toBeInstanceOf(ConfigError);
    expect((header as Error).message).toMatch(/header "X-Bad" cannot be sent/);
    // A token read with its trailing newline: refused before any attempt, not retried as a network error.
    const started = Date.now();
    const token = await createClient({ workerUrl: "http://127.0.0.1:3000/jobs", baseUrl, token: "tok\n" }).enqueue(queued, { n: 1 }).catch((e: unknown) => e);
    expect(token).toBeInstanceOf(ConfigError);
    expect((token as Error).message).toMatch(/header Authorization cannot be sent .*: the token$/);
    expect(Date.now() - started).toBeLessThan(500);
    expect(seen.length).toBe(before);
  });

  test("an upper-case scheme is an http(s) URL too", async () => {
    await createClient({ workerUrl: "HTTP://127.0.0.1:3000/Jobs", baseUrl, token: "tok", retry: false }).enqueue(queued, { n: 1 });
    expect(last().path).toBe("/v2/enqueue/fifo/http://127.0.0.1:3000/Jobs/queued");
  });

  test("workerUrl is written as the worker will see it called: the URL the broker signs must match it", async () => {
    const cases: [string, string][] = [
      ["http://LOCALHOST:3000/jobs", "http://localhost:3000/jobs/queued"],
      ["http://127.0.0.1:3000/jobs?", "http://127.0.0.1:3000/jobs/queued"],
      ["http://example.com:80/jobs/", "http://example.com/jobs/queued"],
      ["https://example.com:443/my jobs", "https://example.com/my%20jobs/queued"],
    ];
    for (const [workerUrl, destination] of cases) {
      await createClient({ workerUrl, baseUrl, token: "tok", retry: false }).enqueue(queued, { n: 1 });
      expect(last().path).toBe(`/v2/enqueue/fifo/${destination}`);
    }
  });

  test("refuses a relative workerUrl, one with a #fragment, a missing token, and a baseUrl that is not http(s)", () => {
    expect(() => createClient({ workerUrl: "/jobs", token: "t" })).toThrow(/workerUrl/);
    expect(() => createClient({ workerUrl: "https://", token: "t" })).toThrow(/must be an absolute http\(s\) URL/);
    expect(() => createClient({ workerUrl: "https://a.example/jobs#x", token: "t" })).toThrow(/cannot have a #fragment/);
    expect(() => createClient({ workerUrl: "https://a.example/jobs", token: "" })).toThrow(/QSTASH_TOKEN/);
    for (const bad of ["127.0.0.1:8080", "ftp://broker", "", "http://"]) {
      expect(() => createClient({ workerUrl: "https://a.example/jobs", baseUrl: bad, token: "t" })).toThrow(/"baseUrl" must be an absolute http\(s\) URL/);
    }
  });

  test("bad enqueue options fail before publishing", async () => {
    const before = seen.length;
    await expect(client().enqueue(welcome, { userId: 1 }, { delay: "soon" })).rejects.toThrow(/"delay": invalid duration/);
    expect(seen.length).toBe(before);
  });
});

describe("createClient: a 2xx answer it cannot read", () => {
  // The broker's answer comes from an injected fetch (a unit seam): hosts and proxies in between can
  // answer 2xx with anything, and a result without its id must never pass for a success.
  const answering = (status: number, body: string, type = "application/json") =>
    createClient({
      workerUrl: "http://127.0.0.1:3000/jobs",
      baseUrl: "http://broker.test",
      token: "tok",
      retry: false,
      fetch: (async () => new Response(body, { status, headers: { "content-type": type } })),
    });
  const cases: [string, number, string, string?][] = [
    ["an HTML page", 200, "<html>maintenance</html>", "text/html"],
    ["an empty body", 201, ""],
    ["null", 201, "null"],
    ["an object without the id", 200, '{"url":"x"}'],
    ["a number for the id", 200, '{"messageId":7,"scheduleId":7}'],
    ["an empty id", 201, '{"messageId":"","scheduleId":""}'],
  ];

  for (const [label, status, body, type] of cases) {
    test(`${label}: enqueue and schedule throw BrokerError with the status and the answer`, async () => {
      const c = answering(status, body, type);
      const enqueued = await c.enqueue(queued, { n: 1 }).catch((error: unknown) => error);
      expect(enqueued).toBeInstanceOf(BrokerError);
      expect((enqueued as BrokerError).status).toBe(status);
      expect((enqueued as BrokerError).message).toContain("expected a JSON object with a messageId");
      expect((enqueued as BrokerError).message).toContain("may have taken effect");
      const scheduled = await c.schedule(queued, { id: "s", cron: "* * * * *", input: { n: 1 } }).catch((error: unknown) => error);
      expect(scheduled).toBeInstanceOf(BrokerError);
      expect((scheduled as BrokerError).message).toContain("expected a JSON object with a scheduleId");
    });
  }

  test("enqueueMany: an answer that is not JSON, or not an object or array, throws BrokerError", async () => {
    for (const body of ["<html>maintenance</html>", "", "null", "42"]) {
      const error = await answering(200, body).enqueueMany([queued.with({ n: 1 })]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BrokerError);
      expect((error as BrokerError).message).toContain("expected a JSON array of 1 result");
    }
  });

  test("enqueueMany: more results than messages is unreadable too (they cannot be lined up)", async () => {
    const error = await answering(201, '[{"messageId":"a"},{"messageId":"b"},{"messageId":"c"}]')
      .enqueueMany([queued.with({ n: 1 }), queued.with({ n: 2 })])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BrokerError);
    expect((error as BrokerError).message).toMatch(/expected a JSON array of 2 results/);
  });

  test("a 2xx answer cut off mid-body is a BrokerError with that status, not retried", async () => {
    let calls = 0;
    const c = createClient({
      workerUrl: "http://127.0.0.1:3000/jobs",
      baseUrl: "http://broker.test",
      token: "tok",
      fetch: (async () => {
        calls++;
        const body = new ReadableStream({
          start(controller) {
            controller.enqueue(new TextEncoder().encode('{"messageId":"par'));
            controller.error(new TypeError("ECONNRESET: the connection was reset"));
          },
        });
        return new Response(body, { status: 201, headers: { "content-type": "application/json" } });
      }),
    });
    const error = await c.enqueue(queued, { n: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BrokerError);
    expect((error as BrokerError).status).toBe(201);
    expect((error as Error).message).toMatch(/the answer was cut off: .*ECONNRESET.*\(the call may have taken effect\)/);
    expect(calls).toBe(1);
  });

  test("a long answer is shown cut to 200 characters", async () => {
    const error = (await answering(200, "x".repeat(5000)).enqueue(queued, { n: 1 }).catch((e: unknown) => e)) as BrokerError;
    expect(error.message).toContain(`"${"x".repeat(200)}…"`);
    expect(error.message.length).toBeLessThan(400);
  });
});
