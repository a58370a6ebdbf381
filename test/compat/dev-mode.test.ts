import { expect, test } from "bun:test";
import { Receiver } from "@upstash/qstash";
import { spawnCli } from "../broker/cli.ts";
import { startDestination, waitUntil } from "../broker/helpers.ts";

const DEV_KEYS = { currentSigningKey: "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r", nextSigningKey: "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs" };

test("the official SDK's dev mode (QSTASH_DEV=true) finds jobwire dev and publishes through it", async () => {
  const dest = startDestination();
  const broker = await spawnCli(["--port", "0", "--memory"]);
  try {
    expect(broker.lines).toContain("QSTASH_TOKEN=eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0=");
    expect(broker.lines).toContain(`QSTASH_CURRENT_SIGNING_KEY=${DEV_KEYS.currentSigningKey}`);
    const port = new URL(broker.url).port;
    // A child process, so QSTASH_DEV does not leak into this test process.
    const client = Bun.spawn([process.execPath, new URL("./fixtures/dev-mode-client.ts", import.meta.url).pathname, `${dest.url}/dev-mode`], {
      env: { ...process.env, QSTASH_DEV: "true", QSTASH_DEV_PORT: port, QSTASH_URL: "", QSTASH_TOKEN: "" },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [out, err, code] = await Promise.all([new Response(client.stdout).text(), new Response(client.stderr).text(), client.exited]);
    expect(code, err).toBe(0);
    const result = JSON.parse(/RESULT (.*)/.exec(out)![1]!);
    expect(result.messageId).toStartWith("msg_");
    const got = await waitUntil(() => dest.received.find((r) => r.path === "/dev-mode"), 5000, "the delivery");
    expect(JSON.parse(got.body)).toEqual({ from: "dev mode" });
    expect(got.headers.get("upstash-message-id")).toBe(result.messageId);
    expect(await new Receiver(DEV_KEYS).verify({ signature: got.headers.get("upstash-signature")!, body: got.body, url: got.url })).toBe(true);
    // The CLI logs one line per state change.
    await waitUntil(() => broker.lines.some((l) => l.includes("DELIVERED") && l.includes(result.messageId)), 5000, "the DELIVERED log line");
  } finally {
    broker.process.kill("SIGTERM");
    expect(await broker.exited).toBe(0);
    dest.close();
  }
});
