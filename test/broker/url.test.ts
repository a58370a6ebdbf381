// The URL createBroker reports must be one a local client can call, whatever address it is bound to.
import { expect, test } from "bun:test";
import { createBroker } from "../../src/broker/index.ts";

test("bound to ::1, the broker's url brackets the IPv6 host and answers there", async () => {
  const broker = await createBroker({ port: 0, host: "::1", memory: true, log: false });
  try {
    expect(broker.url).toBe(`http://[::1]:${broker.port}`);
    const res = await fetch(`${broker.url}/v2/queues`, { headers: { Authorization: `Bearer ${broker.token}` } });
    expect(res.status).toBe(200);
  } finally {
    await broker.close();
  }
});
