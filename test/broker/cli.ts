import { type Subprocess, spawn } from "bun";

/** A `jobwire dev` child process. */
export interface CliBroker {
  url: string;
  process: Subprocess<"ignore", "pipe", "pipe">;
  /** Every stdout line so far. */
  lines: string[];
  /** Resolves with the exit code. */
  exited: Promise<number>;
}

const BIN = new URL("../../bin/jobwire.ts", import.meta.url).pathname;

/** Spawns `bun bin/jobwire.ts dev <args>` and waits for its `Running at` line. */
export async function spawnCli(args: string[], env: Record<string, string> = {}): Promise<CliBroker> {
  const child = spawn([process.execPath, BIN, "dev", ...args], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, ...env },
  });
  const lines: string[] = [];
  let resolveUrl: (url: string) => void = () => {};
  const url = new Promise<string>((resolve) => (resolveUrl = resolve));
  (async () => {
    const decoder = new TextDecoder();
    let buffer = "";
    for await (const chunk of child.stdout as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        lines.push(line);
        const match = /^Running at (http:\/\/\S+)/.exec(line);
        if (match) resolveUrl(match[1]!);
      }
    }
  })();
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error(`jobwire dev did not start; output:\n${lines.join("\n")}`)), 10_000),
  );
  const early = child.exited.then(async (code) => {
    throw new Error(`jobwire dev exited with ${code}: ${await new Response(child.stderr).text()}`);
  });
  return { url: await Promise.race([url, timeout, early]), process: child, lines, exited: child.exited };
}
