// The Deno example (examples/deno) in real Deno, through the `deno` npm package: the worker and the
// enqueue script run in Deno against a `jobwire dev` broker in Bun; then everything runs in Deno,
// the broker included (`jobwire dev` on node:sqlite). Each command is the example's own deno.json
// task, as its README runs it. npm packages come from the repository's node_modules, offline.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { stalledBody } from "../../helpers/stalled-body.ts";
import { type BrokerHandle, describeProcessExample } from "../example-suite.ts";
import { badSignatureStatuses, childEnv, randomKeys, requireBinary, root, spawnChild, startBroker, stopAll } from "../harness.ts";

const deno = requireBinary(
  "deno",
  join(root, "node_modules/.bin/deno"),
  "install it with `npm install` (the `deno` npm package is a devDependency), or see https://docs.deno.com/runtime/getting_started/installation/",
);
const cwd = join(root, "examples/deno");
const tasks = (JSON.parse(readFileSync(join(cwd, "deno.json"), "utf8")) as { tasks: Record<string, string> }).tasks;

/** A deno.json task as a command line, with this Deno binary. */
function task(name: string, args: string[] = []): string[] {
  const [program, ...rest] = tasks[name]!.split(/\s+/);
  expect(program).toBe("deno");
  return [deno, ...rest, ...args];
}

/** `deno task dev --port 0`: the broker's CLI in Deno; its env lines say where it runs. */
async function denoBroker(): Promise<BrokerHandle> {
  const child = spawnChild(task("dev", ["--port", "0"]), { cwd, env: childEnv({}) });
  try {
    await child.waitForLine(/^Running at http:/);
  } catch (error) {
    await child.stop();
    throw error;
  }
  const value = (name: string) => child.lines.find((line) => line.startsWith(`${name}=`))!.slice(name.length + 1);
  return {
    url: value("QSTASH_URL"),
    token: value("QSTASH_TOKEN"),
    signingKeys: { current: value("QSTASH_CURRENT_SIGNING_KEY"), next: value("QSTASH_NEXT_SIGNING_KEY") },
    close: () => child.stop(),
  };
}

test("deno check: the example type-checks against Deno's own types", () => {
  const run = Bun.spawnSync([deno, "check", "app.ts", "worker.ts", "enqueue.ts"], { cwd, env: childEnv({}) });
  expect(run.exitCode, run.stdout.toString() + run.stderr.toString()).toBe(0);
}, 60_000);

describeProcessExample({
  title: "Deno example, in Deno (broker: jobwire dev in Bun)",
  broker: () => startBroker(),
  worker: () => task("worker"),
  enqueue: (args) => task("enqueue", args),
  cwd,
});

describeProcessExample({
  title: "Deno example, in Deno with the broker in Deno too (jobwire dev on node:sqlite)",
  broker: denoBroker,
  worker: () => task("worker"),
  enqueue: (args) => task("enqueue", args),
  cwd,
});

test("`deno task serve` (deno serve app.ts, the Deno Deploy form) serves the same worker: unsigned deliveries get 401", async () => {
  const keys = randomKeys();
  const served = spawnChild(task("serve", ["--port", "0", "--host", "127.0.0.1"]), {
    cwd,
    env: childEnv({ QSTASH_CURRENT_SIGNING_KEY: keys.current, QSTASH_NEXT_SIGNING_KEY: keys.next }),
  });
  try {
    const [, url] = await served.waitForLine(/Listening on (http:\/\/\S+?)\/?$/);
    expect(await badSignatureStatuses(`${url}/jobs/send-welcome-email`)).toEqual([401, 401]);
  } finally {
    await stopAll([served]);
  }
}, 30_000);

test("jobwire dev in Deno records the publisher's address (Upstash-Caller-Ip) from Deno.serve", async () => {
  const broker = await denoBroker();
  try {
    const published = await fetch(`${broker.url}/v2/publish/http://127.0.0.1:9/never`, {
      method: "POST",
      headers: { authorization: `Bearer ${broker.token}`, "upstash-delay": "1h" },
      body: "x",
    });
    expect(published.status).toBe(201);
    const { messageId } = (await published.json()) as { messageId: string };
    const message = await fetch(`${broker.url}/v2/messages/${messageId}`, { headers: { authorization: `Bearer ${broker.token}` } });
    expect(((await message.json()) as { callerIp?: string }).callerIp).toBe("127.0.0.1");
  } finally {
    await broker.close();
  }
}, 30_000);

test("jobwire dev in Deno refuses a chunked body over the limit as soon as it passes it (413 JSON)", async () => {
  const broker = await denoBroker();
  // The default limit is 10 MiB: 10 MiB + 64 KiB are sent, then the body stalls until released.
  const { body, release } = stalledBody(10 * 1024 * 1024 + 64 * 1024, 64 * 1024);
  try {
    const response = await fetch(`${broker.url}/v2/publish/http://127.0.0.1:9/never`, {
      method: "POST",
      headers: { authorization: `Bearer ${broker.token}` },
      body,
      duplex: "half",
    } as RequestInit);
    expect(response.status).toBe(413);
    expect(((await response.json()) as { error: string }).error).toMatch(/over the limit of 10485760 bytes/);
  } finally {
    release();
    await broker.close();
  }
}, 30_000);
