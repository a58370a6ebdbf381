// A Cloudflare Worker that both enqueues and runs the jobs of ../jobs.ts: `POST /signup` enqueues a
// welcome email after answering (waitUntil), and the broker delivers it back to /jobs/<job name>.
// Bindings (wrangler.toml [vars] and `wrangler secret put`): QSTASH_TOKEN, QSTASH_URL (optional),
// QSTASH_CURRENT_SIGNING_KEY, QSTASH_NEXT_SIGNING_KEY, and WORKER_URL, the /jobs URL as the broker
// reaches it. Bindings exist per request, so the keys are read per delivery (signingKeysFromContext).
import { Hono } from "hono";
import { createClient, createWorker, memoryStore, validateInput } from "jobwire";
import { type QStashBindings, qstashFromBindings, signingKeysFromContext, waitUntil } from "jobwire/adapters/cloudflare";
import { importFile, resize, sendWelcome } from "../handlers.ts";
import { importCsv, resizeImage, sendWelcomeEmail } from "../jobs.ts";

type Env = { Bindings: QStashBindings & { WORKER_URL: string } };

const worker = createWorker<undefined, Env>({
  signingKeys: signingKeysFromContext,
  // Per isolate only: Cloudflare runs many, so in production share upstashRedisStore(redis) instead
  // (with `Redis` from "@upstash/redis/cloudflare" and the UPSTASH_REDIS_REST_* bindings).
  store: memoryStore(),
})
  .handle(sendWelcomeEmail, sendWelcome)
  .handle(resizeImage, resize)
  .handle(importCsv, importFile);

const app = new Hono<Env>()
  .post("/signup", async (c) => {
    const body: unknown = await c.req.json().catch(() => undefined);
    // Validate now, so a bad request is answered 400 instead of failing after the response.
    const checked = await validateInput(sendWelcomeEmail, body);
    if (!checked.success) return c.json({ error: "invalid signup", issues: checked.issues }, 400);
    const jobs = createClient({ ...qstashFromBindings(c.env), workerUrl: c.env.WORKER_URL });
    await waitUntil(c, jobs.enqueue(sendWelcomeEmail, checked.value));
    return c.json({ welcome: "on its way" }, 202);
  })
  .route("/jobs", worker.app);

export default app;
