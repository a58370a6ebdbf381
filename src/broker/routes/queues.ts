import type { Hono } from "hono";
import type { BrokerCore } from "../core.ts";
import { badRequest, notFound } from "../errors.ts";
import { readJson, wholeNumber } from "../http.ts";
import { name as checkName } from "../publish-options.ts";

/** Largest queue parallelism accepted. */
const MAX_PARALLELISM = 1000;

/** `POST /v2/queues` (upsert), `GET /v2/queues[/{name}]`, `DELETE /v2/queues/{name}`, pause/resume. */
export function queueRoutes(app: Hono, core: BrokerCore): void {
  const declared = (name: string) => {
    const queue = core.engine.queues.get(name);
    if (!queue?.declared) throw notFound(`queue "${name}" not found`);
    return queue;
  };

  app.post("/v2/queues", async (c) => {
    const json = await readJson(c, core.maxBodyBytes);
    if (typeof json !== "object" || json === null) throw badRequest('expected a JSON body {"queueName", "parallelism", "paused"}');
    const { queueName, parallelism, paused } = json as Record<string, unknown>;
    if (typeof queueName !== "string") throw badRequest('"queueName" must be a string');
    checkName(queueName, "queueName");
    const change: { parallelism?: number; paused?: boolean } = {};
    if (parallelism !== undefined) change.parallelism = wholeNumber(parallelism, "parallelism", 1, MAX_PARALLELISM);
    if (paused !== undefined && typeof paused !== "boolean") throw badRequest('"paused" must be true or false');
    if (paused !== undefined) change.paused = paused;
    // A field left out keeps its value (a new queue: parallelism 1, not paused).
    return c.json((await core.engine.upsertQueue(queueName, change))!);
  });

  app.get("/v2/queues", (c) =>
    c.json([...core.engine.queues.values()].filter((q) => q.declared).map((q) => q.info())),
  );

  app.get("/v2/queues/:name", (c) => c.json(declared(c.req.param("name")).info()));

  app.delete("/v2/queues/:name", async (c) => {
    const name = c.req.param("name");
    if (!(await core.engine.deleteQueue(name))) throw notFound(`queue "${name}" not found`);
    return c.json({ deleted: name });
  });

  for (const action of ["pause", "resume"] as const) {
    app.post(`/v2/queues/:name/${action}`, async (c) => {
      // Checked against the queue as last asked for: a delete not stored yet has removed it.
      const name = c.req.param("name");
      const info = await core.engine.upsertQueue(name, { paused: action === "pause" }, true);
      if (!info) throw notFound(`queue "${name}" not found`);
      return c.json(info);
    });
  }
}
