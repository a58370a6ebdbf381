// The worker, on Bun: receives the broker's signed deliveries at /jobs/<job name> and runs the jobs
// of ../jobs.ts. Needs QSTASH_CURRENT_SIGNING_KEY and QSTASH_NEXT_SIGNING_KEY (`jobwire dev` prints
// them); without them it stops at start, naming the missing variable. PORT: default 3000, 0 = any.
import { Hono } from "hono";
import { createWorker, memoryStore, NonRetryableError } from "jobwire";
import { serve, signingKeysFromEnv } from "jobwire/adapters/bun";
import { importCsv, resizeImage, sendWelcomeEmail } from "../jobs.ts";

const worker = createWorker({
  signingKeys: signingKeysFromEnv(),
  // One process remembers what it has done; several workers share upstashRedisStore(redis) instead.
  store: memoryStore(),
})
  .handle(sendWelcomeEmail, (input, ctx) => {
    ctx.log.info(`welcome email sent to user ${input.userId}`);
    return { sentTo: input.userId };
  })
  .handle(resizeImage, (input, ctx) => {
    ctx.log.info(`image ${input.imageId} resized to ${input.width}px`);
    return { imageId: input.imageId, width: input.width };
  })
  .handle(importCsv, (input, ctx) => {
    // A file that cannot be parsed will not parse on a retry either: fail for good (to the DLQ).
    if (input.fileUrl.endsWith("broken.csv")) throw new NonRetryableError(`cannot parse ${input.fileUrl}`);
    ctx.log.info(`imported ${input.fileUrl}`);
    return { rows: 3 };
  });

const app = new Hono().route("/jobs", worker.app);
const server = serve(app, { port: Number(Bun.env.PORT ?? 3000) });
console.log(`worker listening on ${server.url}/jobs`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, async () => {
    await server.close();
    process.exit(0);
  });
}
