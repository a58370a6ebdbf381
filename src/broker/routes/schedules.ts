import type { Context, Hono } from "hono";
import type { BrokerCore } from "../core.ts";
import { badRequest, notFound } from "../errors.ts";
import { callerIp, rawRest, readBody } from "../http.ts";
import { ids } from "../ids.ts";
import { parsePublishHeaders } from "../publish-options.ts";
import { parseNewCron } from "../schedules.ts";
import { scheduleToWire } from "../wire.ts";

/** Schedules: create (`POST /v2/schedules/{destination}`), get, list, delete, pause, resume. */
export function scheduleRoutes(app: Hono, core: BrokerCore): void {
  const setPaused = async (c: Context, id: string, paused: boolean) => {
    if (!(await core.schedules.setPaused(id, paused))) throw notFound(`schedule ${id} not found`);
    return c.json({ scheduleId: id, isPaused: paused });
  };

  app.post("/v2/schedules/*", async (c) => {
    const rest = rawRest(c, "/v2/schedules/");
    // POST /v2/schedules/{id}/pause|resume shares this path shape with a destination, which is a
    // URL (with a scheme) or a URL group's name (no "/"): anything else of that shape is an id.
    const action = /^([^/:]+)\/(pause|resume)$/.exec(rest);
    if (action) return setPaused(c, action[1]!, action[2] === "pause");

    const spec = parsePublishHeaders(c.req.raw.headers);
    if (!spec.cron) throw badRequest("missing Upstash-Cron header: a schedule needs a cron expression, like \"*/5 * * * *\"");
    parseNewCron(spec.cron);
    core.publisher.resolve(rest);
    if (spec.notBefore !== undefined) throw badRequest("Upstash-Not-Before does not apply to a schedule; use Upstash-Delay");
    const body = await readBody(c, core.maxBodyBytes);
    const scheduleId = spec.scheduleId ?? ids.schedule();
    const template = { ...spec.template, ...(spec.queueName ? { queueName: spec.queueName } : {}) };
    const caller = callerIp(c);
    await core.schedules.upsert({
      id: scheduleId,
      data: { cron: spec.cron, destination: rest, template, ...(spec.delay ? { delay: spec.delay } : {}), ...(caller ? { callerIp: caller } : {}) },
      body,
      paused: false,
      createdAt: Date.now(),
    });
    return c.json({ scheduleId }, 201);
  });

  for (const action of ["pause", "resume"] as const) {
    app.patch(`/v2/schedules/:id/${action}`, (c) => setPaused(c, c.req.param("id"), action === "pause"));
  }

  app.get("/v2/schedules", (c) => c.json(core.schedules.list().map((s) => scheduleToWire(s.row, s.next))));

  app.get("/v2/schedules/:id", (c) => {
    const found = core.schedules.get(c.req.param("id"));
    if (!found) throw notFound(`schedule ${c.req.param("id")} not found`);
    return c.json(scheduleToWire(found.row, found.next));
  });

  app.delete("/v2/schedules/:id", async (c) => {
    const id = c.req.param("id");
    if (!(await core.schedules.delete(id))) throw notFound(`schedule ${id} not found`);
    return c.json({ deleted: id });
  });
}
