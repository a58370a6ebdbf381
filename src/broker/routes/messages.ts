import type { Hono } from "hono";
import type { BrokerCore } from "../core.ts";
import { notFound } from "../errors.ts";
import { filterSql, matchesHostPath, parseFilter } from "../filters.ts";
import { bodyIds } from "../http.ts";
import { messageToWire } from "../wire.ts";

const MESSAGE_COLUMNS = {
  ids: "id", url: "url", topicName: "topic", queueName: "queue", scheduleId: "schedule_id", label: "labels",
  flowControlKey: "flow_key", callerIp: "caller_ip", fromDate: "created_at", toDate: "created_at",
};

/** `GET /v2/messages/{id}`, `DELETE /v2/messages/{id}`, `DELETE /v2/messages` (bulk cancel). */
export function messageRoutes(app: Hono, core: BrokerCore): void {
  app.get("/v2/messages/:id", (c) => {
    core.writer.flush();
    const row = core.store.messageById(c.req.param("id"));
    if (!row) throw notFound(`message ${c.req.param("id")} not found (unknown, or already delivered, failed or canceled)`);
    return c.json(messageToWire(row.message, row.body));
  });

  app.delete("/v2/messages/:id", async (c) => {
    const id = c.req.param("id");
    if (!core.engine.cancel(id)) throw notFound(`message ${id} not found (unknown, or already delivered, failed or canceled)`);
    await core.writer.commit();
    return c.json({ cancelled: 1 });
  });

  app.delete("/v2/messages", async (c) => {
    const filter = parseFilter(new URL(c.req.url).searchParams, "messages", "messageIds", await bodyIds(c, "messageIds", core.maxBodyBytes));
    core.writer.flush();
    const { where, params } = filterSql(filter, MESSAGE_COLUMNS);
    let cancelled = 0;
    for (const row of core.store.findMessages(where, params)) {
      if (matchesHostPath(filter, row.url) && core.engine.cancel(row.id)) cancelled++;
    }
    await core.writer.commit();
    return c.json({ cancelled });
  });
}
