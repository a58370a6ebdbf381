// The Workers example (examples/cloudflare) in real workerd, through Miniflare: bundled with esbuild
// for the worker target (as wrangler does), it receives the jobs a `jobwire dev` broker delivers
// over loopback, reads its signing keys from its bindings per request, and its `POST /signup` route
// enqueues through the broker (waitUntil) a job that comes back to the same Worker.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Broker } from "../../../src/broker/index.ts";
import { createClient } from "../../../src/index.ts";
import { importCsv, resizeImage, sendWelcomeEmail } from "../../../examples/jobs.ts";
import { waitFor } from "../../helpers/wait.ts";
import { badSignatureStatuses, EFFECTS, events, startBroker, waitDelivered } from "../harness.ts";
import { bundle, expectNoNodeImports, freePort, startWorkerd, type Workerd } from "./workerd.ts";

describe("Workers example, in workerd (Miniflare)", () => {
  let script = "";
  let broker: Broker;
  let mf: Workerd | undefined;
  let workerUrl = "";
  const lines: string[] = [];
  const output = () => lines.join("\n");
  const line = (pattern: RegExp, what: string) => waitFor(what, () => lines.map((l) => l.match(pattern)).find(Boolean), 10_000);

  beforeAll(async () => {
    script = await bundle();
    broker = await startBroker();
    const port = await freePort();
    workerUrl = `http://127.0.0.1:${port}/jobs`;
    mf = await startWorkerd(
      script,
      {
        QSTASH_URL: broker.url,
        QSTASH_TOKEN: broker.token,
        QSTASH_CURRENT_SIGNING_KEY: broker.signingKeys.current,
        QSTASH_NEXT_SIGNING_KEY: broker.signingKeys.next,
        WORKER_URL: workerUrl,
      },
      port,
      lines,
    );
  }, 60_000);

  afterAll(async () => {
    await mf?.dispose();
    await broker?.close();
  });

  test("the bundle needs no Node polyfills", () => expectNoNodeImports(script));

  test("the broker delivers three jobs to workerd; the Worker verifies each and runs it", async () => {
    const jobs = createClient({ workerUrl, baseUrl: broker.url, token: broker.token });
    const ids = {
      "send-welcome-email": (await jobs.enqueue(sendWelcomeEmail, { userId: 42 })).messageId,
      "resize-image": (await jobs.enqueue(resizeImage, { imageId: "avatar-42", width: 256 })).messageId,
      "import-csv": (await jobs.enqueue(importCsv, { fileUrl: "https://files.example.com/users.csv" })).messageId,
    };
    const states = await waitDelivered(broker, Object.values(ids));
    for (const id of Object.values(ids)) expect(states.get(id)).not.toContain("RETRY");
    const effects = {
      "send-welcome-email": EFFECTS["send-welcome-email"](42),
      "resize-image": EFFECTS["resize-image"]("avatar-42", 256),
      "import-csv": EFFECTS["import-csv"]("https://files.example.com/users.csv"),
    };
    for (const [job, text] of Object.entries(effects)) {
      await line(new RegExp(`\\[jobwire\\] ${job} ${ids[job as keyof typeof ids]} ${text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}`), `${job} in workerd's output\n${output()}`);
    }
  }, 30_000);

  test("POST /signup answers 202, enqueues after the response, and the job comes back to the same Worker", async () => {
    const res = await fetch(`${workerUrl.replace(/\/jobs$/, "")}/signup`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ userId: 7 }),
    });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ welcome: "on its way" });
    const [, messageId] = await line(
      /\[jobwire\] send-welcome-email (\S+) welcome email sent to user 7$/,
      `the signup's welcome email in workerd's output\n${output()}`,
    );
    // The handler logs before its response reaches the broker: wait for the broker to record it.
    const states = (await waitDelivered(broker, [messageId!])).get(messageId!);
    expect(states).toContain("DELIVERED");
    expect((await events(broker, messageId!))[0]!.url).toBe(`${workerUrl}/send-welcome-email`);
  }, 30_000);

  test("POST /signup with invalid input is a 400 with the issues, and enqueues nothing", async () => {
    const before = broker.stats();
    const res = await fetch(`${workerUrl.replace(/\/jobs$/, "")}/signup`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ userId: "seven" }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { issues: { path?: { key: string }[] }[] };
    expect(body.issues[0]!.path?.[0]?.key).toBe("userId");
    expect(broker.stats().pending).toBe(before.pending);
  });

  test("a delivery with a forged signature, or none, is refused with 401 and runs nothing", async () => {
    expect(await badSignatureStatuses(`${workerUrl}/send-welcome-email`)).toEqual([401, 401]);
    await Bun.sleep(100);
    expect(lines.some((l) => l.includes("user 666")), output()).toBe(false);
  });

  test("an early 489 (unknown job) with a large body reaches the caller, and the connection stays usable", async () => {
    // workerd resets a connection whose request body was not read: the answer must come after it is.
    const body = "x".repeat(400 * 1024);
    for (let i = 0; i < 2; i++) {
      const response = await fetch(`${workerUrl}/no-such-job`, { method: "POST", body, headers: { "content-type": "application/json" } });
      expect(response.status).toBe(489);
      expect(response.headers.get("upstash-nonretryable-error")).toBe("true");
      expect(((await response.json()) as { error: string }).error).toMatch(/unknown job "no-such-job"/);
    }
  });

  test("without signing key bindings every delivery is refused, and the error names the binding", async () => {
    const bare: string[] = [];
    const unconfigured = await startWorkerd(script, { WORKER_URL: "http://127.0.0.1/jobs" }, 0, bare);
    try {
      const url = new URL("/jobs/send-welcome-email", await unconfigured.ready).href;
      // 500, not 401: a configuration error is the operator's to fix, and the broker retries meanwhile.
      expect(await badSignatureStatuses(url)).toEqual([500, 500]);
      await waitFor(`the missing binding named\n${bare.join("\n")}`, () => bare.some((l) => /QSTASH_CURRENT_SIGNING_KEY is not set/.test(l)), 5_000);
    } finally {
      await unconfigured.dispose();
    }
  }, 30_000);
});
