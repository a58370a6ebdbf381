// A broker binds its port before it resumes anything, and a request that arrives meanwhile waits
// for the start. When the start then fails, that request must be answered (503, JSON): on Deno (and
// Node) closing the server waits for requests in flight, so an unanswered one would hang the failed
// createBroker for ever.
import { expect, test } from "bun:test";
import { join } from "node:path";
import { childEnv, requireBinary, root, spawnChild } from "../harness.ts";

const deno = requireBinary(
  "deno",
  join(root, "node_modules/.bin/deno"),
  "install it with `npm install` (the `deno` npm package is a devDependency), or see https://docs.deno.com/runtime/getting_started/installation/",
);

test("a request waiting on a failed start gets a 503, and createBroker rejects instead of hanging", async () => {
  // A "Redis" that accepts, holds the connection (the AUTH the client sends is never answered) for
  // a while, then drops it: the start fails once a request is already waiting on the gate.
  const sockets = new Set<{ end(): void }>();
  let dropped: () => void = () => {};
  const drop = new Promise<void>((resolve) => (dropped = resolve));
  const redis = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: { open: (socket) => void sockets.add(socket), data() {}, close: (socket) => void sockets.delete(socket) },
  });
  const free = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = free.port;
  free.stop(true);
  const child = spawnChild(
    [deno, "run", "--quiet", "--allow-net", "--allow-env", "--allow-read", "--allow-write", "--allow-sys", join(import.meta.dir, "fixtures/start-gate.ts")],
    { cwd: join(root, "examples/deno"), env: childEnv({ BROKER_PORT: String(port), REDIS_URL: `redis://:secret@127.0.0.1:${redis.port}` }) },
  );
  try {
    // The broker's port answers connections once bound; the request then waits for the start.
    let waiting: Promise<Response> | undefined;
    for (let i = 0; i < 300 && !waiting; i++) {
      if (sockets.size > 0) {
        waiting = fetch(`http://127.0.0.1:${port}/v2/messages/msg_none`, { headers: { authorization: "Bearer x" } });
        break;
      }
      await Bun.sleep(50);
    }
    expect(waiting, `the broker never connected to its Redis:\n${child.output()}`).toBeDefined();
    await Bun.sleep(300); // the request is in, waiting
    for (const socket of sockets) socket.end();
    dropped();
    await drop;
    const response = await waiting!;
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({ error: "the broker could not start" });
    const [line] = await child.waitForLine(/^(failed: .*|started|createBroker did not settle)$/, 20_000);
    expect(line).toStartWith("failed: ");
    expect(line).toContain("Redis");
  } finally {
    await child.stop();
    redis.stop(true);
  }
}, 40_000);
