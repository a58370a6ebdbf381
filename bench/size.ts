/**
 * Bundle size: bundles each entry in `bench/entries/` with esbuild for a browser/worker target
 * (platform browser, ESM, minified, tree-shaken, es2022, conditions `worker` + `browser`, nothing
 * external) and reports minified and gzipped bytes (node:zlib, level 9):
 *
 *  - jobwire: the worker entry (`createWorker` + one valibot job), the enqueue entry (`createClient`
 *    + the same job), and both in one bundle (target: ≤ 20 KB gzipped);
 *  - for comparison, `@upstash/qstash`'s `Client` alone and its `Receiver` alone, bundled the same way;
 *  - for context only (no target applies to them): Inngest's Hono serve handler with one no-op
 *    function (`inngest/hono`) and Upstash Workflow's Hono `serve` with one step
 *    (`@upstash/workflow/hono`), both dev dependencies, bundled with the same options.
 *
 * No polyfills: a plugin turns any import of a Node builtin (`node:*`, `fs`, `crypto`, ...) into a
 * build error, so a successful build proves the entry needs none. The output is also searched for
 * `node:` strings (computed dynamic imports, which esbuild cannot see) and they are counted. The
 * context rows are the one exception: there the plugin marks each Node builtin import external
 * instead (the import stays in the output, unbundled and unpolyfilled) and the table note names
 * every one and its importer, so a library that needs one still gets a size, flagged. A context
 * entry that does not build at all (package missing, unresolvable import) gets no number: its row
 * says "not built" and the note quotes esbuild's error.
 *
 * The combined bundle's metafile is broken down by package (minified bytes each contributes), and,
 * as an option, the worker is measured on the full `hono` preset instead of `hono/tiny` (what the
 * tiny preset saves). Sizes are deterministic: one build each.
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

/** A Node builtin import left external in a context bundle, and the file that imports it. */
interface External {
  path: string;
  importer: string;
}

/**
 * Fails the build on any Node builtin, naming the importer; or, given `externals` (context rows
 * only), marks the import external and records it there instead.
 */
function nodeBuiltins(externals?: External[]): Plugin {
  return {
    name: "no-node-builtins",
    setup(b) {
      b.onResolve({ filter: /.*/ }, (a) => {
        const bare = a.path.split("/")[0]!;
        if (a.path.startsWith("node:") || builtins.has(a.path) || (builtins.has(bare) && !a.path.startsWith("."))) {
          if (!externals) {
            return { errors: [{ text: `"${a.path}" is a Node builtin (imported by ${a.importer}): a worker target would need a polyfill` }] };
          }
          externals.push({ path: a.path, importer: a.importer });
          return { path: a.path, external: true };
        }
        return undefined;
      });
    },
  };
}

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
  /** Context rows only: the Node builtin imports left external (none for the jobwire rows, which fail instead). */
  externals?: External[];
}

async function bundle(id: string, label: string, entry: string, plugins: Plugin[] = [], externals?: External[]): Promise<Bundle> {
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
    plugins: [...plugins, nodeBuiltins(externals)],
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
    ...(externals ? { externals } : {}),
  };
}

/** A context row: built with Node builtins external and recorded, or, if it does not build, esbuild's error. */
type Context = { id: string; label: string; package: string; version: string | undefined } & (
  | { bundle: Bundle; error?: undefined }
  | { bundle?: undefined; error: string }
);

async function context(id: string, label: string, pkg: string, entry: string): Promise<Context> {
  let version: string | undefined;
  try {
    version = JSON.parse(await Bun.file(join(ENTRIES, "../../node_modules", pkg, "package.json")).text()).version;
  } catch {
    version = undefined; // not installed: the build below fails and says why
  }
  try {
    return { id, label, package: pkg, version, bundle: await bundle(id, label, entry, [], []) };
  } catch (e) {
    const errors = (e as { errors?: { text: string; location?: { file: string } | null }[] }).errors;
    const error = errors?.length
      ? errors.slice(0, 3).map((x) => (x.location ? `${x.text} (${x.location.file})` : x.text)).join("; ")
      : String(e);
    return { id, label, package: pkg, version, error };
  }
}

