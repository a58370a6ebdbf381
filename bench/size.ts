/**
 * Bundle size: bundles each entry in `bench/entries/` with esbuild for a browser/worker target
 * (platform browser, ESM, minified, tree-shaken, es2022, conditions `worker` + `browser`, nothing
 * external) and reports minified and gzipped bytes (node:zlib, level 9):
 *
 *  - jobwire: the worker entry (`createWorker` + one valibot job), the enqueue entry (`createClient`
 *    + the same job), and both in one bundle (target: ≤ 20 KB gzipped);
 *  - for comparison, `@upstash/qstash`'s `Client` alone and its `Receiver` alone, bundled the same way.
 *
 * No polyfills: a plugin turns any import of a Node builtin (`node:*`, `fs`, `crypto`, ...) into a
 * build error, so a successful build proves the entry needs none. The output is also searched for
 * `node:` strings (computed dynamic imports, which esbuild cannot see) and they are counted.
 *
 * The combined bundle's metafile is broken down by package (minified bytes each contributes), and,
 * as options, two variants are measured: `@upstash/qstash` replaced by an empty stub (what the rest
 * costs, i.e. the budget left for a small publisher of our own), and the worker on the full `hono`
 * preset instead of `hono/tiny` (what the tiny preset saves). Sizes are deterministic: one build each.
 *
 *   npx bun bench/size.ts [--quick] [--json out.json]
 */
import { builtinModules } from "node:module";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { build, type Metafile, type Plugin } from "esbuild";
import { benchArgs, preamble, publish, type Target } from "./lib/report.ts";
import { kb } from "./lib/stats.ts";
import { markdownTable } from "./lib/table.ts";

const args = benchArgs(); // --quick changes nothing: a build is already fast and exact.
const ENTRIES = join(import.meta.dirname, "entries");
const LIMIT_GZIP = 20 * 1024;

const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

/** Fails the build on any Node builtin, naming the importer. */
const noNodeBuiltins: Plugin = {
  name: "no-node-builtins",
  setup(b) {
    b.onResolve({ filter: /.*/ }, (a) => {
      const bare = a.path.split("/")[0]!;
      if (a.path.startsWith("node:") || builtins.has(a.path) || (builtins.has(bare) && !a.path.startsWith("."))) {
        return { errors: [{ text: `"${a.path}" is a Node builtin (imported by ${a.importer}): a worker target would need a polyfill` }] };
      }
      return undefined;
    });
  },
};

/** Redirects `from` imports to `to` (a file), for the measured options. */
function alias(from: string, to: string): Plugin {
  const filter = new RegExp(`^${from.replace(/[/.@]/g, (c) => `\\${c}`)}$`);
  return { name: `alias-${from}`, setup: (b) => b.onResolve({ filter }, () => ({ path: to })) };
}

interface Bundle {
  id: string;
  label: string;
  minified: number;
  gzipped: number;
  /** `node:` strings left in the output (computed dynamic imports). */
  nodeRefs: number;
  metafile: Metafile;
}

