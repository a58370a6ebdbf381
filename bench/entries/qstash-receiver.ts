// Bundle entry: the official `@upstash/qstash` `Receiver` alone, for comparison.
export { Receiver } from "@upstash/qstash";
