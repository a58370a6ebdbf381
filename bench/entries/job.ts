// The one job every size entry uses: a valibot schema, as in the README.
import * as v from "valibot";
import { defineJob } from "../../src/index.ts";

export const sendWelcomeEmail = defineJob({
  name: "send-welcome-email",
  input: v.object({ userId: v.number(), email: v.pipe(v.string(), v.email()) }),
  retries: 5,
  idempotencyKey: (input) => `welcome:${input.userId}`,
});
