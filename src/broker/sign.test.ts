import { expect, test } from "bun:test";
import { Receiver } from "@upstash/qstash";
import { createVerifier } from "../signing.ts";
import { signAttempt } from "./sign.ts";

const keys = { current: "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r", next: "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs" };
const url = "http://127.0.0.1:3000/jobs/a?x=1";

test("the broker's signatures verify with the official Receiver and the core verifier", async () => {
  const body = new TextEncoder().encode('{"n":1,"s":"é"}');
  const token = signAttempt(keys.current, url, body);
  const receiver = new Receiver({ currentSigningKey: keys.current, nextSigningKey: keys.next });
  expect(await receiver.verify({ signature: token, body: '{"n":1,"s":"é"}', url })).toBe(true);
  await expect(createVerifier({ keys })({ signature: token, url, body })).resolves.toMatchObject({ iss: "Upstash", sub: url });
  await expect(createVerifier({ keys })({ signature: token, url, body: new Uint8Array([1]) })).rejects.toThrow(/body hash/);
  const claims = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString());
  expect(Object.keys(claims).sort()).toEqual(["body", "exp", "iat", "iss", "jti", "nbf", "sub"]);
  expect(claims.exp - claims.iat).toBe(300);
});
