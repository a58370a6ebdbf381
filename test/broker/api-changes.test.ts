import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Engine } from "../../src/broker/engine/engine.ts";
import { Store } from "../../src/broker/store/store.ts";
import { startBroker, startDestination } from "./helpers.ts";

// API changes of queues and flow-control keys made together, several in one commit: each is made on
// top of those asked before it (stored or not yet), applied in that order once stored, and answered
// with the state it made; failed ones leave nothing behind; memory and disk agree after a restart.
// To ask a change while an earlier one is staged but not stored, the tests watch the engine's
// `changing` counters, spinning on microtasks only (a commit waits for a later task).

const engines: Engine[] = [];
const recover = Engine.prototype.recover;
Engine.prototype.recover = function (this: Engine) {
  engines.push(this);
  return recover.call(this);
};
const lastEngine = (): Engine => engines[engines.length - 1]!;

async function spin(check: () => boolean, max = 10_000): Promise<void> {
  for (let i = 0; i < max; i++) {
    if (check()) return;
    await Promise.resolve();
  }
  throw new Error("spin: condition not reached within microtasks");
}

// An enqueue creates a missing queue (parallelism 1), and a queue whose delete is staged is missing
// for it. Before: the enqueue saw the queue as still there, and the delete then removed it for good.
test("an enqueue asked after a queue's delete (one batch) re-creates the queue", async () => {
  const dir = mkdtempSync(join(tmpdir(), "engine-d-qde-"));
  const db = join(dir, "b.sqlite");
  const dest = startDestination();
  dest.respond(async () => {
    await Bun.sleep(300);
    return new Response("ok");
  });
  let broker = await startBroker({ memory: false, db });
  const seen: Record<string, unknown> = {};
  try {
    const auth = { authorization: `Bearer ${broker.token}` };
    expect((await broker.api("/v2/queues", { method: "POST", body: JSON.stringify({ queueName: "q", parallelism: 3 }) })).status).toBe(200);
    const deleting = broker.app.request("/v2/queues/q", { method: "DELETE", headers: auth });
    await spin(() => lastEngine().queues.get("q")?.changing === 1);
    const enqueuing = broker.app.request(`/v2/enqueue/q/${dest.url}/x`, { method: "POST", headers: auth, body: "x" });
    const [del, enq] = await Promise.all([deleting, enqueuing]);
    seen.delete = del.status;
    seen.enqueue = enq.status;
    seen.get = (await broker.api("/v2/queues/q")).status;
    await broker.close();
    broker = await startBroker({ memory: false, db });
    seen.getAfterRestart = (await broker.api("/v2/queues/q")).status;
  } finally {
    await broker.close();
    dest.close();
    rmSync(dir, { recursive: true, force: true });
  }
  expect(seen).toEqual({ delete: 200, enqueue: 201, get: 200, getAfterRestart: 200 });
});

// A pause or resume asked after a delete finds no queue (404). Before: it re-created the deleted
// queue (parallelism 1), which stayed after a restart.
for (const action of ["pause", "resume"] as const) {
  test(`a ${action} asked after a delete (one batch) does not bring the deleted queue back`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "engine-d-qdp-"));
    const db = join(dir, "b.sqlite");
    let broker = await startBroker({ memory: false, db });
    let seen: Record<string, unknown>;
    try {
      const auth = { authorization: `Bearer ${broker.token}` };
      expect((await broker.api("/v2/queues", { method: "POST", body: JSON.stringify({ queueName: "gone", parallelism: 4 }) })).status).toBe(200);
      const deleting = broker.app.request("/v2/queues/gone", { method: "DELETE", headers: auth });
      await spin(() => lastEngine().queues.get("gone")?.changing === 1); // the delete is staged, not stored
      const acting = broker.app.request(`/v2/queues/gone/${action}`, { method: "POST", headers: auth });
      const [del, act] = await Promise.all([deleting, acting]);
      const after = await broker.api("/v2/queues/gone");
      seen = { delete: del.status, [action]: act.status, actBody: await act.text(), get: after.status, getBody: await after.text() };
      await broker.close();
      broker = await startBroker({ memory: false, db });
      seen.getAfterRestart = (await broker.api("/v2/queues/gone")).status;
    } finally {
      await broker.close();
      rmSync(dir, { recursive: true, force: true });
    }
    // Expected: the delete was asked first; the pause/resume finds no queue and the queue stays deleted.
    expect({ delete: seen.delete, act: seen[action], get: seen.get, getAfterRestart: seen.getAfterRestart }).toEqual({ delete: 200, act: 404, get: 404, getAfterRestart: 404 });
  });
}

