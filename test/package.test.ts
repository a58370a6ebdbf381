// The published packages. npm: `npm run build` (scripts/build.ts) writes the package to dist/ with
// its own package.json; here it is built into a scratch directory, listed with `npm pack --dry-run`,
// checked file by file, and every entry point is imported by Node.js. JSR: `deno publish --dry-run`
// (offline: npm packages come from node_modules) type-checks every export and rejects slow types.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { build } from "../scripts/build.ts";
import { DEV_CREDENTIALS } from "../src/broker/index.ts";
import { childEnv, requireBinary, spawnChild } from "./runtime/harness.ts";

const DEV_TOKEN = DEV_CREDENTIALS.token;

const root = join(import.meta.dir, "..");
const read = (file: string) => JSON.parse(readFileSync(join(root, file), "utf8"));
const npm = requireBinary("npm", Bun.which("npm"), "install Node.js >= 20 (https://nodejs.org), which brings npm");
const node = requireBinary("node", Bun.which("node"), "install Node.js >= 20 (https://nodejs.org)");
const deno = requireBinary("deno", join(root, "node_modules/.bin/deno"), "run `npm install` (the `deno` npm package is a devDependency)");

interface Manifest {
  exports: Record<string, { types: string; default: string }>;
  bin: Record<string, string>;
  scripts?: unknown;
  devDependencies?: unknown;
  dependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
  [field: string]: unknown;
}

