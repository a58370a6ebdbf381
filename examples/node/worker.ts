// The worker, on Node.js (>= 20, @hono/node-server): receives the broker's signed deliveries at
// /jobs/<job name> and runs the jobs of ../jobs.ts. Needs QSTASH_CURRENT_SIGNING_KEY and
// QSTASH_NEXT_SIGNING_KEY (`jobwire dev` prints them); without them it stops at start, naming the
// missing variable. PORT: default 3000, 0 = any free port.
import { Hono } from "hono";
import { createWorker, memoryStore } from "jobwire";
import { serve, signingKeysFromEnv } from "jobwire/adapters/node";
import { importFile, resize, sendWelcome } from "../handlers.ts";
import { importCsv, resizeImage, sendWelcomeEmail } from "../jobs.ts";

const worker = createWorker({
  signingKeys: signingKeysFromEnv(),
  // One process remembers what it has done; several workers share upstashRedisStore(redis) instead.
  store: memoryStore(),
})
  .handle(sendWelcomeEmail, sendWelcome)
  .handle(resizeImage, resize)
  .handle(importCsv, importFile);

const app = new Hono().route("/jobs", worker.app);
const server = await serve(app, { port: Number(process.env.PORT?.trim() || 3000) });
console.log(`worker listening on ${server.url}/jobs`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, async () => {
    await server.close();
    process.exit(0);
  });
}
