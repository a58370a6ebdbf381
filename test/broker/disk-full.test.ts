import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEV_CREDENTIALS } from "../../src/broker/index.ts";

// A real `jobwire dev` whose writes start failing (a file-size limit, as a full disk would): the
// publish that cannot be stored is answered 500, and nothing of it stays behind in the broker.

const dir = mkdtempSync(join(tmpdir(), "jobwire-disk-full-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const BIN = new URL("../../bin/jobwire.ts", import.meta.url).pathname;

test("while writes fail, a refused publish or API change is a JSON 500 and leaves nothing behind (no lag, no pause, old keys)", async () => {
  // 4 MB per file for the broker's process; SIGXFSZ ignored, so a write past it fails (EFBIG).
  const script = `ulimit -f 4096; trap '' XFSZ; exec "${process.execPath}" "${BIN}" dev --port 0 --db "${join(dir, "full.sqlite")}"`;
  const child = Bun.spawn(["bash", "-c", script], { stdout: "pipe", stderr: "pipe" });
  try {
    const decoder = new TextDecoder();
    let out = "";
    let url: string | undefined;
    for await (const chunk of child.stdout as unknown as AsyncIterable<Uint8Array>) {
      out += decoder.decode(chunk);
      url = /Running at (http:\/\/\S+)/.exec(out)?.[1];
      if (url) break;
    }
    expect(url).toBeDefined();
    const api = (path: string, init: RequestInit = {}) =>
      fetch(`${url}${path}`, { ...init, headers: { authorization: `Bearer ${DEV_CREDENTIALS.token}`, ...(init.headers as Record<string, string>) } });
    const group = await api("/v2/topics/made-before/endpoints", { method: "POST", body: JSON.stringify({ endpoints: [{ url: "http://127.0.0.1:9/g" }] }) });
    expect(group.status).toBe(200);
    let accepted = 0;
    let refused: Response | undefined;
    // Large bodies until one does not fit, then ever smaller ones until not even one byte does:
    // from then on every write fails.
    for (let size = 256 * 1024, i = 0; size >= 1 && i < 1000; i++) {
      const r = await api(`/v2/enqueue/full-queue/http://127.0.0.1:9/x${i}`, { method: "POST", body: "z".repeat(size), headers: { "upstash-delay": "1h" } });
      if (r.status === 201) accepted++;
      else {
        refused ??= r;
        size = Math.floor(size / 2);
      }
    }
    expect(refused?.status).toBe(500);
    expect(((await refused!.json()) as { error: string }).error).toMatch(/could not store the message: .*(disk|full|I\/O|large)/i);
    expect(accepted).toBeGreaterThan(0);
    const queue = (await (await api("/v2/queues/full-queue")).json()) as { lag: number };
    expect(queue.lag).toBe(accepted);

    // Writes keep failing: every change the API answers with an error leaves nothing behind.
    const keys = await (await api("/v2/keys")).json();
    const refusedChanges = [
      await api("/v2/keys/rotate", { method: "POST" }),
      await api("/v2/queues/full-queue/pause", { method: "POST" }),
      await api("/v2/queues/full-queue", { method: "DELETE" }),
      await api("/v2/flowControl/full-key/pause", { method: "POST" }),
      await api("/v2/topics/made-before", { method: "DELETE" }),
    ];
    expect(refusedChanges.map((r) => r.status)).toEqual([500, 500, 500, 500, 500]);
    expect(await (await api("/v2/keys")).json()).toEqual(keys);
    expect(await (await api("/v2/queues/full-queue")).json()).toMatchObject({ paused: false, lag: accepted });
    const flow = await api("/v2/flowControl/full-key");
    expect(flow.status === 404 || ((await flow.json()) as { isPaused: boolean }).isPaused === false).toBe(true);
    expect((await api("/v2/topics/made-before")).status).toBe(200);
    // An enqueue refused this way does not leave its new queue behind either.
    expect((await api("/v2/enqueue/never-stored/http://127.0.0.1:9/x", { method: "POST", body: "x" })).status).toBe(500);
    expect((await api("/v2/queues/never-stored")).status).toBe(404);
  } finally {
    child.kill();
    await child.exited;
  }
}, 30_000);
