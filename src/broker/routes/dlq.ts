import type { Hono } from "hono";
import type { BrokerCore } from "../core.ts";
import { notFound } from "../errors.ts";
import { type Filter, filterSql, parseFilter } from "../filters.ts";
import { bodyIds } from "../http.ts";
import { ids } from "../ids.ts";
import type { DlqRow } from "../store/store.ts";
import { dlqToWire } from "../wire.ts";

const DLQ_COLUMNS = {
  ids: "dlq_id", messageId: "message_id", url: "url", topicName: "topic", queueName: "queue", scheduleId: "schedule_id",
  label: "labels", flowControlKey: "flow_key", callerIp: "caller_ip", responseStatus: "response_status",
  fromDate: "created_at", toDate: "created_at",
};
const DEFAULT_COUNT = 100;
const MAX_COUNT = 1000;

/** One page of DLQ entries; `cursor` is set when more follow. */
function page(core: BrokerCore, filter: Filter): { rows: DlqRow[]; cursor?: string } {
  core.writer.flush();
  const count = Math.min(filter.count ?? DEFAULT_COUNT, MAX_COUNT);
  const { where, params } = filterSql(filter, DLQ_COLUMNS);
  const rows = core.store.findDlq(where, params, filter.cursor ?? 0, count + 1);
  if (rows.length <= count) return { rows };
  rows.length = count;
  return { rows, cursor: String(rows[count - 1]!.seq) };
}

/** `GET /v2/dlq`, `DELETE /v2/dlq[/{dlqId}]`, `POST /v2/dlq/retry`. */
export function dlqRoutes(app: Hono, core: BrokerCore): void {
  app.get("/v2/dlq", (c) => {
    const { rows, cursor } = page(core, parseFilter(new URL(c.req.url).searchParams, "dlq", "dlqIds"));
    return c.json({ messages: rows.map(dlqToWire), ...(cursor ? { cursor } : {}) });
  });

  app.get("/v2/dlq/:dlqId", (c) => {
    core.writer.flush();
    const row = core.store.dlqById(c.req.param("dlqId"));
    if (!row) throw notFound(`DLQ entry ${c.req.param("dlqId")} not found`);
    return c.json(dlqToWire(row));
  });

  app.delete("/v2/dlq/:dlqId", async (c) => {
    const dlqId = c.req.param("dlqId");
    core.writer.flush();
    if (!core.store.dlqById(dlqId)) throw notFound(`DLQ entry ${dlqId} not found (or no longer in the DLQ)`);
    await core.writer.commit(() => core.store.deleteDlq(dlqId));
    return c.json({ deleted: 1 });
  });

  app.delete("/v2/dlq", async (c) => {
    const filter = parseFilter(new URL(c.req.url).searchParams, "dlq", "dlqIds", await bodyIds(c, "dlqIds", core.maxBodyBytes));
    const { rows, cursor } = page(core, filter);
    await core.writer.commit(() => {
      for (const row of rows) core.store.deleteDlq(row.dlqId);
    });
    return c.json({ deleted: rows.length, ...(cursor ? { cursor } : {}) });
  });

  app.post("/v2/dlq/retry", async (c) => {
    const filter = parseFilter(new URL(c.req.url).searchParams, "dlq", "dlqIds", await bodyIds(c, "dlqIds", core.maxBodyBytes));
    const { rows, cursor } = page(core, filter);
    const now = Date.now();
    const items = rows.map((row) => ({
      message: { ...row.message, messageId: ids.message(), notBefore: now, createdAt: now },
      body: row.body,
    }));
    const entries = core.engine.stage(items);
    await core.writer.commit(() => {
      for (const row of rows) core.store.deleteDlq(row.dlqId);
    });
    core.engine.admit(entries);
    return c.json({ responses: items.map((i) => ({ messageId: i.message.messageId })), ...(cursor ? { cursor } : {}) });
  });
}
