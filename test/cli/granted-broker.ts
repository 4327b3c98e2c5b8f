/** A dev broker for CLI tests, with alice signed in and holding a grant on demo.sales (auto-approved by the demo policy). */
import assert from "node:assert/strict";
import { after, before } from "node:test";
import { type DevBrokerProcess, runJit, startBroker } from "../e2e/harness.ts";

/** Starts the broker before the suite's tests and stops it after; `env()` is alice's environment. */
export function aliceWithGrant(reason: string): { broker(): DevBrokerProcess; env(): NodeJS.ProcessEnv } {
  let broker: DevBrokerProcess | undefined;
  before(async () => {
    broker = await startBroker();
    assert.equal((await broker.login("alice")).code, 0);
    assert.equal((await runJit(["request", "demo.sales", "--reason", reason], broker.env("alice"))).code, 0);
  });
  after(() => broker?.stop());
  return { broker: () => broker!, env: () => broker!.env("alice") };
}
