#!/usr/bin/env bun
/**
 * `npm run build`: the npm package, in dist/ (or `--out <dir>`).
 *
 * The repository's package.json exports the TypeScript sources, so Bun, Deno, tsc and the examples
 * use them directly while developing (and test/project.test.ts checks that map against deno.json).
 * What npm users install is built: `tsc -p tsconfig.build.json` compiles src/, adapters/ and bin/
 * to ESM + `.d.ts`, and this script writes dist/package.json, the manifest that is published, with
 * the same entry points mapped to the compiled files. Publish with `npm publish ./dist`
 * (`npm pack ./dist` for a tarball); the root package.json refuses `npm publish` to prevent
 * shipping the sources' map by mistake.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";

const root = resolve(import.meta.dir, "..");

/** The fields of the root package.json a published manifest keeps, in this order. */
const KEPT_FIELDS = [
  "name",
  "version",
  "description",
  "keywords",
  "homepage",
  "bugs",
  "repository",
  "license",
  "author",
  "type",
  "sideEffects",
  "engines",
] as const;

const DEPENDENCY_FIELDS = ["dependencies", "peerDependencies", "peerDependenciesMeta", "optionalDependencies"] as const;

/** Published files besides the compiled ones, copied when present. */
const EXTRA_FILES = ["README.md", "LICENSE"];

interface PackageJson {
  exports: Record<string, { types: string; default: string }>;
  bin?: Record<string, string>;
  [field: string]: unknown;
}

/** `./src/index.ts` → `./src/index.js` (or `.d.ts`), relative to the output directory. */
function compiled(source: string, extension: ".js" | ".d.ts"): string {
  if (!/^\.\/.+\.ts$/.test(source)) throw new Error(`build: expected a ./*.ts source in package.json, got ${source}`);
  return source.replace(/\.ts$/, extension);
}

/** The manifest published from `out`: the root's, with every path pointing at compiled files. */
export function publishedManifest(pkg: PackageJson): Record<string, unknown> {
  const manifest: Record<string, unknown> = {};
  for (const field of KEPT_FIELDS) if (pkg[field] !== undefined) manifest[field] = pkg[field];
  manifest.exports = Object.fromEntries(
    Object.entries(pkg.exports).map(([entry, target]) => [
      entry,
      { types: compiled(target.types, ".d.ts"), default: compiled(target.default, ".js") },
    ]),
  );
  if (pkg.bin) {
    manifest.bin = Object.fromEntries(Object.entries(pkg.bin).map(([name, path]) => [name, compiled(path, ".js")]));
  }
  for (const field of DEPENDENCY_FIELDS) if (pkg[field] !== undefined) manifest[field] = pkg[field];
  // Only what tsc wrote; README, LICENSE and package.json are always packed.
  manifest.files = ["src", "adapters", "bin", "!**/*.test.*"];
  return manifest;
}

/** Builds the package into `out` and returns the manifest written there. */
export function build(out: string): Record<string, unknown> {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as PackageJson;
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });

  const tsc = join(root, "node_modules", ".bin", "tsc");
  if (!existsSync(tsc)) throw new Error("build: TypeScript is not installed: run `npm install`");
  const result = Bun.spawnSync([tsc, "-p", join(root, "tsconfig.build.json"), "--outDir", out], { cwd: root });
  if (result.exitCode !== 0) {
    throw new Error(`build: tsc failed\n${result.stdout.toString()}${result.stderr.toString()}`);
  }

  // The bin is a program, not a module: no declarations; and published, it runs on Node (>= 22.5,
  // for node:sqlite) like any npm bin, where the sources' shebang asks for Bun.
  for (const [name, source] of Object.entries(pkg.bin ?? {})) {
    const file = join(out, compiled(source, ".js"));
    rmSync(join(out, compiled(source, ".d.ts")), { force: true });
    const text = readFileSync(file, "utf8").replace(/^#!.*\n/, "");
    writeFileSync(file, `#!/usr/bin/env node\n${text}`);
    chmodSync(file, 0o755);
    if (!text.includes("createBroker")) throw new Error(`build: ${name} does not look like the CLI`);
  }

  // tsc rewrites `./x.ts` to `./x.js` in the JavaScript only; declarations keep `.ts`, which
  // TypeScript before 5.0 cannot follow. Point them at the `.js` files too.
  for (const file of readdirSync(out, { recursive: true, encoding: "utf8" })) {
    if (!file.endsWith(".d.ts")) continue;
    const text = readFileSync(join(out, file), "utf8");
    const rewritten = text.replace(/((?:from\s+|import\()\s*["'])(\.{1,2}\/[^"']+)\.ts(["'])/g, "$1$2.js$3");
    if (rewritten !== text) writeFileSync(join(out, file), rewritten);
  }

  const manifest = publishedManifest(pkg);
  writeFileSync(join(out, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  for (const file of EXTRA_FILES) if (existsSync(join(root, file))) copyFileSync(join(root, file), join(out, file));

  const missing = Object.values(manifest.exports as Record<string, Record<string, string>>)
    .flatMap((target) => Object.values(target))
    .filter((path) => !existsSync(join(out, path)));
  if (missing.length > 0) throw new Error(`build: export targets missing from ${out}: ${missing.join(", ")}`);
  return manifest;
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { out: { type: "string" } }, strict: true });
  const out = resolve(values.out ?? join(root, "dist"));
  build(out);
  const shown = relative(process.cwd(), out) || ".";
  const path = /^\.{0,2}\//.test(shown) || shown === "." ? shown : `./${shown}`;
  console.log(`built ${path}: publish with \`npm publish ${path}\` (\`npm pack ${path}\` for a tarball)`);
}