// The converse: a pause asked right after the queue's creation finds it.
test("a pause asked right after the queue's creation (one batch) finds it", async () => {
  const broker = await startBroker();
  try {
    const auth = { authorization: `Bearer ${broker.token}` };
    const creating = broker.app.request("/v2/queues", { method: "POST", headers: auth, body: JSON.stringify({ queueName: "fresh", parallelism: 2 }) });
    // The creation is staged (asked, its commit pending) before the pause is asked.
    await spin(() => lastEngine().queues.get("fresh")?.changing === 1);
    const pausing = broker.app.request("/v2/queues/fresh/pause", { method: "POST", headers: auth });
    const [create, pause] = await Promise.all([creating, pausing]);
    const info = (await (await broker.api("/v2/queues/fresh")).json()) as { paused: boolean };
    expect({ create: create.status, pause: pause.status, paused: info.paused }).toEqual({ create: 200, pause: 200, paused: true });
  } finally {
    await broker.close();
  }
});

// Each change answers with the state it made. Before: with the state after the next change in the
// same commit, so a pause answered "not paused".
test("a pause answered together with a later resume says paused", async () => {
  const broker = await startBroker();
  try {
    const auth = { authorization: `Bearer ${broker.token}` };
    expect((await broker.api("/v2/queues", { method: "POST", body: JSON.stringify({ queueName: "ans" }) })).status).toBe(200);
    const [qp, qr, fp, fr] = await Promise.all([
      broker.app.request("/v2/queues/ans/pause", { method: "POST", headers: auth }),
      broker.app.request("/v2/queues/ans/resume", { method: "POST", headers: auth }),
      broker.app.request("/v2/flowControl/ans/pause", { method: "POST", headers: auth }),
      broker.app.request("/v2/flowControl/ans/resume", { method: "POST", headers: auth }),
    ]);
    const answers = {
      queuePause: ((await qp.json()) as { paused: boolean }).paused,
      queueResume: ((await qr.json()) as { paused: boolean }).paused,
      flowPause: ((await fp.json()) as { isPaused: boolean }).isPaused,
      flowResume: ((await fr.json()) as { isPaused: boolean }).isPaused,
    };
    expect(answers).toEqual({ queuePause: true, queueResume: false, flowPause: true, flowResume: false });
  } finally {
    await broker.close();
  }
});

// Changes that fail together leave no queue behind in memory.
test("a failed creation and delete of a queue (one batch) leave no queue state behind", async () => {
  const broker = await startBroker();
  const upsert = Store.prototype.upsertQueue;
  Store.prototype.upsertQueue = () => {
    throw new Error("disk I/O error");
  };
  let statuses: number[];
  try {
    const auth = { authorization: `Bearer ${broker.token}` };
    const creating = broker.app.request("/v2/queues", { method: "POST", headers: auth, body: JSON.stringify({ queueName: "ghost" }) });
    await spin(() => lastEngine().queues.get("ghost")?.changing === 1);
    const deleting = broker.app.request("/v2/queues/ghost", { method: "DELETE", headers: auth });
    statuses = (await Promise.all([creating, deleting])).map((r) => r.status);
  } finally {
    Store.prototype.upsertQueue = upsert;
  }
  try {
    const q = lastEngine().queues.get("ghost");
    expect(statuses).toEqual([500, 500]);
    expect(q ? { declared: q.declared, pending: q.pending, changing: q.changing } : "forgotten").toBe("forgotten");
  } finally {
    await broker.close();
  }
});

