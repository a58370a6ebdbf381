// The jobs every example shares, imported unchanged by the Bun, Deno, Node and Workers examples.
import * as v from "valibot";
import { defineJob } from "jobwire";

/** Sends one welcome email per user, however often it is enqueued. */
export const sendWelcomeEmail = defineJob({
  name: "send-welcome-email",
  input: v.object({ userId: v.pipe(v.number(), v.integer(), v.minValue(1)) }),
  retries: 3,
  idempotencyKey: (input) => `welcome:${input.userId}`,
});

/** Calls a flaky image service: fails now and then, and is retried with a short backoff. */
export const resizeImage = defineJob({
  name: "resize-image",
  input: v.object({ imageId: v.string(), width: v.pipe(v.number(), v.integer(), v.minValue(16), v.maxValue(4096)) }),
  retries: 4,
  retryDelay: "200 * pow(2, retried)",
  timeout: "30s",
});

/** Imports a CSV file; a file that cannot be parsed fails for good and lands in the DLQ. */
export const importCsv = defineJob({
  name: "import-csv",
  input: v.object({ fileUrl: v.pipe(v.string(), v.url()) }),
  retries: 2,
});
