import { describe, expect, test } from "bun:test";
import { compileRetryDelay, evaluateRetryDelay } from "./retry-delay.ts";

describe("compileRetryDelay", () => {
  const cases: [string, number, number][] = [
    ["1000", 5, 1000],
    ["retried", 7, 7],
    ["pow(2, retried) * 1000", 3, 8000],
    ["1000 * (1 + retried)", 2, 3000],
    ["10 - 2 - 3", 0, 5],
    ["100 / 4 / 5", 0, 5],
    ["-retried + 10", 3, 7],
    ["+5", 0, 5],
    ["2 + 3 * 4", 0, 14],
    ["(2 + 3) * 4", 0, 20],
    ["exp(0)", 0, 1],
    ["sqrt(16) + abs(-2)", 0, 6],
    ["floor(2.7) + ceil(2.1) + round(2.5)", 0, 8],
    ["min(5, retried, 9)", 3, 3],
    ["max(1000, pow(2, retried) * 100)", 5, 3200],
    ["1.5e3", 0, 1500],
    ["  pow( 2 ,retried )*1000 ", 1, 2000],
  ];
  for (const [source, retried, expected] of cases) {
    test(`${source} with retried=${retried} is ${expected}`, () => {
      expect(compileRetryDelay(source)(retried)).toBeCloseTo(expected, 9);
    });
  }

  const invalid: [string, RegExp][] = [
    ["", /empty/],
    ["pow(2", /expected "\)"/],
    ["2 +", /unexpected end/],
    ["eval(1)", /unknown name "eval"/],
    ["constructor", /unknown name/],
    ["__proto__(1)", /unknown name/],
    ["x * 2", /unknown name "x"/],
    ["pow(2)", /pow takes 2 argument/],
    ["sqrt(1, 2)", /sqrt takes 1/],
    ["1; 2", /unexpected ";"/],
    ["2 3", /after a complete expression/],
    ["this.process", /bad number at position 4/],
    ["`1`", /unexpected "`"/],
  ];
  for (const [source, message] of invalid) {
    test(`rejects ${JSON.stringify(source)}`, () => {
      expect(() => compileRetryDelay(source)).toThrow(message);
    });
  }
});

describe("evaluateRetryDelay", () => {
  test("clamps to [0, 1 day] and treats NaN as 0", () => {
    expect(evaluateRetryDelay("0 - 100", 0)).toBe(0);
    expect(evaluateRetryDelay("pow(10, 12)", 0)).toBe(86_400_000);
    expect(evaluateRetryDelay("0 / 0", 0)).toBe(0);
    expect(evaluateRetryDelay("1 / 0", 0)).toBe(86_400_000);
  });
});
