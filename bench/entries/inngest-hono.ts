// Bundle entry, context only: Inngest's Hono serve handler with one no-op function, for comparison.
// inngest 4.x takes the triggers in the options (`triggers: [...]`), not as a second argument.
import { Inngest } from "inngest";
import { serve } from "inngest/hono";

const inngest = new Inngest({ id: "app" });
const fn = inngest.createFunction({ id: "noop", triggers: [{ event: "app/noop" }] }, async () => {});

export default serve({ client: inngest, functions: [fn] });
