// scripts/chaos.ts on a short run: clients publish, cancel, pause and retry against a real broker on a
// file while it is killed and restarted every second or so; afterwards every accepted message must
// have been delivered or be in the DLQ, and nothing else delivered (the script checks, and says).
import { expect, test } from "bun:test";
import { join } from "node:path";

const root = join(import.meta.dir, "..", "..");

test("crashes and restarts under load: every accepted message is delivered or in the DLQ, nothing else", async () => {
  const child = Bun.spawn([process.execPath, join(root, "scripts/chaos.ts"), "7", "8", "600", "1500"], {
    cwd: root,
    env: { ...process.env, WORKERS: "2", DRAIN_S: "40", BURST: "0" },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  const summary = /seed 7: crashes (\d+) .*?accepted (\d+)/.exec(out);
  expect(summary, out + err).not.toBeNull();
  // It did what it is for: several crashes, and real traffic across them.
  expect(Number(summary![1])).toBeGreaterThanOrEqual(4);
  expect(Number(summary![2])).toBeGreaterThanOrEqual(50);
  expect(out, err).toContain("OK: no problems");
  expect(code).toBe(0);
}, 120_000);
