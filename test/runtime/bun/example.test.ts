// The Bun example (examples/bun) in Bun: its worker and its enqueue script run as child processes
// of this Bun, against a `jobwire dev` broker started here.
import { join } from "node:path";
import { describeProcessExample } from "../example-suite.ts";
import { requireBinary, root, startBroker } from "../harness.ts";

const bun = requireBinary("bun", process.execPath, "install it with `npm install` (the `bun` npm package is a devDependency)");

describeProcessExample({
  title: "Bun example, in Bun",
  broker: () => startBroker(),
  worker: () => [bun, join(root, "examples/bun/worker.ts")],
  enqueue: (args) => [bun, join(root, "examples/bun/enqueue.ts"), ...args],
});
