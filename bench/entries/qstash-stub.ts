// Stands in for `@upstash/qstash` in the "without the SDK" size option (bench/size.ts): an empty
// `Client`, so the bundle shows what the rest of jobwire costs. Never run; measured only.
export class Client {
  constructor(readonly options: unknown) {}
}
