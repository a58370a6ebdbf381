import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Receiver } from "@upstash/qstash";
import { stalledBody } from "../helpers/stalled-body.ts";
import { type Destination, startBroker, startDestination, type TestBroker, waitUntil } from "./helpers.ts";

// Bad input to the API gets a deliberate 4xx and a JSON error that says what is wrong; the broker
// keeps running.

let broker: TestBroker;
let dest: Destination;
/** The broker's log lines (each state change, and errors). */
const logged: string[] = [];
beforeAll(async () => {
  broker = await startBroker({ maxBodyBytes: 1024, log: (line) => void logged.push(line) });
  dest = startDestination();
});
afterAll(async () => {
  await broker.close();
  dest.close();
});

async function expectError(response: Response, status: number, message: RegExp): Promise<void> {
  const text = await response.text();
  expect(response.status, text).toBe(status);
  expect(response.headers.get("content-type")).toContain("application/json");
  const json = JSON.parse(text) as { error: string };
  expect(json.error).toMatch(message);
}

const publish = (destination: string, headers: Record<string, string> = {}, body = "{}") =>
  broker.api(`/v2/publish/${destination}`, { method: "POST", headers, body });

describe("auth", () => {
  test("a missing token is a 401", async () => {
    await expectError(await fetch(`${broker.url}/v2/keys`), 401, /missing token/);
  });
  test("a wrong token is a 401", async () => {
    await expectError(await broker.api("/v2/keys", { headers: { authorization: "Bearer nope" } }), 401, /invalid token/);
  });
  test("?qstash_token= is accepted, and not forwarded as part of the destination", async () => {
    const response = await fetch(`${broker.url}/v2/publish/${dest.url}/tok?a=1&qstash_token=${broker.token}`, { method: "POST", body: "x" });
    expect(response.status).toBe(201);
    expect(((await response.json()) as { url: string }).url).toBe(`${dest.url}/tok?a=1`);
    await waitUntil(() => dest.received.find((r) => r.path === "/tok?a=1"));
  });
});