// A key set back to its defaults, with nothing using it, keeps no stored row and is forgotten in
// memory too: the same answer before and after a restart.
test("a key paused then resumed, with no messages, is the same before and after a restart", async () => {
  const dir = mkdtempSync(join(tmpdir(), "engine-d-ghost-"));
  const db = join(dir, "b.sqlite");
  let broker = await startBroker({ memory: false, db });
  const seen: Record<string, unknown> = {};
  try {
    expect((await broker.api("/v2/flowControl/lonely/pause", { method: "POST" })).status).toBe(200);
    expect((await broker.api("/v2/flowControl/lonely/resume", { method: "POST" })).status).toBe(200);
    seen.before = (await broker.api("/v2/flowControl/lonely")).status;
    await broker.close();
    broker = await startBroker({ memory: false, db });
    seen.after = (await broker.api("/v2/flowControl/lonely")).status;
  } finally {
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  }
  expect(seen.before).toBe(seen.after);
});

// A change answered with an error leaves nothing behind: no key listed.
test("a failed pause of an unknown key leaves no key behind", async () => {
  const broker = await startBroker();
  const putFlow = Store.prototype.putFlow;
  Store.prototype.putFlow = () => {
    throw new Error("disk I/O error");
  };
  let status: number;
  try {
    status = (await broker.api("/v2/flowControl/never/pause", { method: "POST" })).status;
  } finally {
    Store.prototype.putFlow = putFlow;
  }
  try {
    expect(status).toBe(500);
    const listed = ((await (await broker.api("/v2/flowControl")).json()) as { flowControlKey: string }[]).map((f) => f.flowControlKey);
    expect(listed).not.toContain("never");
  } finally {
    await broker.close();
  }
});

// A resetRate resets the window as it is when the reset is stored, whatever other change of the key
// is on its way: a start made meanwhile is reset too, and the next message starts.
test("a resetRate asked after a start, while another change of the key is pending, resets the window", async () => {
  type Call = { url: string; resolve: (r: Response) => void };
  const calls: Call[] = [];
  const broker = await startBroker({
    fetch: (url) => new Promise<Response>((resolve) => calls.push({ url, resolve })),
  });
  try {
    const auth = { authorization: `Bearer ${broker.token}` };
    const headers = { "upstash-flow-control-key": "rk", "upstash-flow-control-value": "parallelism=1, rate=1, period=60s" };
    for (let i = 0; i < 3; i++) expect((await broker.api(`/v2/publish/http://127.0.0.1:9/m${i}`, { method: "POST", headers, body: "x" })).status).toBe(201);
    await spin(() => calls.length === 1, 1e6).catch(async () => {
      while (calls.length < 1) await Bun.sleep(5);
    });
    // The first window is reset (stored): windowStart 0.
    expect((await broker.api("/v2/flowControl/rk/resetRate", { method: "POST" })).status).toBe(200);
    const flow = lastEngine().flows.get("rk")!;
    expect(flow.windowStart).toBe(0);

    // One batch: a no-op pin is staged (snapshot windowStart 0) ...
    const pin = broker.app.request("/v2/flowControl/rk/pin?parallelism=1", { method: "POST", headers: auth });
    await spin(() => flow.changing === 1);
    // ... m0 ends and m1 starts: it opens a new 60 s window (rate 1, used up) ...
    calls[0]!.resolve(new Response("ok"));
    await spin(() => calls.length === 2);
    expect(flow.windowStart).toBeGreaterThan(0);
    expect(flow.changing).toBe(1); // still the same batch
    // ... then the reset is asked: it should reopen the window for m2.
    const reset = broker.app.request("/v2/flowControl/rk/resetRate", { method: "POST", headers: auth });
    await spin(() => flow.changing === 2);
    expect((await Promise.all([pin, reset])).map((r) => r.status)).toEqual([200, 200]);
    const info = (await (await broker.api("/v2/flowControl/rk")).json()) as { rateCount: number };
    calls[1]!.resolve(new Response("ok"));
    const deadline = Date.now() + 2000;
    while (calls.length < 3 && Date.now() < deadline) await Bun.sleep(20);
    expect({ rateCountAfterReset: info.rateCount, m2Started: calls.length === 3 }).toEqual({ rateCountAfterReset: 0, m2Started: true });
  } finally {
    for (const c of calls) c.resolve(new Response("ok"));
    await broker.close();
  }
});

