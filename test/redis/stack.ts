// A real redis-server with the REST endpoint in front of it, for the tests in this folder. The
// endpoint is `createRedisRestApp` served by Bun.serve with a counter in front, so a test can see
// which HTTP requests a client made (`startRedisRest` itself is covered by outage.test.ts).
import { Redis } from "@upstash/redis";
import { connectRedis, createRedisRestApp } from "../../src/broker/redis-rest.ts";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.ts";

/** A redis-server, the endpoint in front of it, and what the endpoint received. */
export interface Stack {
  server: RedisServer;
  url: string;
  token: string;
  /** The path of every request the endpoint received, in order. */
  requests: string[];
  /** An `@upstash/redis` client for the endpoint, failing fast (no retries, no telemetry). */
  client(options?: { enableAutoPipelining?: boolean; automaticDeserialization?: boolean }): Redis;
  /** POSTs a JSON body (or a raw string) with the right token unless `headers` overrides it. */
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<{ status: number; type: string | null; json: unknown }>;
  stop(): Promise<void>;
}

export const TOKEN = "test-token";

export async function startStack(): Promise<Stack> {
  const server = await startRedisServer();
  const redis = await connectRedis(server.url);
  const app = createRedisRestApp({ redis, token: TOKEN });
  const requests: string[] = [];
  const http = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(request) {
      requests.push(URL.canParse(request.url) ? new URL(request.url).pathname : request.url);
      return app.fetch(request);
    },
  });
  const url = `http://127.0.0.1:${http.port}`;
  return {
    server,
    url,
    token: TOKEN,
    requests,
    client: (options = {}) => new Redis({ url, token: TOKEN, retry: { retries: 0 }, enableTelemetry: false, ...options }),
    async post(path, body, headers = {}) {
      const response = await fetch(url + path, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json", ...headers },
        body: typeof body === "string" ? body : JSON.stringify(body),
      });
      const text = await response.text();
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = text;
      }
      return { status: response.status, type: response.headers.get("content-type"), json };
    },
    async stop() {
      await http.stop(true);
      await redis.close();
      await server.stop();
    },
  };
}
