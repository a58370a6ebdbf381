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

test("a publish that cannot be stored is a JSON 500 and leaves no queue lag or pending message behind", async () => {
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
    let accepted = 0;
    let refused: Response | undefined;
    for (let i = 0; i < 100 && !refused; i++) {
      const r = await api(`/v2/enqueue/full-queue/http://127.0.0.1:9/x${i}`, { method: "POST", body: "z".repeat(256 * 1024), headers: { "upstash-delay": "1h" } });
      if (r.status === 201) accepted++;
      else refused = r;
    }
    expect(refused?.status).toBe(500);
    expect(((await refused!.json()) as { error: string }).error).toMatch(/could not store the message: .*(disk|full|I\/O|large)/i);
    expect(accepted).toBeGreaterThan(0);
    const queue = (await (await api("/v2/queues/full-queue")).json()) as { lag: number };
    expect(queue.lag).toBe(accepted);
  } finally {
    child.kill();
    await child.exited;
  }
}, 30_000);