// A DLQ retry asked while a queue change is on its way in a batch that then fails waits for that
// batch, fails with it (nothing retried, the entry stays in the DLQ), and leaves the queue as it was.
// Before: it flushed the batch and staged its messages in the same turn, on top of the failed change
// (a retry into a queue whose failed creation it took for done: the queue never existed; a failed
// delete under it: the queue's parallelism reset to 1).
for (const change of ["create", "delete"] as const) {
  test(`a DLQ retry asked over a failing queue ${change} fails with it, and leaves the queue as it was`, async () => {
    const broker = await startBroker();
    const dest = startDestination();
    const auth = { authorization: `Bearer ${broker.token}` };
    dest.respond(() => new Response("no", { status: 500 }));
    expect((await broker.api("/v2/queues", { method: "POST", body: JSON.stringify({ queueName: "rq", parallelism: 3 }) })).status).toBe(200);
    const enq = await broker.api(`/v2/enqueue/rq/${dest.url}/x`, { method: "POST", headers: { "upstash-retries": "0" }, body: "x" });
    const { messageId } = (await enq.json()) as { messageId: string };
    await broker.waitForEvent((e) => e.messageId === messageId && e.state === "FAILED");
    dest.respond(() => new Response("ok"));
    const dlqId = ((await (await broker.api("/v2/dlq")).json()) as { messages: { dlqId: string }[] }).messages[0]!.dlqId;
    if (change === "create") expect((await broker.api("/v2/queues/rq", { method: "DELETE" })).status).toBe(200);
    const store = Store.prototype as unknown as Record<string, unknown>;
    const method = change === "create" ? "upsertQueue" : "deleteQueue";
    const original = store[method];
    store[method] = () => {
      throw new Error("disk I/O error");
    };
    let statuses: number[];
    try {
      const changing =
        change === "create"
          ? broker.app.request("/v2/queues", { method: "POST", headers: auth, body: JSON.stringify({ queueName: "rq", parallelism: 2 }) })
          : broker.app.request("/v2/queues/rq", { method: "DELETE", headers: auth });
      await spin(() => lastEngine().queues.get("rq")?.changing === 1);
      const retrying = broker.app.request("/v2/dlq/retry", { method: "POST", headers: auth, body: JSON.stringify({ dlqIds: [dlqId] }) });
      statuses = (await Promise.all([changing, retrying])).map((r) => r.status);
    } finally {
      store[method] = original;
    }
    try {
      expect(statuses).toEqual([500, 500]);
      const queue = await broker.api("/v2/queues/rq");
      if (change === "create") expect(queue.status).toBe(404);
      else expect(await queue.json()).toMatchObject({ parallelism: 3, paused: false });
      // Still in the DLQ; retried now, its queue is there as it should be.
      expect((await broker.api("/v2/dlq/retry", { method: "POST", body: JSON.stringify({ dlqIds: [dlqId] }) })).status).toBe(200);
      expect(await (await broker.api("/v2/queues/rq")).json()).toMatchObject({ parallelism: change === "create" ? 1 : 3 });
      await broker.api("/v2/queues/rq/pause", { method: "POST" });
      expect(await (await broker.api("/v2/queues/rq")).json()).toMatchObject({ parallelism: change === "create" ? 1 : 3, paused: true });
    } finally {
      await broker.close();
      dest.close();
    }
  });
}
