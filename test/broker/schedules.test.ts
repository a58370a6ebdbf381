import { afterAll, beforeAll, expect, test } from "bun:test";
import { type Destination, startBroker, startDestination, type TestBroker, waitUntil } from "./helpers.ts";

// Cron schedules; the 6-field form (leading seconds) is a local extension for tests.

let broker: TestBroker;
let dest: Destination;
beforeAll(async () => {
  broker = await startBroker();
  dest = startDestination();
});
afterAll(async () => {
  await broker.close();
  dest.close();
});

const create = async (path: string, cron: string, headers: Record<string, string> = {}) => {
  const response = await broker.api(`/v2/schedules/${dest.url}${path}`, {
    method: "POST",
    headers: { "upstash-cron": cron, "content-type": "application/json", ...headers },
    body: '{"tick":true}',
  });
  expect(response.status).toBe(201);
  return ((await response.json()) as { scheduleId: string }).scheduleId;
};
const ticks = (path: string) => dest.received.filter((r) => r.path === path);

test("a 6-field cron fires every second with the schedule's body, headers and id", async () => {
  const id = await create("/every-second", "* * * * * *", { "upstash-forward-x-from": "cron", "upstash-queue-name": "cron-queue" });
  await waitUntil(() => ticks("/every-second").length >= 2, 3500, "two firings");
  const tick = ticks("/every-second")[0]!;
  expect(tick.body).toBe('{"tick":true}');
  expect(tick.headers.get("upstash-schedule-id")).toBe(id);
  expect(tick.headers.get("x-from")).toBe("cron");
  // The schedule's creator, as QStash tells: every firing carries it.
  expect(tick.headers.get("upstash-caller-ip")).toBe("127.0.0.1");
  const messageId = tick.headers.get("upstash-message-id")!;
  const created = broker.events.find((e) => e.messageId === messageId && e.state === "CREATED")!;
  expect(created).toMatchObject({ scheduleId: id, queueName: "cron-queue" });
  const schedule = (await (await broker.api(`/v2/schedules/${id}`)).json()) as { lastScheduleTime?: number; nextScheduleTime?: number };
  expect(schedule.lastScheduleTime).toBeGreaterThan(Date.now() - 3000);
  expect(schedule.nextScheduleTime).toBeGreaterThan(Date.now() - 1000);
  await broker.api(`/v2/schedules/${id}`, { method: "DELETE" });
  const after = ticks("/every-second").length;
  await Bun.sleep(1200);
  expect(ticks("/every-second").length).toBeLessThanOrEqual(after + 1);
});

test("a paused schedule does not fire; resumed, it does", async () => {
  const id = await create("/paused", "* * * * * *");
  expect((await broker.api(`/v2/schedules/${id}/pause`, { method: "PATCH" })).status).toBe(200);
  const before = ticks("/paused").length;
  await Bun.sleep(1300);
  expect(ticks("/paused").length).toBeLessThanOrEqual(before + 1); // at most one that was already firing
  const paused = ticks("/paused").length;
  await Bun.sleep(1100);
  expect(ticks("/paused").length).toBe(paused);
  expect((await broker.api(`/v2/schedules/${id}/resume`, { method: "POST" })).status).toBe(200);
  await waitUntil(() => ticks("/paused").length > paused, 2500, "a firing after resume");
  await broker.api(`/v2/schedules/${id}`, { method: "DELETE" });
});

test("a 5-field cron is minute-resolution, as on QStash (next run on a whole minute)", async () => {
  const id = await create("/minutely", "CRON_TZ=America/New_York */5 * * * *");
  const schedule = (await (await broker.api(`/v2/schedules/${id}`)).json()) as { nextScheduleTime: number; cron: string };
  expect(schedule.cron).toBe("CRON_TZ=America/New_York */5 * * * *");
  expect(schedule.nextScheduleTime % 60_000).toBe(0);
  expect(new Date(schedule.nextScheduleTime).getUTCMinutes() % 5).toBe(0);
  await broker.api(`/v2/schedules/${id}`, { method: "DELETE" });
});

