// A private, throwaway `redis-server` for tests that need a real Redis: a free loopback port, no
// persistence, its own temporary directory, stopped (and the directory removed) by `stop()`.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A running `redis-server` owned by the test that started it. */
export interface RedisServer {
  /** `redis://127.0.0.1:<port>` */
  url: string;
  port: number;
  /** Stops the server (SIGTERM, then SIGKILL) and removes its directory. */
  stop(): Promise<void>;
  /** Kills the server at once (SIGKILL), as an outage would; `restart()` brings it back on the same port. */
  kill(): Promise<void>;
  /** Starts the server again on the same port, empty (nothing is persisted). */
  restart(): Promise<void>;
  /** Stalls the server (SIGSTOP): connections stay open, nothing is answered until `resume()`. */
  pause(): void;
  /** Lets a paused server run again (SIGCONT). */
  resume(): void;
}

const NOT_FOUND =
  "redis-server not found: install it with `apt-get install -y redis-server` (Debian/Ubuntu) or `brew install redis`";

/** Starts a real `redis-server` on a free loopback port and waits until it answers PING. */
export async function startRedisServer(): Promise<RedisServer> {
  const dir = await mkdtemp(join(tmpdir(), "jobwire-redis-"));
  const port = await freePort();
  let child: ChildProcess | undefined = await launch(port, dir).catch(async (error: unknown) => {
    await rm(dir, { recursive: true, force: true });
    throw error;
  });

  async function kill(): Promise<void> {
    const running = child;
    child = undefined;
    if (running) await terminate(running, "SIGKILL");
  }

  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    kill,
    async restart() {
      await kill();
      child = await launch(port, dir);
    },
    pause() {
      child?.kill("SIGSTOP");
    },
    resume() {
      child?.kill("SIGCONT");
    },
    async stop() {
      const running = child;
      child = undefined;
      running?.kill("SIGCONT"); // a paused server would not act on SIGTERM
      if (running) await terminate(running, "SIGTERM");
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function launch(port: number, dir: string): Promise<ChildProcess> {
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir];
  const child = spawn("redis-server", args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout?.on("data", (chunk) => (output += chunk));
  child.stderr?.on("data", (chunk) => (output += chunk));
  const failed = new Promise<never>((_, reject) => {
    child.once("error", (error: NodeJS.ErrnoException) =>
      reject(error.code === "ENOENT" ? new Error(NOT_FOUND, { cause: error }) : error),
    );
    child.once("exit", (code) => reject(new Error(`redis-server exited with ${code} before answering PING:\n${output}`)));
  });
  failed.catch(() => {});
  const deadline = Date.now() + 5_000;
  for (;;) {
    const answered = await Promise.race([ping(port), failed]);
    if (answered) return child;
    if (Date.now() > deadline) {
      await terminate(child, "SIGKILL");
      throw new Error(`redis-server on port ${port} did not answer PING within 5 s:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Resolves true when a Redis on `port` answers `+PONG`, false on any failure. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once("error", () => done(false));
    socket.once("data", (data) => done(data.toString().startsWith("+PONG")));
    socket.connect(port, "127.0.0.1", () => socket.write("PING\r\n"));
  });
}

function terminate(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill("SIGKILL"), 3_000);
    child.once("exit", () => {
      clearTimeout(force);
      resolve();
    });
    child.kill(signal);
  });
}

// The OS picks a free port; it is released again just before redis-server binds it (a small race
// that loopback tests can live with).
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
