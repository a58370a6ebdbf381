// The test helper that starts a private redis-server, including its message when there is none.
import { expect, test } from "bun:test";
import { Socket } from "node:net";
import { startRedisServer } from "../helpers/redis-server.ts";

const answers = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = new Socket();
    socket.once("error", () => resolve(false));
    socket.once("data", (data) => {
      socket.destroy();
      resolve(data.toString().startsWith("+PONG"));
    });
    socket.connect(port, "127.0.0.1", () => socket.write("PING\r\n"));
  });

test("starts a real redis-server on a free loopback port, kills, restarts and stops it", async () => {
  const server = await startRedisServer();
  expect(server.url).toBe(`redis://127.0.0.1:${server.port}`);
  expect(await answers(server.port)).toBe(true);
  await server.kill();
  expect(await answers(server.port)).toBe(false);
  await server.restart();
  expect(await answers(server.port)).toBe(true);
  await server.stop();
  expect(await answers(server.port)).toBe(false);
});

test("without redis-server on PATH it says how to install it", async () => {
  const path = process.env.PATH;
  process.env.PATH = "/nonexistent";
  try {
    await expect(startRedisServer()).rejects.toThrow(
      "redis-server not found: install it with `apt-get install -y redis-server` (Debian/Ubuntu) or `brew install redis`",
    );
  } finally {
    process.env.PATH = path;
  }
});
