// The worker app, on Deno: receives the broker's signed deliveries at /jobs/<job name> and runs the
// jobs of ../jobs.ts. Needs QSTASH_CURRENT_SIGNING_KEY and QSTASH_NEXT_SIGNING_KEY (`jobwire dev`
// prints them); without them it stops at load, naming the missing variable. Default-exported, the
// form `deno serve app.ts` (and Deno Deploy) serves; worker.ts serves it with the adapter instead.
import { Hono } from "hono";
import { createWorker, memoryStore } from "jobwire";
import { signingKeysFromEnv } from "jobwire/adapters/deno";
import { importFile, resize, sendWelcome } from "../handlers.ts";
import { importCsv, resizeImage, sendWelcomeEmail } from "../jobs.ts";

const worker = createWorker({
  signingKeys: signingKeysFromEnv(),
  // One isolate remembers what it has done; several (Deno Deploy) share upstashRedisStore(redis).
  store: memoryStore(),
})
  .handle(sendWelcomeEmail, sendWelcome)
  .handle(resizeImage, resize)
  .handle(importCsv, importFile);

const app = new Hono().route("/jobs", worker.app);

export default app;
