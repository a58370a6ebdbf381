import { expect, test } from "bun:test";
import { localUrl } from "./local-url.ts";

test("a wildcard address gives the loopback URL of its family; an IPv6 host is bracketed", () => {
  expect(localUrl("0.0.0.0", 8080)).toBe("http://127.0.0.1:8080");
  expect(localUrl("::", 8080)).toBe("http://[::1]:8080");
  expect(localUrl("localhost", 8080)).toBe("http://localhost:8080");
  expect(localUrl("fe80::1", 1)).toBe("http://[fe80::1]:1");
  expect(localUrl("0.0.0.0", 1)).toBe("http://127.0.0.1:1");
  expect(localUrl("::", 1)).toBe("http://[::1]:1");
  expect(localUrl("localhost", 1)).toBe("http://localhost:1");
});
