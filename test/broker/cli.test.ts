import { expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "@upstash/redis";
import { startRedisServer } from "../helpers/redis-server.ts";
import { spawnCli } from "./cli.ts";

const BIN = new URL("../../bin/jobwire.ts", import.meta.url).pathname;

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const child = Bun.spawn([process.execPath, BIN, ...args], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { code, out, err };
}

test("--help prints the usage", async () => {
  const { code, out } = await run(["dev", "--help"]);
  expect(code).toBe(0);
  expect(out).toContain("Usage: jobwire dev [options]");
  expect(out).toContain("--dedup-window");
});

test("bad flags are clear errors with exit code 1", async () => {
  for (const [args, message] of [
    [["dev", "--port", "http"], /invalid --port "http"/],
    [["dev", "--bogus"], /Unknown option '--bogus'/],
    [["dev", "--dedup-window", "soon"], /invalid --dedup-window/],
    [["dev", "--memory", "--db", "x.sqlite"], /--db and --memory exclude each other/],
    [["dev", "--redis-port", "8079"], /--redis-port needs --redis <url>/],
    [["dev", "--redis", "notaurl"], /invalid --redis "notaurl": expected a Redis URL, e.g. redis:\/\/127.0.0.1:6379/],
    [["dev", "--redis", "http://127.0.0.1:8079"], /invalid --redis "http:\/\/127.0.0.1:8079": expected a Redis URL/],
    [["dev", "--redis-timeout", "2s"], /--redis-timeout needs --redis <url>/],
    [["dev", "--redis", "redis://127.0.0.1:1", "--redis-timeout", "0s"], /invalid --redis-timeout "0s": it must be at least 1s/],
    [["dev", "--redis", "redis://127.0.0.1:1", "--redis-timeout", "soon"], /invalid --redis-timeout: invalid duration "soon"/],
    [["dev", "--host", ""], /--host needs an address/],
    [["dev", "--memory", "--port", "0", "--host", "192.0.2.1"], /could not start: cannot listen on 192\.0\.2\.1:0: /],
    [["deploy"], /unknown command "deploy"/],
  ] as const) {
    const { code, err } = await run([...args]);
    expect(code, args.join(" ")).toBe(1);
    expect(err).toMatch(message);
  }
});

test("--redis serves the Upstash Redis REST API in front of a real redis-server, and prints its env lines", async () => {
  const redisServer = await startRedisServer();
  const broker = await spawnCli(["--memory", "--port", "0", "--redis", redisServer.url, "--redis-port", "0"]);
  try {
    const url = broker.lines.find((l) => l.startsWith("UPSTASH_REDIS_REST_URL="))?.split("=")[1];
    const token = broker.lines.find((l) => l.startsWith("UPSTASH_REDIS_REST_TOKEN="))?.split("=")[1];
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(token).toBeTruthy();
    const redis = new Redis({ url: url!, token: token!, retry: { retries: 0 }, enableTelemetry: false });
    await redis.set("cli:probe", { ok: 1 });
    expect(await redis.get("cli:probe")).toEqual({ ok: 1 });
  } finally {
    broker.process.kill("SIGTERM");
    await broker.exited;
    await redisServer.stop();
  }
});

test("--redis-timeout: a stalled Redis gets a 500 JSON error once the timeout passes", async () => {
  const redisServer = await startRedisServer();
  const broker = await spawnCli(["--memory", "--port", "0", "--redis", redisServer.url, "--redis-port", "0", "--redis-timeout", "1s"]);
  try {
    const url = broker.lines.find((l) => l.startsWith("UPSTASH_REDIS_REST_URL="))!.split("=")[1]!;
    const token = broker.lines.find((l) => l.startsWith("UPSTASH_REDIS_REST_TOKEN="))!.split("=")[1]!;
    const get = () => fetch(url, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: JSON.stringify(["get", "cli:t"]) });
    redisServer.pause();
    const res = await get();
    expect(res.status).toBe(500);
    expect(((await res.json()) as { error: string }).error).toMatch(/did not answer within 1000 ms/);
    redisServer.resume();
    expect(await (await get()).json()).toEqual({ result: null });
  } finally {
    redisServer.resume();
    broker.process.kill("SIGTERM");
    await broker.exited;
    await redisServer.stop();
  }
});

