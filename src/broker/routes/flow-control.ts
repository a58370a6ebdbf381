import type { Hono } from "hono";
import { parseDuration } from "../../duration.ts";
import type { BrokerCore } from "../core.ts";
import { badRequest, notFound } from "../errors.ts";
import { wholeNumber } from "../http.ts";

/** Flow control: `GET /v2/flowControl[/{key}]`, `GET /v2/globalParallelism`, and the key actions. */
export function flowControlRoutes(app: Hono, core: BrokerCore, maxConcurrency: number): void {
  app.get("/v2/flowControl", (c) => c.json([...core.engine.flows.values()].map((f) => f.info())));

  app.get("/v2/flowControl/:key", (c) => {
    const flow = core.engine.flow(c.req.param("key"));
    if (!flow) throw notFound(`flow-control key "${c.req.param("key")}" not found`);
    return c.json(flow.info());
  });

  app.get("/v2/globalParallelism", (c) => c.json({ parallelismMax: maxConcurrency, parallelismCount: core.engine.inFlight }));

  app.post("/v2/flowControl/:key/:action", async (c) => {
    const key = c.req.param("key");
    const action = c.req.param("action");
    const query = new URL(c.req.url).searchParams;
    const optional = (name: string, min: number) => (query.get(name) ? wholeNumber(query.get(name), name, min) : undefined);
    let flow: Record<string, unknown>;
    switch (action) {
      case "pause":
      case "resume":
        flow = await core.engine.updateFlow(key, (f) => void (f.paused = action === "pause"));
        break;
      case "resetRate":
        flow = await core.engine.updateFlow(key, (f) => void (f.resetRate = true));
        break;
      case "pin": {
        const parallelism = optional("parallelism", 1);
        const rate = optional("rate", 1);
        let period: number | undefined;
        const rawPeriod = query.get("period");
        if (rawPeriod) {
          try {
            period = parseDuration(rawPeriod);
          } catch {
            throw badRequest(`invalid period "${rawPeriod}": expected seconds or a duration like "1m"`);
          }
          // As for messages: a shorter window would end as it opens and limit nothing.
          if (period < 1) throw badRequest(`invalid period "${rawPeriod}": must be at least 1s`);
        }
        flow = await core.engine.updateFlow(key, (f) => {
          f.pinned = {
            ...f.pinned,
            ...(parallelism !== undefined ? { parallelism } : {}),
            ...(rate !== undefined ? { rate } : {}),
            ...(period !== undefined ? { period } : {}),
          };
        });
        break;
      }
      case "unpin": {
        // `?parallelism=true`/`?rate=true` unpin one of them; neither unpins both.
        const which = { parallelism: query.get("parallelism"), rate: query.get("rate") };
        const both = which.parallelism === null && which.rate === null;
        flow = await core.engine.updateFlow(key, (f) => {
          if (!f.pinned) return;
          const next = { ...f.pinned };
          if (both || which.parallelism === "true") delete next.parallelism;
          if (both || which.rate === "true") {
            delete next.rate;
            delete next.period;
          }
          f.pinned = Object.keys(next).length > 0 ? next : null;
        });
        break;
      }
      default:
        throw notFound(`unknown flow-control action "${action}": use pause, resume, resetRate, pin or unpin`);
    }
    return c.json(flow);
  });
}
