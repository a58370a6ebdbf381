// `npm start` runs the demo; it must finish by itself, exit 0 and report every expected outcome.
import { expect, test } from "bun:test";
import { join } from "node:path";

test("the demo runs offline, shows each outcome and exits 0", () => {
  const run = Bun.spawnSync([process.execPath, join(import.meta.dir, "../../examples/demo.ts")], {
    cwd: join(import.meta.dir, "../.."),
    timeout: 60_000,
  });
  const out = run.stdout.toString();
  expect(run.exitCode, out + run.stderr.toString()).toBe(0);
  expect(out).toContain("✓ send-welcome-email: DELIVERED, emails sent 1");
  expect(out).toContain("✓ resize-image: DELIVERED after 3 attempts");
  expect(out).toContain("✓ import-csv: FAILED, in the DLQ");
  expect(out).toContain("✓ duplicate welcome: deduplicated");
  expect(out).not.toContain("✗");
  // State changes are printed as they happen.
  expect(out).toMatch(/resize-image \w+\s+RETRY/);
  expect(out).toMatch(/import-csv \w+\s+FAILED\s+HTTP 489/);
}, 70_000);
