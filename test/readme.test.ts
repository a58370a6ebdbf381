// The README's quick start, run exactly as written: each ```ts block that starts with a `// file.ts`
// comment is written to that file, and try-it.ts runs in a real Bun process. Its printed lines must
// match the comments the README puts beside them.
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dir, "..");
// Inside the package, so `import ... from "jobwire"` resolves to this package by its own name.
const dir = join(root, ".acceptance", `readme-${process.pid}`);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("the quick start runs as written", () => {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## Quick start"), readme.indexOf("\n## ", readme.indexOf("## Quick start") + 5));
  const blocks = [...section.matchAll(/```ts\n\/\/ ([\w-]+\.ts)\n([\s\S]*?)```/g)];
  expect(blocks.map((b) => b[1])).toEqual(["jobs.ts", "worker.ts", "enqueue.ts", "try-it.ts"]);
  mkdirSync(dir, { recursive: true });
  for (const [, file, code] of blocks) writeFileSync(join(dir, file!), code!);

  const expected = [...blocks.at(-1)![2]!.matchAll(/console\.log\(.*\); \/\/ (.*)$/gm)].map((m) => m[1]!.split(": same")[0]!.trim());
  expect(expected).toHaveLength(3);

  const run = Bun.spawnSync([process.execPath, "run", join(dir, "try-it.ts")], { cwd: dir });
  const stderr = run.stderr.toString();
  expect(run.exitCode, stderr).toBe(0);
  const lines = run.stdout.toString().trim().split("\n");
  expect(lines).toEqual(expected);
  // The worker warns about nothing: the quick start passes its store explicitly.
  expect(stderr).toBe("");
});
