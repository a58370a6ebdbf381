// createClient publishes with its own small fetch client (src/broker-api.ts) instead of the official
// @upstash/qstash Client, to keep edge bundles small. This checks that it sends what the official
// Client sends for the same call, request for request: the same method, path, body and headers
// (telemetry aside), recorded by one loopback server. The SDK side maps jobwire's options the way
// createClient did when it wrapped the SDK.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Client, type PublishRequest } from "@upstash/qstash";
import * as v from "valibot";
import { parseDuration } from "../../src/duration.ts";
import {
  type AnyJob,
  BrokerError,
  BrokerUnreachableError,
  createClient,
  defineJob,
  type EnqueueOptions,
  IDEMPOTENCY_HEADER,
  MAX_ATTEMPTS_HEADER,
} from "../../src/index.ts";
import { type RecordingServer, recordingServer } from "../helpers/recording-server.ts";

interface Recorded {
  method: string;
  path: string;
  body: string;
  headers: Record<string, string>;
}

// Set per call by the transport and the runtime, not by either client's mapping.
const TRANSPORT_HEADERS = new Set(["host", "connection", "content-length", "user-agent", "accept", "accept-encoding"]);

let recorded: Recorded[] = [];
let server: RecordingServer;
let baseUrl: string;

beforeAll(() => {
  server = recordingServer((request) => {
    const { method, path, body } = request;
    const headers: Record<string, string> = {};
    request.headers.forEach((value, name) => {
      if (!TRANSPORT_HEADERS.has(name) && !name.startsWith("upstash-telemetry-")) headers[name] = value;
    });
    recorded.push({ method, path, body, headers });
    if (path === "/v2/batch") return Response.json((JSON.parse(body) as unknown[]).map((_, i) => ({ messageId: `msg_${i}` })), { status: 201 });
    if (path.startsWith("/v2/schedules/") && method === "POST") return Response.json({ scheduleId: "scd_1" });
    if (method === "DELETE") return new Response(null, { status: 200 });
    if (request.headers.get("upstash-deduplication-id") === "fail-412") return Response.json({ error: "bad retries" }, { status: 412 });
    return Response.json({ messageId: "msg_1" }, { status: 201 });
  });
  baseUrl = server.url;
});
afterAll(() => server.stop());

const workerUrl = "http://127.0.0.1:3000/jobs";
const jobwire = () => createClient({ workerUrl, baseUrl, token: "tok", retry: false });
const sdk = () => new Client({ baseUrl, token: "tok", enableTelemetry: false, retry: false });

// What createClient handed the official SDK for one enqueue (its mapping before it had its own client).
function sdkRequest(job: AnyJob, input: unknown, options: EnqueueOptions = {}) {
  const merged: EnqueueOptions = { ...job.defaults, ...options };
  const key = job.idempotencyKey?.(input);
  const headers: Record<string, string> = { ...merged.headers, "Content-Type": "application/json" };
  if (key !== undefined) headers[IDEMPOTENCY_HEADER] = key;
  headers[MAX_ATTEMPTS_HEADER] = String(1 + (merged.retries ?? 3));
  const request: PublishRequest<string> & { url: string } = { url: `${workerUrl}/${job.name}`, body: JSON.stringify(input), headers };
  if (merged.retries !== undefined) request.retries = merged.retries;
  if (merged.retryDelay !== undefined) request.retryDelay = merged.retryDelay;
  if (merged.timeout !== undefined) request.timeout = parseDuration(merged.timeout);
  if (merged.delay !== undefined) request.delay = parseDuration(merged.delay);
  if (merged.notBefore !== undefined) {
    request.notBefore = merged.notBefore instanceof Date ? Math.floor(merged.notBefore.getTime() / 1000) : merged.notBefore;
  }
  // The job's key, scoped by its name as the worker's is.
  const deduplicationId = merged.deduplicationId ?? (key === undefined ? undefined : `${job.name}:${key}`);
  if (deduplicationId !== undefined) request.deduplicationId = deduplicationId;
  if (merged.callback !== undefined) request.callback = merged.callback;
  if (merged.failureCallback !== undefined) request.failureCallback = merged.failureCallback;
  if (merged.label !== undefined) request.label = merged.label;
  const flow = merged.flowControl;
  if (flow) {
    request.flowControl = {
      key: flow.key,
      ...(flow.parallelism !== undefined ? { parallelism: flow.parallelism } : {}),
      ...(flow.rate !== undefined ? { rate: flow.rate } : {}),
      ...(flow.period !== undefined ? { period: parseDuration(flow.period) } : {}),
    } as NonNullable<PublishRequest["flowControl"]>;
  }
  return { request, queue: merged.queue };
}

