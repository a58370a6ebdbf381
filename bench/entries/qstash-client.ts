// Bundle entry: the official `@upstash/qstash` `Client` alone, for comparison.
export { Client } from "@upstash/qstash";