/** Minified bytes per package in a bundle (jobwire's own files as "jobwire (src/)"). */
function byPackage(metafile: Metafile): { name: string; bytes: number }[] {
  const output = Object.values(metafile.outputs)[0]!;
  const sums = new Map<string, number>();
  for (const [file, { bytesInOutput }] of Object.entries(output.inputs)) {
    const m = /.*node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file); // the innermost package, for nested copies
    const name = m ? m[1]! : file.includes("bench/entries") ? "entry files" : "jobwire (src/)";
    sums.set(name, (sums.get(name) ?? 0) + bytesInOutput);
  }
  return [...sums].map(([name, bytes]) => ({ name, bytes })).sort((a, b) => b.bytes - a.bytes);
}

const fullHono = Bun.resolveSync("hono", ENTRIES);
const main = [
  await bundle("worker", "jobwire worker (`createWorker` + one valibot job)", "worker.ts"),
  await bundle("client", "jobwire enqueue (`createClient` + the same job)", "client.ts"),
  await bundle("both", "jobwire worker + enqueue, one bundle", "both.ts"),
  await bundle("qstash-client", "`@upstash/qstash` `Client` alone", "qstash-client.ts"),
  await bundle("qstash-receiver", "`@upstash/qstash` `Receiver` alone", "qstash-receiver.ts"),
];
const options = [
  await bundle("worker-full-hono", "worker on the full `hono` preset instead of `hono/tiny`", "worker.ts", [alias("hono/tiny", fullHono)]),
];
const contexts = [
  await context("inngest-hono", "context: Inngest Hono `serve` + one no-op function", "inngest", "inngest-hono.ts"),
  await context("upstash-workflow-hono", "context: Upstash Workflow Hono `serve` + one step", "@upstash/workflow", "upstash-workflow-hono.ts"),
];

const row = (b: Bundle) => [b.label, kb(b.minified), kb(b.gzipped), String(b.nodeRefs)];
const contextRow = (c: Context) => (c.bundle ? row(c.bundle) : [c.label, "not built", "not built", "–"]);
const short = (file: string) => file.replace(/^.*node_modules\//, "");

/** One sentence per context row: version, what was left external (or the build error), biggest packages. */
function contextNote(c: Context): string {
  const name = `${c.package}${c.version ? `@${c.version}` : " (version unknown: not installed?)"}`;
  if (!c.bundle) return `- ${name}: **not built**, so no size is given; esbuild: ${c.error}`;
  const ext = c.bundle.externals ?? [];
  const paths = [...new Set(ext.map((x) => x.path))];
  const builtinsText = paths.length
    ? `**does not build under the no-Node-builtin rule**: ${paths
        .map((p) => `\`${p}\` (imported by ${[...new Set(ext.filter((x) => x.path === p).map((x) => `\`${short(x.importer)}\``))].join(", ")})`)
        .join(", ")}; measured with ${paths.length === 1 ? "that import" : "those imports"} marked external (left in the output, not bundled, not polyfilled)`
    : "builds under the same no-Node-builtin rule as the jobwire rows, nothing external";
  const top = byPackage(c.bundle.metafile)
    .slice(0, 4)
    .map((p) => `${p.name} ${kb(p.bytes)}`)
    .join(", ");
  return `- ${name}: ${builtinsText}. Largest packages (minified): ${top}.`;
}

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
    "esbuild (platform browser, esm, minify, tree-shaking, es2022, conditions worker + browser, nothing external; any Node builtin import is a build error, except in the context rows, where it is marked external and named below the table); gzip level 9 (node:zlib); KB = 1024 bytes.",
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
  "An option, measured the same way:",
  "",
  markdownTable(header, options.map(row)),
  "",
  "For context only, other libraries' Hono entries bundled with the same options (not jobwire, and no issue-5 goal applies to them):",
  "",
  markdownTable(header, contexts.map(contextRow)),
  "",
  ...contexts.map(contextNote),
  "",
  markdownTable(
    ["Target (issue 5)", "Measured", "Status"],
    targets.map((t) => [t.target, t.measured, t.met ? "met" : "**missed**"]),
    ["left", "left", "left"],
  ),
].join("\n");

const rows = [...main, ...options].map(({ metafile: _m, ...rest }) => rest);
const contextRows = contexts.map(({ bundle: b, ...c }) => {
  if (!b) return { ...c, context: true };
  const { metafile, externals, ...sizes } = b;
  return { ...c, ...sizes, context: true, externals: externals?.map((x) => ({ path: x.path, importer: short(x.importer) })), packages: byPackage(metafile) };
});
publish(args, { bench: "size", markdown, targets, rows: [...rows, { id: "both-by-package", packages }, ...contextRows] });