/** Runs one call through each client and answers the two recorded requests. */
async function both(viaJobwire: () => Promise<unknown>, viaSdk: () => Promise<unknown>): Promise<[Recorded, Recorded]> {
  recorded = [];
  await viaJobwire();
  await viaSdk();
  expect(recorded).toHaveLength(2);
  return [recorded[0]!, recorded[1]!];
}

const welcome = defineJob({
  name: "send-welcome-email",
  input: v.object({ userId: v.number() }),
  retries: 5,
  retryDelay: "pow(2, retried) * 1000",
  timeout: "30s",
  label: "emails",
  idempotencyKey: (input) => `welcome:${input.userId}`,
});
const plain = defineJob({ name: "plain", input: v.object({ n: v.number() }) });
const queued = defineJob({ name: "queued", input: v.object({ n: v.number() }), queue: "fifo", delay: "1m" });
const flow = defineJob({ name: "flow", input: v.object({}), flowControl: { key: "tenant-1", parallelism: 2, rate: 10, period: "1m" } });
const rateOnly = defineJob({ name: "rate-only", input: v.object({}), flowControl: { key: "k", rate: 5 } });

const publishCases: [string, AnyJob, unknown, EnqueueOptions | undefined][] = [
  ["a job with no options", plain as AnyJob, { n: 1 }, undefined],
  ["a job's defaults and an idempotency key", welcome as AnyJob, { userId: 42 }, undefined],
  [
    "every enqueue option",
    welcome as never,
    { userId: 7 },
    {
      delay: "1m30s",
      notBefore: new Date(1_900_000_000_000),
      deduplicationId: "custom",
      callback: "https://cb.example/ok",
      failureCallback: "https://cb.example/failed",
      headers: { "X-Trace": "t1", "Upstash-Forward-Raw": "kept as given" },
      retries: 0,
    },
  ],
  ["a numeric notBefore and a number delay", plain as AnyJob, { n: 2 }, { notBefore: 1_900_000_000, delay: 45 }],
  ["a queued job", queued as AnyJob, { n: 3 }, undefined],
  ["flow control with all three limits", flow as AnyJob, {}, undefined],
  ["flow control with a rate only", rateOnly as AnyJob, {}, undefined],
];

describe("createClient sends what the official Client sends", () => {
  for (const [name, job, input, options] of publishCases) {
    test(`enqueue: ${name}`, async () => {
      const { request, queue } = sdkRequest(job, input, options);
      const [ours, theirs] = await both(
        () => jobwire().enqueue(job, input as AnyJob, options),
        () => (queue ? sdk().queue({ queueName: queue }).enqueue(request) : sdk().publish(request)),
      );
      expect(ours).toEqual(theirs);
    });
  }

  test("enqueueMany: one /v2/batch with the same items", async () => {
    const cases = publishCases.map(([, job, input, options]) => ({ job, input, options }));
    const [ours, theirs] = await both(
      () => jobwire().enqueueMany(cases.map(({ job, input, options }) => job.with(input as AnyJob, options))),
      () =>
        sdk().batch(
          cases.map(({ job, input, options }) => {
            const { request, queue } = sdkRequest(job, input, options);
            return queue ? { ...request, queueName: queue } : request;
          }),
        ),
    );
    expect(ours.path).toBe("/v2/batch");
    expect({ ...ours, body: JSON.parse(ours.body) }).toEqual({ ...theirs, body: JSON.parse(theirs.body) });
  });

  test("schedule: the same cron, id, queue and delivery headers", async () => {
    const { request, queue } = sdkRequest(queued as AnyJob, { n: 9 }, { retries: 2 });
    const { url, notBefore: _n, deduplicationId: _d, ...rest } = request;
    const [ours, theirs] = await both(
      () => jobwire().schedule(queued, { id: "nightly", cron: "0 3 * * *", input: { n: 9 }, retries: 2 }),
      () => sdk().schedules.create({ ...rest, destination: url, cron: "0 3 * * *", scheduleId: "nightly", ...(queue ? { queueName: queue } : {}) }),
    );
    expect(ours).toEqual(theirs);
  });

  test("unschedule and cancel: the same DELETEs", async () => {
    const [ourDelete, theirDelete] = await both(() => jobwire().unschedule("nightly"), () => sdk().schedules.delete("nightly"));
    expect(ourDelete).toEqual(theirDelete);
    const [ours, theirs] = await both(() => jobwire().cancel("msg_9"), () => sdk().messages.delete("msg_9"));
    expect(ours).toEqual(theirs);
  });
});

