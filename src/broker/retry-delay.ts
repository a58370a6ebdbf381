/** A compiled `Upstash-Retry-Delay` expression: milliseconds for the given `retried` count. */
export type RetryDelay = (retried: number) => number;

const FUNCTIONS: Record<string, { arity: [number, number]; fn: (...args: number[]) => number }> = {
  pow: { arity: [2, 2], fn: Math.pow },
  exp: { arity: [1, 1], fn: Math.exp },
  sqrt: { arity: [1, 1], fn: Math.sqrt },
  abs: { arity: [1, 1], fn: Math.abs },
  floor: { arity: [1, 1], fn: Math.floor },
  ceil: { arity: [1, 1], fn: Math.ceil },
  round: { arity: [1, 1], fn: Math.round },
  min: { arity: [1, 16], fn: Math.min },
  max: { arity: [1, 16], fn: Math.max },
};

type Token = { kind: "num"; value: number } | { kind: "id"; name: string } | { kind: "op"; op: string };

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const ch = source[i]!;
    if (/\s/.test(ch)) {
      i++;
    } else if (/[0-9.]/.test(ch)) {
      const match = /^(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?/.exec(source.slice(i));
      if (!match) throw new SyntaxError(`bad number at position ${i}`);
      tokens.push({ kind: "num", value: Number(match[0]) });
      i += match[0].length;
    } else if (/[A-Za-z_]/.test(ch)) {
      const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(source.slice(i))![0];
      tokens.push({ kind: "id", name });
      i += name.length;
    } else if ("+-*/(),".includes(ch)) {
      tokens.push({ kind: "op", op: ch });
      i++;
    } else {
      throw new SyntaxError(`unexpected "${ch}" at position ${i}`);
    }
  }
  return tokens;
}

/**
 * Compiles a QStash retry-delay expression (milliseconds over `retried`) into a function, with a
 * recursive-descent parser: numbers, `retried`, `+ - * /`, parentheses and
 * `pow exp sqrt abs floor ceil round min max`. Nothing is ever `eval`ed. Throws a `SyntaxError`
 * that says what is wrong.
 *
 * @example compileRetryDelay("pow(2, retried) * 1000")(3) // 8000
 */
export function compileRetryDelay(source: string): RetryDelay {
  if (source.length > 1000) throw new SyntaxError("expression longer than 1000 characters");
  const tokens = tokenize(source);
  let pos = 0;
  const peek = (): Token | undefined => tokens[pos];
  const isOp = (op: string): boolean => {
    const t = peek();
    return t?.kind === "op" && t.op === op;
  };
  const expect = (op: string): void => {
    if (!isOp(op)) throw new SyntaxError(`expected "${op}" at token ${pos + 1}`);
    pos++;
  };

  const expression = (): RetryDelay => {
    let left = term();
    while (isOp("+") || isOp("-")) {
      const op = (tokens[pos++] as { op: string }).op;
      const l = left;
      const r = term();
      left = op === "+" ? (n) => l(n) + r(n) : (n) => l(n) - r(n);
    }
    return left;
  };
  const term = (): RetryDelay => {
    let left = unary();
    while (isOp("*") || isOp("/")) {
      const op = (tokens[pos++] as { op: string }).op;
      const l = left;
      const r = unary();
      left = op === "*" ? (n) => l(n) * r(n) : (n) => l(n) / r(n);
    }
    return left;
  };
  const unary = (): RetryDelay => {
    if (isOp("-")) {
      pos++;
      const inner = unary();
      return (n) => -inner(n);
    }
    if (isOp("+")) {
      pos++;
      return unary();
    }
    return primary();
  };
  const primary = (): RetryDelay => {
    const token = peek();
    if (!token) throw new SyntaxError("unexpected end of expression");
    pos++;
    if (token.kind === "num") {
      const value = token.value;
      return () => value;
    }
    if (token.kind === "op") {
      if (token.op !== "(") throw new SyntaxError(`unexpected "${token.op}"`);
      const inner = expression();
      expect(")");
      return inner;
    }
    if (token.name === "retried") return (n) => n;
    const fn = Object.hasOwn(FUNCTIONS, token.name) ? FUNCTIONS[token.name] : undefined;
    if (!fn) {
      throw new SyntaxError(`unknown name "${token.name}"; use retried, ${Object.keys(FUNCTIONS).join(", ")}`);
    }
    expect("(");
    const args: RetryDelay[] = [expression()];
    while (isOp(",")) {
      pos++;
      args.push(expression());
    }
    expect(")");
    if (args.length < fn.arity[0] || args.length > fn.arity[1]) {
      throw new SyntaxError(`${token.name} takes ${fn.arity[0] === fn.arity[1] ? fn.arity[0] : `${fn.arity[0]} to ${fn.arity[1]}`} argument(s), got ${args.length}`);
    }
    return (n) => fn.fn(...args.map((a) => a(n)));
  };

  if (tokens.length === 0) throw new SyntaxError("empty expression");
  const compiled = expression();
  if (pos < tokens.length) throw new SyntaxError(`unexpected token ${pos + 1} after a complete expression`);
  return compiled;
}

const cache = new Map<string, RetryDelay>();

/**
 * Evaluates an expression (compiled once, cached) to a delay in milliseconds, clamped to
 * [0, 1 day]; a result that is not a number (NaN, from e.g. `0/0`) counts as 0.
 */
export function evaluateRetryDelay(source: string, retried: number): number {
  let fn = cache.get(source);
  if (!fn) {
    fn = compileRetryDelay(source);
    if (cache.size > 1000) cache.clear();
    cache.set(source, fn);
  }
  const ms = fn(retried);
  if (Number.isNaN(ms)) return 0;
  return Math.min(Math.max(ms, 0), 86_400_000);
}