test("overlapping upserts of one schedule id leave one timer: one firing per tick, none after DELETE", async () => {
  const upsert = () =>
    broker.api(`/v2/schedules/${dest.url}/overlap`, {
      method: "POST",
      headers: { "upstash-cron": "* * * * * *", "upstash-schedule-id": "overlapping" },
      body: "x",
    });
  const answers = await Promise.all([upsert(), upsert(), upsert()]);
  expect(answers.map((r) => r.status)).toEqual([201, 201, 201]);
  const start = ticks("/overlap").length;
  await Bun.sleep(3200);
  // Three or four whole seconds; a leaked timer would fire again at each of them.
  const fired = ticks("/overlap").length - start;
  expect(fired).toBeGreaterThanOrEqual(2);
  expect(fired).toBeLessThanOrEqual(4);
  expect((await broker.api("/v2/schedules/overlapping", { method: "DELETE" })).status).toBe(200);
  await Bun.sleep(100); // a firing already under way may still land
  const after = ticks("/overlap").length;
  await Bun.sleep(1300);
  expect(ticks("/overlap").length).toBe(after);
});

test("a cron without CRON_TZ is in UTC, whatever the machine's time zone; with it, in that zone", async () => {
  // The broker's own process, in a zone far from UTC: croner reads fields in local time unless told.
  const script = `
    import { createBroker } from ${JSON.stringify(new URL("../../src/broker/index.ts", import.meta.url).pathname)};
    const broker = await createBroker({ port: 0, memory: true, log: false });
    const api = (path, init = {}) => fetch(broker.url + path, { ...init, headers: { authorization: "Bearer " + broker.token, ...init.headers } });
    const next = async (cron) => {
      const created = await (await api("/v2/schedules/http://127.0.0.1:9/x", { method: "POST", headers: { "upstash-cron": cron } })).json();
      return (await (await api("/v2/schedules/" + created.scheduleId)).json()).nextScheduleTime;
    };
    const utc = new Date(await next("0 9 * * *"));
    const tokyo = new Date(await next("CRON_TZ=Asia/Tokyo 0 9 * * *"));
    console.log(JSON.stringify({ offset: new Date().getTimezoneOffset(), utc: [utc.getUTCHours(), utc.getUTCMinutes()], tokyo: [tokyo.getUTCHours(), tokyo.getUTCMinutes()] }));
    await broker.close();
  `;
  for (const zone of ["America/New_York", "Asia/Kolkata"]) {
    const run = Bun.spawnSync([process.execPath, "--eval", script], { env: { ...process.env, TZ: zone } });
    expect(run.exitCode, run.stderr.toString()).toBe(0);
    const seen = JSON.parse(run.stdout.toString().trim()) as { offset: number; utc: number[]; tokyo: number[] };
    expect(seen.offset, zone).not.toBe(0); // the process really ran in that zone
    expect(seen.utc, zone).toEqual([9, 0]);
    expect(seen.tokyo, zone).toEqual([0, 0]); // 09:00 in Tokyo (UTC+9)
  }
});

test("an upsert keeps the schedule's last firing time, and the publisher's address is shown", async () => {
  const id = await create("/kept-last", "* * * * * *", { "upstash-schedule-id": "kept-last" });
  await waitUntil(() => ticks("/kept-last").length >= 1, 3500, "a firing");
  const read = async () => (await (await broker.api(`/v2/schedules/${id}`)).json()) as { lastScheduleTime?: number; callerIp?: string };
  const before = await read();
  expect(before.lastScheduleTime).toBeGreaterThan(0);
  // The same id, every field overwritten (daily now, so it does not fire again meanwhile).
  await create("/kept-last", "0 0 * * *", { "upstash-schedule-id": "kept-last" });
  const after = await read();
  expect(after.lastScheduleTime).toBeGreaterThanOrEqual(before.lastScheduleTime!);
  expect(after.callerIp).toBe("127.0.0.1");
  await broker.api(`/v2/schedules/${id}`, { method: "DELETE" });
});