describe("createClient's own client", () => {
  test("the body is JSON whatever Content-Type the caller passes (the SDK mapping sent both, comma-joined)", async () => {
    recorded = [];
    await jobwire().enqueue(plain, { n: 1 }, { headers: { "content-type": "text/plain", "X-A": "1" } });
    expect(recorded[0]!.headers["content-type"]).toBe("application/json");
    expect(recorded[0]!.headers["upstash-forward-x-a"]).toBe("1");
  });

  test("an error status throws BrokerError with the status and the broker's message; nothing is retried", async () => {
    recorded = [];
    const error = await jobwire()
      .enqueue(plain, { n: 1 }, { deduplicationId: "fail-412" })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BrokerError);
    expect((error as BrokerError).status).toBe(412);
    expect((error as BrokerError).message).toBe("POST /v2/publish failed with 412: bad retries");
    expect(recorded).toHaveLength(1);
  });

  test("a fetch that throws is retried with the given backoff, then the error surfaces", async () => {
    let calls = 0;
    const flaky: typeof fetch = Object.assign(
      async (input: RequestInfo | URL, init?: RequestInit) => {
        calls++;
        if (calls < 3) throw new TypeError("connection refused");
        return fetch(input, init);
      },
      { preconnect: fetch.preconnect },
    );
    const waits: number[] = [];
    const client = createClient({ workerUrl, baseUrl, token: "tok", fetch: flaky, retry: { retries: 2, backoff: (n) => (waits.push(n), 1) } });
    expect(await client.enqueue(plain, { n: 1 })).toEqual({ messageId: "msg_1", deduplicated: false });
    expect(calls).toBe(3);
    expect(waits).toEqual([0, 1]);

    calls = -10;
    const noRetry = createClient({ workerUrl, baseUrl, token: "tok", fetch: flaky, retry: false });
    const error = await noRetry.enqueue(plain, { n: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BrokerUnreachableError);
    expect((error as BrokerUnreachableError).attempts).toBe(1);
    expect((error as Error).cause).toBeInstanceOf(TypeError);
    expect((error as Error).message).toBe(`POST /v2/publish could not reach the broker at ${baseUrl} (1 attempt): connection refused`);
    expect(calls).toBe(-9);
  });

  test("a broker nobody listens at: BrokerUnreachableError after every attempt, naming the URL", async () => {
    const closed = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
    const deadUrl = `http://127.0.0.1:${closed.port}`;
    closed.stop(true);
    const client = createClient({ workerUrl, baseUrl: deadUrl, token: "tok", retry: { retries: 2, backoff: () => 1 } });
    const error = await client.enqueue(plain, { n: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BrokerUnreachableError);
    expect((error as BrokerUnreachableError).attempts).toBe(3);
    expect((error as Error).message).toStartWith(`POST /v2/publish could not reach the broker at ${deadUrl} (3 attempts): `);
  });
});
