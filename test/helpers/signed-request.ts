// Builds a delivery exactly as a QStash broker would send it, signed with the dev keys.
import { signDelivery } from "../../src/signing.ts";

export const devKeys = { current: "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r", next: "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs" };

export interface DeliveryInit {
  body?: string | Uint8Array;
  messageId?: string;
  retried?: number;
  headers?: Record<string, string>;
  /** Sign with this key instead of the current dev key. */
  key?: string;
  /** Sign for this URL instead of the one called. */
  signedUrl?: string;
  /** Sign this body instead of the one sent. */
  signedBody?: string | Uint8Array;
  method?: string;
  /** Send no signature at all. */
  unsigned?: boolean;
}

let counter = 0;

export async function delivery(url: string, init: DeliveryInit = {}): Promise<Request> {
  const body = init.body ?? "{}";
  const headers = new Headers({
    "Content-Type": "application/json",
    "User-Agent": "Upstash-QStash",
    "Upstash-Message-Id": init.messageId ?? `msg_test_${Date.now()}_${counter++}`,
    "Upstash-Retried": String(init.retried ?? 0),
    ...init.headers,
  });
  if (!init.unsigned) {
    headers.set(
      "Upstash-Signature",
      await signDelivery(init.key ?? devKeys.current, { url: init.signedUrl ?? url, body: init.signedBody ?? body }),
    );
  }
  return new Request(url, { method: init.method ?? "POST", headers, body: body as BodyInit });
}
