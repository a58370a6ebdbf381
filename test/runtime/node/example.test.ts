// The Node example (examples/node) on Node.js against the *built* package, installed as a user
// would have it: `npm run build`'s output is packed with `npm pack`, the tarball is unpacked into a
// scratch app's node_modules/jobwire, the example (and the shared examples/jobs.ts) is copied there
// unchanged and compiled with its own tsconfig.json (NodeNext, so against the package's .d.ts), and
// its worker and enqueue script run on `node`, with a `jobwire dev` broker in Bun.
import { afterAll } from "bun:test";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { build } from "../../../scripts/build.ts";
import { describeProcessExample } from "../example-suite.ts";
import { requireBinary, root, startBroker } from "../harness.ts";

const node = requireBinary("node", Bun.which("node"), "install Node.js >= 20 (https://nodejs.org), which also brings npm");
const npm = requireBinary("npm", Bun.which("npm"), "install Node.js >= 20 (https://nodejs.org), which also brings npm");
const nodeVersion = Bun.spawnSync([node, "--version"]).stdout.toString().trim();

const scratch = mkdtempSync(join(tmpdir(), "jobwire-node-example-"));
const app = join(scratch, "app");
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function sh(cmd: string[], cwd: string): string {
  const run = Bun.spawnSync(cmd, { cwd, env: { ...process.env, npm_config_update_notifier: "false" } });
  const output = run.stdout.toString() + run.stderr.toString();
  if (run.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed (${run.exitCode}):\n${output}`);
  return run.stdout.toString();
}

async function prepare(): Promise<void> {
  // The package, exactly as `npm pack` would publish it.
  const manifest = build(join(scratch, "package")) as { dependencies: object; peerDependencies: object };
  const [packed] = JSON.parse(sh([npm, "pack", join(scratch, "package"), "--json", "--pack-destination", scratch], scratch)) as { filename: string }[];
  const modules = join(app, "node_modules");
  mkdirSync(modules, { recursive: true });
  sh(["tar", "-xzf", join(scratch, packed!.filename), "-C", modules], scratch);
  renameSync(join(modules, "package"), join(modules, "jobwire"));

  // Its dependencies (and the example's), linked from this repository's node_modules: offline.
  const linked = [...Object.keys(manifest.dependencies), ...Object.keys(manifest.peerDependencies), "@types/node"];
  for (const name of linked) {
    mkdirSync(dirname(join(modules, name)), { recursive: true });
    symlinkSync(join(root, "node_modules", name), join(modules, name), "dir");
  }

  // The example, unchanged, in the same layout (examples/jobs.ts beside examples/node/).
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "jobwire-node-example", private: true, type: "module" }));
  mkdirSync(join(app, "examples/node"), { recursive: true });
  cpSync(join(root, "examples/jobs.ts"), join(app, "examples/jobs.ts"));
  cpSync(join(root, "examples/handlers.ts"), join(app, "examples/handlers.ts"));
  for (const file of ["worker.ts", "enqueue.ts", "tsconfig.json"]) {
    cpSync(join(root, "examples/node", file), join(app, "examples/node", file));
  }
  sh([node, join(root, "node_modules/typescript/bin/tsc"), "-p", "."], join(app, "examples/node"));
  const compiled = readFileSync(join(app, "examples/node/build/node/worker.js"), "utf8");
  if (!compiled.includes('from "jobwire"') || !compiled.includes('from "../jobs.js"')) {
    throw new Error(`unexpected compiled worker:\n${compiled}`);
  }
}

describeProcessExample({
  title: `Node example, on Node.js ${nodeVersion}, against the packed build`,
  prepare,
  broker: () => startBroker(),
  worker: () => [node, join(app, "examples/node/build/node/worker.js")],
  enqueue: (args) => [node, join(app, "examples/node/build/node/enqueue.js"), ...args],
  cwd: app,
  timeoutMs: 40_000,
});
