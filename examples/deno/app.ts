// The worker app, on Deno: receives the broker's signed deliveries at /jobs/<job name> and runs the
// jobs of ../jobs.ts. Needs QSTASH_CURRENT_SIGNING_KEY and QSTASH_NEXT_SIGNING_KEY (`jobwire dev`
// prints them); without them it stops at load, naming the missing variable. Default-exported, the
// form `deno serve app.ts` (and Deno Deploy) serves; worker.ts serves it with the adapter instead.
import { Hono } from "hono";
import { createWorker, memoryStore, NonRetryableError } from "jobwire";
import { signingKeysFromEnv } from "jobwire/adapters/deno";
import { importCsv, resizeImage, sendWelcomeEmail } from "../jobs.ts";

const worker = createWorker({
  signingKeys: signingKeysFromEnv(),
  // One isolate remembers what it has done; several (Deno Deploy) share upstashRedisStore(redis).
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

export default app;
