import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEV_CREDENTIALS } from "../../src/broker/index.ts";
import { type CliBroker, spawnCli } from "./cli.ts";

// A real `jobwire dev` process holding hundreds of accepted messages (some in flight at a slow
// destination, some delayed, some still arriving) is SIGKILLed, restarted on the same SQLite file,
// and every message it acknowledged must still be delivered, at least once.

const dir = mkdtempSync(join(tmpdir(), "jobwire-crash-"));
const db = join(dir, "broker.sqlite");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const delivered = new Map<string, number>();
const destination = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  idleTimeout: 0,
  async fetch(request) {
    const id = request.headers.get("upstash-message-id")!;
    if (new URL(request.url).pathname === "/slow") await Bun.sleep(1500);
    delivered.set(id, (delivered.get(id) ?? 0) + 1);
    return new Response("ok");
  },
});
afterAll(() => void destination.stop(true));
const target = `http://127.0.0.1:${destination.port}`;

async function publish(broker: CliBroker, path: string, headers: Record<string, string> = {}): Promise<string> {
  const response = await fetch(`${broker.url}/v2/publish/${target}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${DEV_CREDENTIALS.token}`, "content-type": "application/json", ...headers },
    body: JSON.stringify({ path }),
  });
  if (response.status !== 201) throw new Error(`publish answered ${response.status}`);
  return ((await response.json()) as { messageId: string }).messageId;
}

async function publishBatch(broker: CliBroker, count: number): Promise<string[]> {
  const items = Array.from({ length: count }, (_, i) => ({ destination: `${target}/batch`, headers: {}, body: String(i) }));
  const response = await fetch(`${broker.url}/v2/batch`, {
    method: "POST",
    headers: { authorization: `Bearer ${DEV_CREDENTIALS.token}`, "content-type": "application/json" },
    body: JSON.stringify(items),
  });
  if (response.status !== 201) throw new Error(`batch answered ${response.status}`);
  return ((await response.json()) as { messageId: string }[]).map((r) => r.messageId);
}

test("every message acknowledged before a SIGKILL is delivered after the restart", async () => {
  const accepted = new Set<string>();
  const first = await spawnCli(["--port", "0", "--db", db]);

  const slow = await Promise.all(Array.from({ length: 100 }, () => publish(first, "/slow")));
  const delayed = await Promise.all(Array.from({ length: 100 }, () => publish(first, "/delayed", { "upstash-delay": "1s" })));
  const fast = await Promise.all(Array.from({ length: 100 }, () => publish(first, "/fast")));
  for (const id of [...slow, ...delayed, ...fast]) accepted.add(id);

  // Keep publishing while the process is killed: whatever was acknowledged counts.
  let publishing = true;
  const stream = (async () => {
    while (publishing) {
      try {
        for (const id of await publishBatch(first, 50)) accepted.add(id);
      } catch {
        return; // the broker is gone: this batch was not acknowledged
      }
    }
  })();
  await Bun.sleep(150);
  const inFlightAtKill = slow.filter((id) => !delivered.has(id)).length;
  first.process.kill("SIGKILL");
  publishing = false;
  await stream;
  await first.exited;

  expect(accepted.size).toBeGreaterThanOrEqual(300);
  expect(inFlightAtKill).toBeGreaterThan(50); // the slow ones really were in flight
  const missingAtKill = [...accepted].filter((id) => !delivered.has(id)).length;
  expect(missingAtKill).toBeGreaterThan(0);

  const second = await spawnCli(["--port", "0", "--db", db]);
  try {
    const deadline = Date.now() + 20_000;
    while ([...accepted].some((id) => !delivered.has(id)) && Date.now() < deadline) await Bun.sleep(50);
    const lost = [...accepted].filter((id) => !delivered.has(id));
    expect(lost).toEqual([]);
  } finally {
    second.process.kill("SIGTERM");
    expect(await second.exited).toBe(0);
  }
}, 40_000);
