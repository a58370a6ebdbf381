import { storeSuite } from "../test/store-suite.ts";
import { memoryStore } from "./idempotency.ts";

storeSuite("memoryStore", () => memoryStore());
