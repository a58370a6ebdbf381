import { Hono } from "hono";
import type { BrokerCore } from "./core.ts";
import { ApiError } from "./errors.ts";
import { dlqRoutes } from "./routes/dlq.ts";
import { eventRoutes } from "./routes/events.ts";
import { flowControlRoutes } from "./routes/flow-control.ts";
import { keyRoutes } from "./routes/keys.ts";
import { messageRoutes } from "./routes/messages.ts";
import { publishRoutes } from "./routes/publish.ts";
import { queueRoutes } from "./routes/queues.ts";
import { scheduleRoutes } from "./routes/schedules.ts";
import { topicRoutes } from "./routes/topics.ts";

/**
 * The broker's HTTP API (the QStash v2 endpoints) as a Hono app. Every error is JSON
 * `{"error": "..."}` with a deliberate status; an unexpected throw is a 500, never a crash.
 */
export function createBrokerApp(core: BrokerCore, options: { maxConcurrency: number }): Hono {
  const app = new Hono();

  app.use("/v2/*", async (c, next) => {
    const header = c.req.header("authorization");
    const token = header?.startsWith("Bearer ") ? header.slice(7).trim() : c.req.query("qstash_token");
    if (!token) {
      return c.json({ error: "missing token: send Authorization: Bearer <QSTASH_TOKEN> (printed by jobwire dev at start)" }, 401);
    }
    if (token !== core.token) return c.json({ error: "invalid token: use the QSTASH_TOKEN jobwire dev printed at start" }, 401);
    await next();
  });

  publishRoutes(app, core);
  messageRoutes(app, core);
  dlqRoutes(app, core);
  eventRoutes(app, core);
  queueRoutes(app, core);
  scheduleRoutes(app, core);
  topicRoutes(app, core);
  flowControlRoutes(app, core, options.maxConcurrency);
  keyRoutes(app, core);

  app.notFound((c) => c.json({ error: `unknown path: ${c.req.method} ${new URL(c.req.url).pathname}` }, 404));
  app.onError((error, c) => {
    if (error instanceof ApiError) return c.json({ error: error.message }, error.status);
    core.onError(error);
    return c.json({ error: `internal error: ${error instanceof Error ? error.message : String(error)}` }, 500);
  });
  return app;
}