describe("publish validation", () => {
  const cases: [string, Record<string, string>, number, RegExp][] = [
    ["ftp://example.com/x", {}, 400, /only http:\/\/ and https:\/\//],
    ["http//missing-colon", {}, 400, /invalid destination/],
    ["no-such-group", {}, 404, /no URL group named "no-such-group"/],
    ["DEST", { "upstash-delay": "10x" }, 400, /Upstash-Delay "10x"/],
    ["DEST", { "upstash-not-before": "soon" }, 400, /Upstash-Not-Before/],
    ["DEST", { "upstash-delay": `${"9".repeat(30)}s` }, 400, /Upstash-Delay "9+s".*at most 8640000000000 seconds/],
    ["DEST", { "upstash-delay": "9".repeat(20) }, 400, /Upstash-Delay/],
    ["DEST", { "upstash-not-before": "9".repeat(30) }, 400, /Upstash-Not-Before "9+": later than any date/],
    ["DEST", { "upstash-retries": "abc" }, 400, /Upstash-Retries "abc"/],
    ["DEST", { "upstash-retries": "1000" }, 400, /from 0 to 100/],
    ["DEST", { "upstash-timeout": "forever" }, 400, /Upstash-Timeout "forever"/],
    ["DEST", { "upstash-retry-delay": "eval(1)" }, 400, /Upstash-Retry-Delay.*unknown name "eval"/],
    ["DEST", { "upstash-retry-delay": "pow(2," }, 400, /Upstash-Retry-Delay/],
    ["DEST", { "upstash-method": "BREW" }, 400, /Upstash-Method "BREW"/],
    ["DEST", { "upstash-callback": "nope" }, 400, /Upstash-Callback "nope"/],
    ["DEST", { "upstash-flow-control-key": "k", "upstash-flow-control-value": "parallelism=0" }, 400, /parallelism "0"/],
    ["DEST", { "upstash-flow-control-key": "k", "upstash-flow-control-value": "speed=3" }, 400, /unknown key "speed"/],
    ["DEST", { "upstash-flow-control-value": "rate=3" }, 400, /needs an Upstash-Flow-Control-Key/],
  ];
  for (const [destination, headers, status, message] of cases) {
    test(`${destination} ${JSON.stringify(headers)} → ${status}`, async () => {
      await expectError(await publish(destination.replace("DEST", `${dest.url}/x`), headers), status, message);
    });
  }

  test("a body far over every limit still gets a JSON 413 (not the server's own empty one)", async () => {
    await expectError(await publish(`${dest.url}/huge`, {}, "x".repeat(2 * 1024 * 1024)), 413, /over the limit of 1024 bytes/);
    const batch = await broker.api("/v2/batch", { method: "POST", body: "[" + " ".repeat(2 * 1024 * 1024) + "]" });
    await expectError(batch, 413, /over the limit of 10240 bytes/);
  });

  test("a malformed percent-escape in an enqueue's queue name is a 400", async () => {
    for (const queue of ["%", "%E0%A4%A"]) {
      const response = await broker.api(`/v2/enqueue/${queue}/${dest.url}/x`, { method: "POST", body: "b" });
      await expectError(response, 400, /invalid queue name .*malformed percent-escape/);
    }
  });

  test("a body over the limit is a 413", async () => {
    await expectError(await publish(`${dest.url}/big`, {}, "x".repeat(2000)), 413, /over the limit of 1024 bytes/);
  });

  test("a chunked body is refused with 413 as soon as it passes the limit, without waiting for the rest", async () => {
    // 1536 bytes (over the limit of 1024), then the stream stalls until the test ends.
    const { body, release } = stalledBody(1536, 512);
    try {
      const response = await fetch(`${broker.url}/v2/publish/${dest.url}/chunked-big`, {
        method: "POST",
        headers: { authorization: `Bearer ${broker.token}` },
        body,
        duplex: "half",
      } as RequestInit);
      await expectError(response, 413, /over the limit of 1024 bytes/);
    } finally {
      release();
    }
    const logs = (await (await broker.api("/v2/events")).json()) as { events: { url?: string }[] };
    expect(logs.events.filter((e) => e.url?.endsWith("/chunked-big"))).toEqual([]);
  });

  test("enqueue needs a queue and a destination, and a valid queue name", async () => {
    await expectError(await broker.api("/v2/enqueue/only-queue", { method: "POST", body: "" }), 400, /enqueue\/<queue name>\/<destination>/);
    await expectError(await broker.api(`/v2/enqueue/bad%20name/${dest.url}/x`, { method: "POST", body: "" }), 400, /invalid queue name/);
  });

  test("a batch must be a JSON array of valid items; one bad item refuses the whole batch", async () => {
    await expectError(await broker.api("/v2/batch", { method: "POST", body: "{not json" }), 400, /not valid JSON/);
    await expectError(await broker.api("/v2/batch", { method: "POST", body: "{}" }), 400, /expected a JSON array/);
    const items = [
      { destination: `${dest.url}/batch-ok`, headers: {} },
      { destination: `${dest.url}/batch-bad`, headers: { "upstash-delay": "never" } },
    ];
    await expectError(await broker.api("/v2/batch", { method: "POST", body: JSON.stringify(items) }), 400, /batch item 1: invalid Upstash-Delay/);
    await Bun.sleep(50);
    expect(dest.received.some((r) => r.path === "/batch-ok")).toBe(false);
  });
});

describe("other endpoints", () => {
  test("an unknown path is a 404", async () => {
    await expectError(await broker.api("/v2/nothing-here"), 404, /unknown path: GET \/v2\/nothing-here/);
    await expectError(await broker.api("/v3/publish", { method: "POST" }), 404, /unknown path/);
  });
  test("unknown messages, DLQ entries, queues, schedules, groups are 404s", async () => {
    await expectError(await broker.api("/v2/messages/msg_nope"), 404, /message msg_nope not found/);
    await expectError(await broker.api("/v2/messages/msg_nope", { method: "DELETE" }), 404, /not found/);
    await expectError(await broker.api("/v2/dlq/dlq_nope", { method: "DELETE" }), 404, /not found/);
    await expectError(await broker.api("/v2/queues/nope"), 404, /queue "nope" not found/);
    await expectError(await broker.api("/v2/schedules/scd_nope"), 404, /schedule scd_nope not found/);
    await expectError(await broker.api("/v2/topics/nope"), 404, /URL group "nope" not found/);
  });
  test("an unknown DLQ or cancel filter is a 400 (a typo never widens a bulk action)", async () => {
    await expectError(await broker.api("/v2/dlq?urll=x"), 400, /unknown filter "urll"/);
    await expectError(await broker.api("/v2/messages?lable=x", { method: "DELETE" }), 400, /unknown filter "lable"/);
    await expectError(await broker.api("/v2/events?count=zero"), 400, /invalid count/);
  });
  test("a bulk cancel or DLQ delete whose body is not a JSON object is a 400 and touches nothing", async () => {
    const published = await publish(`${dest.url}/kept`, { "upstash-delay": "1h" });
    expect(published.status).toBe(201);
    const { messageId } = (await published.json()) as { messageId: string };
    for (const body of ["null", "[]", '"msg_x"', "1", "true"]) {
      await expectError(await broker.api("/v2/messages", { method: "DELETE", body }), 400, /request body must be a JSON object such as \{"messageIds"/);
      await expectError(await broker.api("/v2/dlq", { method: "DELETE", body }), 400, /request body must be a JSON object such as \{"dlqIds"/);
    }
    expect((await broker.api(`/v2/messages/${messageId}`)).status).toBe(200);
    expect((await broker.api(`/v2/messages/${messageId}`, { method: "DELETE" })).status).toBe(200);
  });
  test("an empty id list is a 400, never every entry: body [] or an empty id, in the query too", async () => {
    const published = await publish(`${dest.url}/kept-too`, { "upstash-delay": "1h" });
    const { messageId } = (await published.json()) as { messageId: string };
    const empty = /"(messageIds|dlqIds)" is empty or holds an empty id/;
    for (const body of ['{"messageIds":[]}', '{"messageIds":[""]}']) {
      await expectError(await broker.api("/v2/messages", { method: "DELETE", body }), 400, empty);
    }
    await expectError(await broker.api("/v2/messages?messageIds=", { method: "DELETE" }), 400, empty);
    await expectError(await broker.api("/v2/dlq", { method: "DELETE", body: '{"dlqIds":[]}' }), 400, empty);
    await expectError(await broker.api("/v2/dlq?dlqIds=", { method: "DELETE" }), 400, empty);
    await expectError(await broker.api("/v2/dlq/retry", { method: "POST", body: '{"dlqIds":[]}' }), 400, empty);
    expect((await broker.api(`/v2/messages/${messageId}`)).status).toBe(200);
    expect((await broker.api(`/v2/messages/${messageId}`, { method: "DELETE" })).status).toBe(200);
  });
  test("schedules need a valid cron", async () => {
    await expectError(await broker.api(`/v2/schedules/${dest.url}/s`, { method: "POST" }), 400, /missing Upstash-Cron/);
    await expectError(await broker.api(`/v2/schedules/${dest.url}/s`, { method: "POST", headers: { "upstash-cron": "every day" } }), 400, /invalid Upstash-Cron/);
    await expectError(await broker.api(`/v2/schedules/${dest.url}/s`, { method: "POST", headers: { "upstash-cron": "61 * * * *" } }), 400, /invalid Upstash-Cron/);
    for (const cron of ["0 0 31 2 *", "0 0 30 2 *", "CRON_TZ=Europe/Berlin 0 0 31 4 *"]) {
      await expectError(await broker.api(`/v2/schedules/${dest.url}/s`, { method: "POST", headers: { "upstash-cron": cron } }), 400, /it never fires/);
    }
    await expectError(await broker.api(`/v2/schedules/${dest.url}/s`, { method: "POST", headers: { "upstash-cron": "* * * * * * *" } }), 400, /expected 5 fields/);
    await expectError(await broker.api(`/v2/schedules/${dest.url}/s`, { method: "POST", headers: { "upstash-cron": "CRON_TZ=Mars/Base 0 * * * *" } }), 400, /invalid time zone "Mars\/Base"/);
  });
  test("a pause or resume of an unknown schedule is a 404, whatever the id looks like", async () => {
    for (const id of ["scd_none", "no%20such", "a,b"]) {
      for (const action of ["pause", "resume"]) {
        await expectError(await broker.api(`/v2/schedules/${id}/${action}`, { method: "POST" }), 404, /schedule .* not found/);
      }
    }
  });
  test("queue upserts are validated", async () => {
    await expectError(await broker.api("/v2/queues", { method: "POST", body: JSON.stringify({ queueName: "q", parallelism: 0 }) }), 400, /invalid parallelism 0/);
    await expectError(await broker.api("/v2/queues", { method: "POST", body: JSON.stringify({ parallelism: 1 }) }), 400, /"queueName" must be a string/);
    await expectError(await broker.api("/v2/queues", { method: "POST", body: "[" }), 400, /not valid JSON/);
  });
  test("URL group endpoints are validated", async () => {
    const body = JSON.stringify({ endpoints: [{ url: "mailto:x@y" }] });
    await expectError(await broker.api("/v2/topics/g/endpoints", { method: "POST", body }), 400, /invalid endpoint url/);
    await expectError(await broker.api("/v2/topics/g/endpoints", { method: "POST", body: "{}" }), 400, /expected a JSON body/);
  });
  test("after all that the broker still works", async () => {
    const response = await broker.api("/v2/keys");
    expect(response.status).toBe(200);
  });
});

describe("keys", () => {
  test("rotation: next becomes current, a fresh next, deliveries signed with the new current", async () => {
    const before = (await (await broker.api("/v2/keys")).json()) as { current: string; next: string };
    const rotated = (await (await broker.api("/v2/keys/rotate", { method: "POST" })).json()) as { current: string; next: string };
    expect(rotated.current).toBe(before.next);
    expect(rotated.next).toStartWith("sig_");
    expect(rotated.next).not.toBe(before.next);
    expect(await (await broker.api("/v2/keys")).json()).toEqual(rotated);

    expect((await publish(`${dest.url}/after-rotation`)).status).toBe(201);
    const got = await waitUntil(() => dest.received.find((r) => r.path === "/after-rotation"));
    const signature = got.headers.get("upstash-signature")!;
    // Signed with the new current key (the old next), which is what a receiver still holding the old pair accepts too.
    const receiver = new Receiver({ currentSigningKey: rotated.current, nextSigningKey: rotated.current });
    expect(await receiver.verify({ signature, body: got.body, url: got.url })).toBe(true);
    const oldCurrentOnly = new Receiver({ currentSigningKey: before.current, nextSigningKey: before.current });
    await expect(oldCurrentOnly.verify({ signature, body: got.body, url: got.url })).rejects.toThrow();
  });
});

describe("flow control", () => {
  test("a pin with a period of 0 is a 400 (a window that ends as it opens would limit nothing)", async () => {
    for (const period of ["0", "0s"]) {
      await expectError(await broker.api(`/v2/flowControl/short-pin/pin?rate=1&period=${period}`, { method: "POST" }), 400, /must be at least 1s/);
    }
    const info = await broker.api("/v2/flowControl/short-pin");
    expect(info.status === 404 || ((await info.json()) as { isPinnedRate: boolean }).isPinnedRate === false).toBe(true);
    expect((await broker.api("/v2/flowControl/short-pin/pin?rate=1&period=1s", { method: "POST" })).status).toBe(200);
  });
});

describe("found by fuzzing the API", () => {
  /** A raw HTTP/1.x request to the broker; answers what came back before the server closed. */
  const raw = (text: string, closeAfterMs?: number): Promise<string> =>
    new Promise((resolve) => {
      let out = "";
      const timer = setTimeout(() => resolve(out), 2000);
      const port = Number(new URL(broker.url).port);
      Bun.connect({
        hostname: "127.0.0.1",
        port,
        socket: {
          data: (_socket, data) => void (out += new TextDecoder().decode(data)),
          close: () => (clearTimeout(timer), resolve(out)),
          error: () => resolve(out),
        },
      }).then(async (socket) => {
        socket.write(text);
        if (closeAfterMs !== undefined) {
          await Bun.sleep(closeAfterMs);
          socket.end();
        }
      });
    });
  const auth = () => `Authorization: Bearer ${broker.token}\r\n`;

  test("a Host header that makes no URL (or none, on HTTP/1.0) is a JSON 400, not a 500", async () => {
    for (const head of [`GET /v2/keys HTTP/1.1\r\nHost: a/b\r\n${auth()}Connection: close\r\n\r\n`, `GET /v2/keys HTTP/1.0\r\n${auth()}\r\n`]) {
      const answer = await raw(head);
      expect(answer.split("\r\n")[0], answer).toBe("HTTP/1.1 400 Bad Request");
      expect(JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4)).error).toMatch(/Host header .* does not make a URL/);
    }
  });

  test("too many filter values or ids is a 400 (SQLite bounds a statement), not a 500", async () => {
    const labels = Array.from({ length: 101 }, () => "label=a").join("&");
    await expectError(await broker.api(`/v2/events?${labels}`), 400, /too many values of filter "label": at most 100/);
    await expectError(await broker.api(`/v2/messages?${labels}`, { method: "DELETE" }), 400, /too many values of filter "label"/);
    const statuses = Array.from({ length: 101 }, (_, i) => `responseStatus=${400 + i}`).join("&");
    await expectError(await broker.api(`/v2/dlq?${statuses}`), 400, /too many values of filter "responseStatus": at most 100/);
    // Over this file's 1 KB body limit: a broker with the default one.
    const roomy = await startBroker();
    try {
      const ids = JSON.stringify({ dlqIds: Array.from({ length: 10_001 }, (_, i) => `dlq_${i}`) });
      await expectError(await roomy.api("/v2/dlq", { method: "DELETE", body: ids }), 400, /too many ids in "dlqIds": at most 10000/);
      await expectError(await roomy.api("/v2/dlq/retry", { method: "POST", body: ids }), 400, /too many ids in "dlqIds"/);
      const messageIds = JSON.stringify({ messageIds: Array.from({ length: 10_001 }, (_, i) => `msg_${i}`) });
      await expectError(await roomy.api("/v2/messages", { method: "DELETE", body: messageIds }), 400, /too many ids in "messageIds"/);
    } finally {
      await roomy.close();
    }
  });

  test("a forward header with no name is a 400 at publish (it used to fail every attempt)", async () => {
    for (const name of ["Upstash-Forward-", "Upstash-Callback-Forward-", "Upstash-Failure-Callback-Forward-"]) {
      await expectError(await publish(`${dest.url}/nameless`, { [name]: "v" }), 400, /the name of the header to forward is missing/);
    }
  });

  test("a forwarded header named like one the broker sets is not sent: the broker's own arrives alone", async () => {
    const response = await publish(`${dest.url}/own-headers`, {
      "Upstash-Forward-Upstash-Signature": "forged",
      "Upstash-Forward-Upstash-Message-Id": "msg_forged",
      "Upstash-Forward-User-Agent": "mine",
      "Upstash-Forward-X-Kept": "yes",
    });
    const { messageId } = (await response.json()) as { messageId: string };
    const got = await waitUntil(() => dest.received.find((r) => r.path === "/own-headers"));
    expect(got.headers.get("upstash-message-id")).toBe(messageId);
    expect(got.headers.get("upstash-signature")).not.toContain("forged");
    expect(got.headers.get("user-agent")).toBe("Upstash-QStash");
    expect(got.headers.get("x-kept")).toBe("yes");
  });

  test("a client that stops sending mid-body gets a 400 and no error is logged", async () => {
    const head = `POST /v2/publish/${dest.url}/cut HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth()}Content-Length: 10\r\n\r\nabc`;
    const before = logged.length;
    await raw(head, 100);
    await Bun.sleep(100);
    // Before: an empty "error: " line (the 500 path, for a cut-off body).
    expect(logged.slice(before).filter((line) => line.startsWith("error"))).toEqual([]);
    // The broker goes on: nothing was taken from the cut request.
    expect(dest.received.some((r) => r.path === "/cut")).toBe(false);
    expect((await publish(`${dest.url}/after-cut`)).status).toBe(201);
  });
});
