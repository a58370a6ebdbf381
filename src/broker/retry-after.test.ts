import { expect, test } from "bun:test";
import { defaultBackoff, parseRetryAfter } from "./retry-after.ts";

test("Retry-After as seconds, QStash duration and HTTP date; capped at one day", () => {
  const now = Date.parse("2025-01-01T00:00:00Z");
  expect(parseRetryAfter("30", now)).toBe(30_000);
  expect(parseRetryAfter("6m5s", now)).toBe(365_000);
  expect(parseRetryAfter("Wed, 01 Jan 2025 00:01:00 GMT", now)).toBe(60_000);
  expect(parseRetryAfter("Tue, 31 Dec 2024 00:00:00 GMT", now)).toBe(0);
  expect(parseRetryAfter("999999", now)).toBe(86_400_000);
  expect(parseRetryAfter("2d", now)).toBe(86_400_000);
  expect(parseRetryAfter(`${"9".repeat(30)}d`, now)).toBe(86_400_000);
  expect(parseRetryAfter(null, now)).toBeUndefined();
  expect(parseRetryAfter("soon", now)).toBeUndefined();
});

test("default backoff is min(1 day, e^(2.5 n)) seconds", () => {
  expect(Math.round(defaultBackoff(1) / 1000)).toBe(12);
  expect(Math.round(defaultBackoff(2) / 1000)).toBe(148); // 2m28s
  expect(Math.round(defaultBackoff(3) / 60_000)).toBe(30);
  expect(Math.round(defaultBackoff(4) / 3_600_000)).toBe(6);
  expect(defaultBackoff(5)).toBe(86_400_000);
  expect(defaultBackoff(50)).toBe(86_400_000);
});
