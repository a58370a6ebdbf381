import { expect, test } from "bun:test";

// Runs `npm run check`'s compiler over the whole project, including the compile-time assertions of
// test/types.test.ts, so a type regression fails `npm test`.
test("tsc --noEmit passes", () => {
  const result = Bun.spawnSync(["node_modules/.bin/tsc", "--noEmit", "-p", "tsconfig.json"], { cwd: `${import.meta.dir}/..` });
  const output = result.stdout.toString() + result.stderr.toString();
  expect(output).toBe("");
  expect(result.exitCode).toBe(0);
}, 120_000);