describe("npm package", () => {
  const scratch = mkdtempSync(join(tmpdir(), "jobwire-package-"));
  // Built straight into a scratch app's node_modules, so Node can import it by name below.
  const out = join(scratch, "node_modules", "jobwire");
  let manifest: Manifest;
  let packed: string[];

  beforeAll(() => {
    manifest = build(out) as Manifest;
    const run = Bun.spawnSync([npm, "pack", out, "--dry-run", "--json"], { cwd: scratch, env: { ...process.env, npm_config_update_notifier: "false" } });
    if (run.exitCode !== 0) throw new Error(`npm pack failed:\n${run.stdout.toString()}${run.stderr.toString()}`);
    const [result] = JSON.parse(run.stdout.toString()) as { files: { path: string }[] }[];
    packed = result!.files.map((file) => file.path).sort();
    // The package's dependencies, linked from this repository's node_modules (offline), as npm would install them.
    for (const name of [...Object.keys(manifest.dependencies), ...Object.keys(manifest.peerDependencies)]) {
      mkdirSync(dirname(join(scratch, "node_modules", name)), { recursive: true });
      symlinkSync(join(root, "node_modules", name), join(scratch, "node_modules", name), "dir");
    }
  }, 60_000);

  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  test("packs only compiled code, its declarations, the README and the manifest", () => {
    const allowed = [
      /^package\.json$/,
      /^README\.md$/,
      /^LICENSE$/,
      /^(src|adapters)\/[\w/.-]+\.(js|d\.ts)$/,
      /^bin\/jobwire\.js$/,
    ];
    expect(packed.filter((path) => !allowed.some((pattern) => pattern.test(path)))).toEqual([]);
    const forbidden = /(^|\/)(test|tests|examples|bench|scripts|node_modules|\.jobwire)\/|\.test\.|\.sqlite|tsconfig|\.tgz$/;
    expect(packed.filter((path) => forbidden.test(path))).toEqual([]);
    // Every module comes with its declarations.
    for (const path of packed.filter((p) => p.endsWith(".js") && !p.startsWith("bin/"))) {
      expect(packed, path).toContain(path.replace(/\.js$/, ".d.ts"));
    }
    expect(packed).toContain("README.md");
  });

  test("every export and bin target is in the tarball", () => {
    for (const [entry, target] of Object.entries(manifest.exports)) {
      expect(Object.keys(target), entry).toEqual(["types", "default"]);
      expect(packed, entry).toContain(target.types.replace(/^\.\//, ""));
      expect(packed, entry).toContain(target.default.replace(/^\.\//, ""));
    }
    for (const target of Object.values(manifest.bin)) expect(packed).toContain(target.replace(/^\.\//, ""));
  });

  test("the published map has the entries of package.json and deno.json, each the build of the same source", () => {
    const pkg = read("package.json") as Manifest;
    const denoExports = read("deno.json").exports as Record<string, string>;
    expect(Object.keys(manifest.exports)).toEqual(Object.keys(pkg.exports));
    for (const [entry, source] of Object.entries(denoExports)) {
      expect(manifest.exports[entry], entry).toEqual({
        types: source.replace(/\.ts$/, ".d.ts"),
        default: source.replace(/\.ts$/, ".js"),
      });
    }
  });

  test("the manifest is the root's, without development fields", () => {
    const pkg = read("package.json") as Manifest;
    for (const field of ["name", "version", "license", "type", "sideEffects", "engines", "dependencies", "peerDependencies", "peerDependenciesMeta"]) {
      expect(manifest[field], field).toEqual(pkg[field]);
    }
    expect(manifest.scripts).toBeUndefined();
    expect(manifest.devDependencies).toBeUndefined();
  });

  test("compiled imports name .js files, in code and in declarations", () => {
    const tsImports = /(?:from\s+|import\()\s*["']\.{1,2}\/[^"']+\.ts["']/;
    const offenders = packed
      .filter((path) => /\.(js|d\.ts)$/.test(path))
      .filter((path) => tsImports.test(readFileSync(join(out, path), "utf8")));
    expect(offenders).toEqual([]);
  });

  test("the bin runs on Node.js: it has a node shebang and answers --help", () => {
    const bin = join(out, manifest.bin.jobwire!);
    expect(readFileSync(bin, "utf8").split("\n")[0]).toBe("#!/usr/bin/env node");
    const run = Bun.spawnSync([node, bin, "--help"], { cwd: scratch });
    expect(run.exitCode, run.stderr.toString()).toBe(0);
    expect(run.stdout.toString()).toContain("Usage: jobwire dev");
  });

  test("the built bin starts jobwire dev (on Bun here; Node needs >= 22.5 for node:sqlite)", async () => {
    const child = spawnChild([process.execPath, join(out, manifest.bin.jobwire!), "dev", "--memory", "--port", "0"], {
      cwd: scratch,
      env: childEnv({}),
    });
    try {
      const [, url] = await child.waitForLine(/^Running at (http:\/\/\S+)/);
      const res = await fetch(`${url}/v2/queues`, { headers: { Authorization: `Bearer ${DEV_TOKEN}` } });
      expect(res.status).toBe(200);
    } finally {
      await child.stop();
    }
  }, 30_000);

  test("the built bin on Node.js: jobwire dev runs where node:sqlite exists (>= 22.5), and otherwise says what to use", async () => {
    const version = Bun.spawnSync([node, "-p", "process.versions.node"]).stdout.toString().trim();
    const [major, minor] = version.split(".").map(Number) as [number, number];
    const child = spawnChild([node, join(out, manifest.bin.jobwire!), "dev", "--memory", "--port", "0"], { cwd: scratch, env: childEnv({}) });
    try {
      if (major > 22 || (major === 22 && minor >= 5)) {
        await child.waitForLine(/^Running at http:/);
      } else {
        expect(await child.exited, child.output()).not.toBe(0);
        // Said once, about the runtime: not "cannot use the database :memory:".
        expect(child.output()).toContain(`jobwire dev needs SQLite, which this Node.js (v${version}) does not have: run it with Bun`);
        expect(child.output()).not.toContain("cannot use the database");
      }
    } finally {
      await child.stop();
    }
  }, 30_000);

  test("Node.js imports every entry point of the built package by name", () => {
    const specifiers = Object.keys(manifest.exports).map((entry) => entry.replace(/^\./, "jobwire"));
    const script = `for (const s of ${JSON.stringify(specifiers)}) { const m = await import(s); console.log(s, Object.keys(m).length); }`;
    const run = Bun.spawnSync([node, "--input-type=module", "-e", script], { cwd: scratch });
    expect(run.exitCode, run.stderr.toString()).toBe(0);
    const lines = run.stdout.toString().trim().split("\n");
    expect(lines.map((line) => line.split(" ")[0])).toEqual(specifiers);
    for (const line of lines) expect(Number(line.split(" ")[1]), line).toBeGreaterThan(0);
  });
});

describe("JSR package", () => {
  test("deno publish --dry-run passes offline: every export type-checks, no slow types, no stray files", () => {
    const run = Bun.spawnSync([deno, "publish", "--dry-run", "--allow-dirty"], {
      cwd: root,
      env: { ...process.env, NO_COLOR: "1" },
    });
    const output = run.stdout.toString() + run.stderr.toString();
    expect(run.exitCode, output).toBe(0);
    expect(output).toContain("Success Dry run complete");
    const files = [...output.matchAll(/file:\/\/\/\S+/g)].map((match) => match[0].slice(`file://${root}/`.length));
    expect(files).toContain("src/index.ts");
    expect(files.filter((file) => /\.test\.ts$|^(test|examples|bench|scripts|bin)\//.test(file))).toEqual([]);
  }, 120_000);
});
