import type { Hono } from "hono";
import type { BrokerCore } from "../core.ts";

/** `GET /v2/keys` and `POST /v2/keys/rotate`. */
export function keyRoutes(app: Hono, core: BrokerCore): void {
  app.get("/v2/keys", (c) => c.json({ current: core.keys.current, next: core.keys.next }));
  app.post("/v2/keys/rotate", async (c) => c.json(await core.rotateKeys()));
}
