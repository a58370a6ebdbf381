// Bundle entry: a worker app (`createWorker` + one valibot job), imported from the package root.
import { createWorker } from "../../src/index.ts";
import { sendWelcomeEmail } from "./job.ts";

const worker = createWorker({ signingKeys: { current: "sig_current", next: "sig_next" } }).handle(
  sendWelcomeEmail,
  async (input, ctx) => ({ sent: input.userId, attempt: ctx.attempt }),
);

export const app = worker.app;
export default app;
