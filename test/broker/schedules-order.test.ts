import { expect, test } from "bun:test";
import type { Publisher } from "../../src/broker/publisher.ts";
import { Schedules } from "../../src/broker/schedules.ts";
import { openDatabase } from "../../src/broker/store/driver.ts";
import { type ScheduleRow, Store } from "../../src/broker/store/store.ts";
import { GroupWriter } from "../../src/broker/store/writer.ts";

// Changes to one schedule that overlap (made before the previous one's commit is done) leave the
// timers as the database has it: the schedule runs exactly when it is stored. The store and its
// writer are the real SQLite ones; the publisher (what a firing calls) is not needed here.

const row = (id: string, cron = "0 0 1 1 *"): ScheduleRow => ({
  id,
  data: { cron, destination: "http://127.0.0.1:9/x", template: { method: "POST", header: {}, maxRetries: 0 } } as ScheduleRow["data"],
  body: new Uint8Array(0),
  paused: false,
  createdAt: Date.now(),
});

async function fixture() {
  const db = await openDatabase(":memory:");
  const store = new Store(db, true);
  const writer = new GroupWriter(store, (error) => {
    throw error;
  });
  const schedules = new Schedules(store, writer, {} as Publisher, (error) => {
    throw error;
  });
  const stored = () => store.schedules().map((r) => ({ id: r.id, paused: r.paused }));
  const running = () => schedules.list().map((s) => ({ id: s.row.id, paused: s.row.paused }));
  const close = () => {
    schedules.close();
    writer.close();
    db.close();
  };
  return { schedules, stored, running, close };
}

test("an upsert and a delete made together: the timers agree with the database, in either order", async () => {
  const { schedules, stored, running, close } = await fixture();
  try {
    await schedules.upsert(row("a"));
    await Promise.all([schedules.upsert(row("a")), schedules.delete("a")]);
    expect(stored()).toEqual([]);
    expect(running()).toEqual(stored());

    await schedules.upsert(row("b"));
    await Promise.all([schedules.delete("b"), schedules.upsert(row("b"))]);
    expect(stored()).toEqual([{ id: "b", paused: false }]);
    expect(running()).toEqual(stored());
  } finally {
    close();
  }
});

test("an upsert and a pause made together: the timers agree with the database", async () => {
  const { schedules, stored, running, close } = await fixture();
  try {
    await schedules.upsert(row("c"));
    await Promise.all([schedules.upsert(row("c")), schedules.setPaused("c", true)]);
    expect(stored()).toEqual([{ id: "c", paused: true }]);
    expect(running()).toEqual(stored());
  } finally {
    close();
  }
});

test("a change whose commit settles after close() starts no timer", async () => {
  const { schedules, running, close } = await fixture();
  const pending = schedules.upsert(row("d", "* * * * * *"));
  schedules.close();
  await pending;
  expect(running()).toEqual([]);
  close();
});
