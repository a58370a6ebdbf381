// Bundle entry, context only: Upstash Workflow's Hono `serve` with one step, for comparison.
import { serve } from "@upstash/workflow/hono";

export const handler = serve(async (context) => {
  await context.run("step", () => 1);
});
