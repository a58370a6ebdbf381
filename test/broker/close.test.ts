import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createBroker } from "../../src/broker/index.ts";
import { startDestination, waitUntil } from "./helpers.ts";

// `close()` lets the attempts in flight settle, but starts no new ones: a message not started yet
// stays pending in the database, and the next broker on that file delivers it.

const dir = mkdtempSync(join(tmpdir(), "jobwire-close-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("close() starts no new attempt; what was waiting is delivered by the next broker on the file", async () => {
  const db = join(dir, "close.sqlite");
  const dest = startDestination();
  let slowOnce = true;
  dest.respond(async (request) => {
    // The first attempt of "first" is still in flight when close() is called, and settles within
    // the grace period: that frees the queue's slot while the broker is stopping.
    if (request.body === "first" && slowOnce) {
      slowOnce = false;
      await Bun.sleep(400);
    }
    return new Response("ok");
  });
  try {
    const broker = await createBroker({ port: 0, db, log: false });
    const enqueue = async (body: string) => {
      const response = await fetch(`${broker.url}/v2/enqueue/one-at-a-time/${dest.url}/job`, {
        method: "POST",
        headers: { authorization: `Bearer ${broker.token}` },
        body,
      });
      expect(response.status).toBe(201);
    };
    await enqueue("first");
    await enqueue("second");
    await waitUntil(() => dest.received.length === 1, 5000, "the first attempt to start");
    await broker.close();
    await Bun.sleep(300);
    expect(dest.received.map((r) => r.body)).toEqual(["first"]);

    const next = await createBroker({ port: 0, db, log: false });
    try {
      await waitUntil(() => dest.received.some((r) => r.body === "second"), 5000, "the second message after the restart");
      // "first" settled before the database closed: it is not delivered again.
      await Bun.sleep(200);
      expect(dest.received.map((r) => r.body)).toEqual(["first", "second"]);
    } finally {
      await next.close();
    }
  } finally {
    dest.close();
  }
});