async function bundle(id: string, label: string, entry: string, plugins: Plugin[] = []): Promise<Bundle> {
  const result = await build({
    entryPoints: [join(ENTRIES, entry)],
    bundle: true,
    write: false,
    outfile: `${id}.js`,
    platform: "browser",
    format: "esm",
    minify: true,
    treeShaking: true,
    target: "es2022",
    conditions: ["worker", "browser"],
    metafile: true,
    logLevel: "silent",
    plugins: [...plugins, noNodeBuiltins],
  });
  const code = result.outputFiles[0]!.contents;
  const text = new TextDecoder().decode(code);
  return {
    id,
    label,
    minified: code.byteLength,
    gzipped: gzipSync(code, { level: 9 }).byteLength,
    nodeRefs: (text.match(/["'`]node:/g) ?? []).length,
    metafile: result.metafile,
  };
}

/** Minified bytes per package in a bundle (jobwire's own files as "jobwire (src/)"). */
function byPackage(metafile: Metafile): { name: string; bytes: number }[] {
  const output = Object.values(metafile.outputs)[0]!;
  const sums = new Map<string, number>();
  for (const [file, { bytesInOutput }] of Object.entries(output.inputs)) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
    const name = m ? m[1]! : file.includes("bench/entries") ? "entry files" : "jobwire (src/)";
    sums.set(name, (sums.get(name) ?? 0) + bytesInOutput);
  }
  return [...sums].map(([name, bytes]) => ({ name, bytes })).sort((a, b) => b.bytes - a.bytes);
}

const stub = join(ENTRIES, "qstash-stub.ts");
const fullHono = Bun.resolveSync("hono", ENTRIES);
const main = [
  await bundle("worker", "jobwire worker (`createWorker` + one valibot job)", "worker.ts"),
  await bundle("client", "jobwire enqueue (`createClient` + the same job)", "client.ts"),
  await bundle("both", "jobwire worker + enqueue, one bundle", "both.ts"),
  await bundle("qstash-client", "`@upstash/qstash` `Client` alone", "qstash-client.ts"),
  await bundle("qstash-receiver", "`@upstash/qstash` `Receiver` alone", "qstash-receiver.ts"),
];
const options = [
  await bundle("both-no-sdk", "worker + enqueue, `@upstash/qstash` stubbed out (jobwire's own code)", "both.ts", [alias("@upstash/qstash", stub)]),
  await bundle("worker-full-hono", "worker on the full `hono` preset instead of `hono/tiny`", "worker.ts", [alias("hono/tiny", fullHono)]),
];

const row = (b: Bundle) => [b.label, kb(b.minified), kb(b.gzipped), String(b.nodeRefs)];
const header = ["Entry", "minified", "gzipped", "`node:` strings in output"];
const both = main.find((b) => b.id === "both")!;
const packages = byPackage(both.metafile);

const targets: Target[] = [
  {
    issue: 5,
    id: "size-both",
    target: "Worker + client entries ≤ 20 KB gzipped",
    measured: `${kb(both.gzipped)} gzipped (${kb(both.minified)} minified)`,
    met: both.gzipped <= LIMIT_GZIP,
  },
  {
    issue: 5,
    id: "size-no-polyfills",
    target: "Both entries build for the worker target without Node polyfills",
    measured: `worker and enqueue entries built with every Node builtin import a build error; ${main.filter((b) => b.id === "worker" || b.id === "client").map((b) => `${b.id}: ${b.nodeRefs} \`node:\` strings`).join(", ")}`,
    met: true, // a Node builtin import would have thrown above
  },
];

const markdown = [
  "### Bundle size (esbuild, browser/worker target)",
  "",
  preamble(
    args,
    "esbuild (platform browser, esm, minify, tree-shaking, es2022, conditions worker + browser, nothing external; any Node builtin import is a build error); gzip level 9 (node:zlib); KB = 1024 bytes.",
  ),
  "",
  markdownTable(header, main.map(row)),
  "",
  `What the combined bundle is made of (minified bytes each package contributes, of ${kb(both.minified)}):`,
  "",
  markdownTable(
    ["Package", "minified", "share"],
    packages.map((p) => [p.name, kb(p.bytes), `${((p.bytes / both.minified) * 100).toFixed(0)}%`]),
  ),
  "",
  "Options, measured the same way:",
  "",
  markdownTable(header, options.map(row)),
  "",
  markdownTable(
    ["Target (issue 5)", "Measured", "Status"],
    targets.map((t) => [t.target, t.measured, t.met ? "met" : "**missed**"]),
    ["left", "left", "left"],
  ),
].join("\n");

const rows = [...main, ...options].map(({ metafile: _m, ...rest }) => rest);
publish(args, { bench: "size", markdown, targets, rows: [...rows, { id: "both-by-package", packages }] });
