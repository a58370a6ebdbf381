// What processes a test's child left running: a snapshot of the machine's processes (`ps`) before,
// and the ones matching a pattern that are new and still alive after.

/** The live (not zombie) processes whose command line matches `pattern`: pid → command line. */
export function processesMatching(pattern: RegExp): Map<number, string> {
  const ps = Bun.spawnSync(["ps", "-eo", "pid=,stat=,args="]);
  if (ps.exitCode !== 0) throw new Error(`ps failed: ${ps.stderr.toString()}`);
  const found = new Map<number, string>();
  for (const line of ps.stdout.toString().split("\n")) {
    const match = /^\s*(\d+)\s+(\S+)\s+(.*)$/.exec(line);
    if (!match || match[2]!.startsWith("Z") || !pattern.test(match[3]!)) continue;
    found.set(Number(match[1]), match[3]!);
  }
  return found;
}

/**
 * The processes matching `pattern` that were not in `before` and are still alive after a grace
 * period of `graceMs` (children get that long to finish exiting); empty when nothing was left.
 */
export async function leftBehind(before: Map<number, string>, pattern: RegExp, graceMs = 3_000): Promise<string[]> {
  const deadline = Date.now() + graceMs;
  for (;;) {
    const left = [...processesMatching(pattern)].filter(([pid]) => !before.has(pid)).map(([pid, args]) => `${pid} ${args}`);
    if (left.length === 0 || Date.now() > deadline) return left;
    await Bun.sleep(100);
  }
}
