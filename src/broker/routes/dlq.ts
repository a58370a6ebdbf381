import type { Hono } from "hono";
import type { BrokerCore } from "../core.ts";
import { ApiError, notFound } from "../errors.ts";
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

/** One page of DLQ entries, up to the entry `upto` when given; `cursor` is set when more follow. */
function page(core: BrokerCore, filter: Filter, upto?: number): { rows: DlqRow[]; cursor?: string } {
  core.writer.flush();
  // Ids named one by one are all acted on: the official SDK sends them without a count, and its
  // callers do not page through the answer.
  const count = filter.ids ? Math.max(filter.ids.length, 1) : Math.min(filter.count ?? DEFAULT_COUNT, MAX_COUNT);
  const sql = filterSql(filter, DLQ_COLUMNS);
  const where = upto === undefined ? sql.where : `${sql.where} AND seq <= ?`;
  const params = upto === undefined ? sql.params : [...sql.params, upto];
  const rows = core.store.findDlq(where, params, filter.cursor, count + 1, filter.order === "latestFirst");
  if (rows.length <= count) return { rows };
  rows.length = count;
  const last = String(rows[count - 1]!.seq);
  return { rows, cursor: upto === undefined ? last : `${last}-${upto}` };
}

/**
 * The filter of a retry call, and the DLQ entry its paging stops at. A retried message that fails
 * again comes back as a new entry: paging over those too, a retry-all loop would never end. So the
 * first call bounds it at the newest entry then, and its cursor (`<after>-<upto>`) carries the bound.
 */
function retryFilter(core: BrokerCore, params: URLSearchParams, given: string[] | undefined): { filter: Filter; upto: number } {
  const cursor = params.get("cursor");
  const bounded = cursor ? /^(\d+)-(\d+)$/.exec(cursor) : null;
  if (bounded) params.delete("cursor");
  const filter = parseFilter(params, "dlq", "dlqIds", given);
  if (!bounded) return { filter, upto: core.store.maxDlqSeq() };
  filter.cursor = Number(bounded[1]);
  return { filter, upto: Number(bounded[2]) };
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
    const given = await bodyIds(c, "dlqIds", core.maxBodyBytes);
    // The writes on their way are settled first, not flushed in this turn: a change in a batch that
    // fails must be taken back (its own code runs once the failure is known) before this stages
    // messages on top of what it asked for.
    try {
      await core.writer.commit();
    } catch (error) {
      throw new ApiError(500, `could not retry: ${(error as Error).message}`);
    }
    const { filter, upto } = retryFilter(core, new URL(c.req.url).searchParams, given);
    const { rows, cursor } = page(core, filter, upto);
    const now = Date.now();
    const items = rows.map((row) => ({
      message: { ...row.message, messageId: ids.message(), notBefore: now, createdAt: now },
      body: row.body,
    }));
    const entries = core.engine.stage(items);
    try {
      await core.writer.commit(() => {
        for (const row of rows) core.store.deleteDlq(row.dlqId);
      });
    } catch (error) {
      // Nothing was retried: the entries stay in the DLQ, and the new messages never existed.
      core.engine.unstage(entries);
      throw new ApiError(500, `could not retry: ${(error as Error).message}`);
    }
    core.engine.admit(entries);
    return c.json({ responses: items.map((i) => ({ messageId: i.message.messageId })), ...(cursor ? { cursor } : {}) });
  });
}
