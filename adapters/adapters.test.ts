import { describe, expect, test } from "bun:test";
import { Hono } from "hono";
import { DEV_CREDENTIALS } from "../src/broker/index.ts";
import { ConfigError } from "../src/errors.ts";
import * as bun from "./bun.ts";
import * as cloudflare from "./cloudflare.ts";
import * as deno from "./deno.ts";
import * as node from "./node.ts";

const vars = {
  QSTASH_URL: "http://127.0.0.1:8080",
  QSTASH_TOKEN: "tok",
  QSTASH_CURRENT_SIGNING_KEY: "sig_current",
  QSTASH_NEXT_SIGNING_KEY: "sig_next",
};

describe("env discovery", () => {
  const readers = {
    node: { qstash: (v: Record<string, string>) => node.qstashFromEnv(v), keys: (v: Record<string, string>) => node.signingKeysFromEnv(v) },
    bun: { qstash: (v: Record<string, string>) => bun.qstashFromEnv(v), keys: (v: Record<string, string>) => bun.signingKeysFromEnv(v) },
    deno: { qstash: (v: Record<string, string>) => deno.qstashFromEnv((n) => v[n]), keys: (v: Record<string, string>) => deno.signingKeysFromEnv((n) => v[n]) },
    cloudflare: { qstash: (v: Record<string, string>) => cloudflare.qstashFromBindings(v), keys: (v: Record<string, string>) => cloudflare.signingKeysFromBindings(v) },
  };
  for (const [runtime, read] of Object.entries(readers)) {
    test(`${runtime}: reads the QStash variables`, () => {
      expect(read.qstash(vars)).toEqual({ baseUrl: "http://127.0.0.1:8080", token: "tok" });
      expect(read.keys(vars)).toEqual({ current: "sig_current", next: "sig_next" });
      expect(read.qstash({ QSTASH_TOKEN: "t" }).baseUrl).toBe("https://qstash.upstash.io");
    });
    test(`${runtime}: a missing variable is a ConfigError that names it and the way around it`, () => {
      const { QSTASH_TOKEN: _t, ...noToken } = vars;
      expect(() => read.qstash(noToken)).toThrow(ConfigError);
      expect(() => read.qstash(noToken)).toThrow(/QSTASH_TOKEN is not set.*pass \{ token \} to createClient/);
      const { QSTASH_NEXT_SIGNING_KEY: _n, ...noNext } = vars;
      expect(() => read.keys(noNext)).toThrow(/QSTASH_NEXT_SIGNING_KEY is not set.*createWorker/);
      expect(() => read.keys({ ...vars, QSTASH_CURRENT_SIGNING_KEY: "  " })).toThrow(/QSTASH_CURRENT_SIGNING_KEY is not set/);
    });
    test(`${runtime}: the local dev token without QSTASH_URL is a ConfigError, never sent to hosted QStash`, () => {
      // A misspelled QSTASH_URL (QSTASH_BASE_URL) used to fall back to the hosted QStash silently.
      const local = { QSTASH_TOKEN: DEV_CREDENTIALS.token, QSTASH_BASE_URL: "http://127.0.0.1:8080" };
      expect(() => read.qstash(local)).toThrow(ConfigError);
      expect(() => read.qstash(local)).toThrow(/local dev token.*QSTASH_URL is not set.*hosted QStash.*Set QSTASH_URL/);
      expect(read.qstash({ ...local, QSTASH_URL: "http://127.0.0.1:8080" })).toEqual({ baseUrl: "http://127.0.0.1:8080", token: DEV_CREDENTIALS.token });
    });
  }

  test("deno: outside Deno, the error names the entry point to use instead", () => {
    expect(() => deno.signingKeysFromEnv()).toThrow(/needs the Deno runtime: on Node.js use jobwire\/adapters\/node/);
  });

  test("bun: outside Bun (here Deno), serve and the env readers name the entry point to use instead", async () => {
    const script = [
      `import * as bun from ${JSON.stringify(new URL("./bun.ts", import.meta.url).pathname)};`,
      `for (const call of [() => bun.serve({ fetch: () => new Response("") }, { port: 0 }), () => bun.signingKeysFromEnv()]) {`,
      `  try { call(); console.log("no error"); } catch (error) { console.log(String(error)); }`,
      `}`,
    ].join("\n");
    const deno = Bun.spawn([new URL("../node_modules/.bin/deno", import.meta.url).pathname, "eval", "--ext=ts", script], { stdout: "pipe", stderr: "pipe" });
    const lines = (await new Response(deno.stdout).text()).trim().split("\n");
    expect(await deno.exited, await new Response(deno.stderr).text()).toBe(0);
    expect(lines).toHaveLength(2);
    for (const line of lines) expect(line).toMatch(/needs the Bun runtime: on Node.js use jobwire\/adapters\/node, on Deno jobwire\/adapters\/deno/);
  });

  test("bun: reads Bun.env by default", () => {
    const saved = Bun.env.QSTASH_TOKEN;
    Bun.env.QSTASH_TOKEN = "from-bun-env";
    try {
      expect(bun.qstashFromEnv().token).toBe("from-bun-env");
    } finally {
      if (saved === undefined) delete Bun.env.QSTASH_TOKEN;
      else Bun.env.QSTASH_TOKEN = saved;
    }
  });
});

