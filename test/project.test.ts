// Checks on the project's shape: the two export maps agree, the core stays runtime-neutral.
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";

const root = join(import.meta.dir, "..");
const read = (file: string) => JSON.parse(readFileSync(join(root, file), "utf8"));

describe("export maps", () => {
  const pkg = read("package.json");
  const deno = read("deno.json");

  test("package.json and deno.json export the same entry points from the same sources", () => {
    const npmMap = Object.fromEntries(
      Object.entries(pkg.exports as Record<string, { types: string; default: string }>).map(([k, v]) => [k, v.default]),
    );
    expect(npmMap).toEqual(deno.exports);
  });

  test("package.json lists types first for every entry", () => {
    for (const [entry, target] of Object.entries(pkg.exports as Record<string, object>)) {
      expect(Object.keys(target)[0], entry).toBe("types");
    }
  });

  test("the main entries exist", () => {
    for (const entry of [".", "./broker"]) expect(existsSync(join(root, deno.exports[entry]))).toBe(true);
  });

  test("deno.json imports every runtime dependency of package.json, at the same range", () => {
    for (const [name, range] of Object.entries({ ...pkg.dependencies, ...pkg.peerDependencies } as Record<string, string>)) {
      expect(deno.imports[name], name).toMatch(new RegExp(`^npm:${name.replace("/", "\\/")}@`));
    }
    for (const [name, range] of Object.entries(pkg.dependencies as Record<string, string>)) {
      expect(deno.imports[name]).toBe(`npm:${name}@${range}`);
    }
  });

  test("the package is ESM and side-effect free", () => {
    expect(pkg.type).toBe("module");
    expect(pkg.sideEffects).toBe(false);
  });
});

describe("runtime neutrality", () => {
  const forbidden = [
    /from\s+["'](node:|bun:|bun["'])/,
    /import\(\s*["'](node:|bun:)/,
    /\bBun\.\w/,
    /\bDeno\.\w/,
    /\bprocess\.\w/,
    /\bBuffer\b/,
    /\brequire\(/,
  ];
  const sources: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (relative(root, path) !== join("src", "broker")) walk(path);
      } else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts")) sources.push(path);
    }
  };
  walk(join(root, "src"));

  test("finds the core's sources", () => {
    expect(sources.map((s) => relative(root, s))).toContain(join("src", "worker.ts"));
  });

  test("nothing under src/ outside src/broker/ uses node:*, bun:*, Bun, Deno, process or Buffer", () => {
    const offenders: string[] = [];
    for (const file of sources) {
      const lines = readFileSync(file, "utf8").split("\n");
      lines.forEach((line, i) => {
        if (/^\s*(\/\/|\/?\*)/.test(line)) return; // comments may name what the code must not use
        if (forbidden.some((pattern) => pattern.test(line))) offenders.push(`${relative(root, file)}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(offenders).toEqual([]);
  });
});