test("--redis with an unreachable Redis is a clear error", async () => {
  const { code, err } = await run(["dev", "--memory", "--port", "0", "--redis", "redis://127.0.0.1:1", "--redis-port", "0"]);
  expect(code).toBe(1);
  expect(err).toMatch(/could not start: .*127\.0\.0\.1:1/);
});

test("a database file that is not SQLite, or a directory that cannot be made, is a clear error naming the file", async () => {
  const dir = mkdtempSync(join(tmpdir(), "jobwire-cli-db-"));
  try {
    const junk = join(dir, "junk.sqlite");
    writeFileSync(junk, "not a database ".repeat(100));
    const bad = await run(["dev", "--port", "0", "--db", junk]);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain(`jobwire: could not start: cannot use the database ${junk}: file is not a database`);
    const blocked = join(junk, "inside", "dev.sqlite"); // a directory under a file
    const nodir = await run(["dev", "--port", "0", "--db", blocked]);
    expect(nodir.code).toBe(1);
    expect(nodir.err).toContain(`jobwire: could not start: cannot use the database ${blocked}: `);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a port in use is a clear error", async () => {
  const busy = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  try {
    const { code, err } = await run(["dev", "--memory", "--port", String(busy.port)]);
    expect(code).toBe(1);
    expect(err).toMatch(new RegExp(`port ${busy.port} on 127.0.0.1 is already in use`));
  } finally {
    busy.stop(true);
  }
});

test("prints the env lines, creates the database directory, shuts down gracefully on SIGINT", async () => {
  const dir = mkdtempSync(join(tmpdir(), "jobwire-cli-"));
  try {
    const db = join(dir, "nested", "dev.sqlite");
    const broker = await spawnCli(["--port", "0", "--db", db]);
    expect(broker.lines[0]).toBe(`QSTASH_URL=${broker.url}`);
    expect(broker.lines.some((l) => l.startsWith("QSTASH_NEXT_SIGNING_KEY=sig_"))).toBe(true);
    expect(existsSync(db)).toBe(true);
    broker.process.kill("SIGINT");
    expect(await broker.exited).toBe(0);
    expect(broker.lines.some((l) => l.startsWith("SIGINT: shutting down"))).toBe(true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a restarted broker prints its environment first, then the deliveries it resumes", async () => {
  const dir = mkdtempSync(join(tmpdir(), "jobwire-cli-resume-"));
  const dest = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("ok") });
  try {
    const db = join(dir, "dev.sqlite");
    const first = await spawnCli(["--port", "0", "--db", db]);
    const published = await fetch(`${first.url}/v2/publish/http://127.0.0.1:${dest.port}/resumed`, {
      method: "POST",
      body: "x",
      headers: { authorization: "Bearer eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0=", "upstash-delay": "1s" },
    });
    expect(published.status).toBe(201);
    first.process.kill("SIGKILL");
    await first.exited;
    await Bun.sleep(1100); // due by the time the next broker starts: it resumes it at once
    const next = await spawnCli(["--port", "0", "--db", db]);
    try {
      await Bun.sleep(300);
      const running = next.lines.findIndex((l) => l.startsWith("Running at"));
      const active = next.lines.findIndex((l) => / ACTIVE /.test(l));
      expect(next.lines[0]).toBe(`QSTASH_URL=${next.url}`);
      expect(active).toBeGreaterThan(running);
    } finally {
      next.process.kill("SIGINT");
      await next.exited;
    }
  } finally {
    dest.stop(true);
    rmSync(dir, { recursive: true, force: true });
  }
});