describe("serve helpers", () => {
  const app = new Hono().get("/ping", (c) => c.text("pong"));

  test("bun: serves on a free port and closes", async () => {
    const served = bun.serve(app, { port: 0 });
    expect(await (await fetch(`${served.url}/ping`)).text()).toBe("pong");
    await served.close();
    await expect(fetch(`${served.url}/ping`)).rejects.toThrow();
  });

  test("node: serves on a free port with @hono/node-server and closes, leaving globals alone", async () => {
    const { Request: OriginalRequest, Response: OriginalResponse } = globalThis;
    const served = await node.serve(app, { port: 0 });
    expect(globalThis.Response).toBe(OriginalResponse);
    expect(globalThis.Request).toBe(OriginalRequest);
    expect(served.port).toBeGreaterThan(0);
    expect(await (await fetch(`${served.url}/ping`)).text()).toBe("pong");
    await served.close();
  });

  test("an IPv6 host is bracketed in the URL (bun and node, on ::1)", async () => {
    const viaBun = bun.serve(app, { port: 0, hostname: "::1" });
    const viaNode = await node.serve(app, { port: 0, hostname: "::1" });
    try {
      for (const served of [viaBun, viaNode]) {
        expect(served.url).toBe(`http://[::1]:${served.port}`);
        expect(await (await fetch(`${served.url}/ping`)).text()).toBe("pong");
      }
    } finally {
      await viaBun.close();
      await viaNode.close();
    }
  });

  test("an empty hostname is loopback, as when none is given (not every interface)", async () => {
    const viaBun = bun.serve(app, { port: 0, hostname: "" });
    const viaNode = await node.serve(app, { port: 0, hostname: " " });
    try {
      for (const served of [viaBun, viaNode]) {
        expect(served.url).toBe(`http://127.0.0.1:${served.port}`);
        expect(await (await fetch(`${served.url}/ping`)).text()).toBe("pong");
      }
    } finally {
      await viaBun.close();
      await viaNode.close();
    }
  });
});

describe("cloudflare: waitUntil", () => {
  test("hands the promise to executionCtx.waitUntil, and logs a failure instead of losing it", async () => {
    const handed: Promise<unknown>[] = [];
    const app = new Hono().get("/", async (c) => {
      await cloudflare.waitUntil(c, Promise.reject(new Error("broker down")));
      return c.text("ok");
    });
    const errors: unknown[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => errors.push(args);
    try {
      const res = await app.fetch(new Request("http://x/"), {}, { waitUntil: (p: Promise<unknown>) => handed.push(p), passThroughOnException() {}, props: {} } as never);
      expect(await res.text()).toBe("ok");
      expect(handed).toHaveLength(1);
      await handed[0];
    } finally {
      console.error = original;
    }
    expect(String((errors[0] as unknown[])[1])).toMatch(/broker down/);
  });

  test("without an execution context the promise is awaited", async () => {
    let done = false;
    const app = new Hono().get("/", async (c) => {
      await cloudflare.waitUntil(c, new Promise((r) => setTimeout(() => r((done = true)), 20)));
      return c.text(String(done));
    });
    expect(await (await app.fetch(new Request("http://x/"))).text()).toBe("true");
  });
});
