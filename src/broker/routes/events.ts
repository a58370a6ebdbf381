import type { Hono } from "hono";
import type { BrokerCore } from "../core.ts";
import { filterSql, matchesHostPath, parseFilter } from "../filters.ts";

const EVENT_COLUMNS = {
  ids: "message_id", messageId: "message_id", state: "state", url: "url", topicName: "topic", queueName: "queue",
  scheduleId: "schedule_id", label: "labels", flowControlKey: "flow_key", fromDate: "time", toDate: "time",
  // Kept in the row's JSON rather than a column of their own (events written before have neither).
  callerIp: "json_extract(data, '$.callerIp')", endpointName: "json_extract(data, '$.endpointName')",
};
const DEFAULT_COUNT = 100;
const MAX_COUNT = 1000;

/** `GET /v2/events` and `GET /v2/logs`: the event log, newest first, paged by `cursor`. */
export function eventRoutes(app: Hono, core: BrokerCore): void {
  for (const [path, key] of [["/v2/events", "events"], ["/v2/logs", "logs"]] as const) {
    app.get(path, (c) => {
      const filter = parseFilter(new URL(c.req.url).searchParams, "events", "messageIds");
      core.writer.flush();
      const count = Math.min(filter.count ?? DEFAULT_COUNT, MAX_COUNT);
      const { where, params } = filterSql(filter, EVENT_COLUMNS);
      const hostPath = filter.host !== undefined || filter.path !== undefined;
      let cursor = filter.cursor ?? Number.MAX_SAFE_INTEGER;
      const events = [];
      let more = false;
      // host/path are matched in code, so read pages until enough match.
      for (;;) {
        const rows = core.store.findEvents(where, params, cursor, count + 1);
        for (const row of rows) {
          if (hostPath && !matchesHostPath(filter, row.event.url)) {
            cursor = row.seq;
            continue;
          }
          if (events.length === count) {
            more = true;
            break;
          }
          events.push(row.event);
          cursor = row.seq;
        }
        if (more || rows.length <= count) break;
      }
      return c.json({ [key]: events, ...(more ? { cursor: String(cursor) } : {}) });
    });
  }
}
