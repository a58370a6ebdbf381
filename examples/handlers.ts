// The handlers every example's worker registers for the jobs of ./jobs.ts, shared like the jobs.
import { type Handler, NonRetryableError } from "jobwire";
import type { importCsv, resizeImage, sendWelcomeEmail } from "./jobs.ts";

export const sendWelcome: Handler<typeof sendWelcomeEmail, unknown> = (input, ctx) => {
  ctx.log.info(`welcome email sent to user ${input.userId}`);
  return { sentTo: input.userId };
};

export const resize: Handler<typeof resizeImage, unknown> = (input, ctx) => {
  ctx.log.info(`image ${input.imageId} resized to ${input.width}px`);
  return { imageId: input.imageId, width: input.width };
};

export const importFile: Handler<typeof importCsv, unknown> = (input, ctx) => {
  // A file that cannot be parsed will not parse on a retry either: fail for good (to the DLQ).
  if (input.fileUrl.endsWith("broken.csv")) throw new NonRetryableError(`cannot parse ${input.fileUrl}`);
  ctx.log.info(`imported ${input.fileUrl}`);
  return { rows: 3 };
};
