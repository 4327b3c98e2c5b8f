// broker.yaml validation for the keys the broker's fault and token checks read (src/broker/config.ts).
import assert from "node:assert/strict";
import { test } from "node:test";
import { validateBrokerConfig } from "../../src/broker/config.ts";

const base = (identity: Record<string, unknown> = {}) => ({
  identity: { issuer: "https://idp.example.com", client_id: "jit-cli", ...identity },
  policy: "/etc/jit/policy.yaml",
  store: { sqlite: "/var/lib/jit/jit.db" },
  warehouse: { demo: true },
  masking: { hash_key_file: "/etc/jit/hash.key" },
});

test("identity.max_token_age defaults to 24h and takes a duration", async () => {
  assert.equal((await validateBrokerConfig(base(), "/etc/jit/broker.yaml")).config?.identity.maxTokenAgeS, 86_400);
  assert.equal((await validateBrokerConfig(base({ max_token_age: "12h" }), "/etc/jit/broker.yaml")).config?.identity.maxTokenAgeS, 43_200);
});

test("identity.max_token_age that is not a duration from 1m to 30d is reported at its path", async () => {
  for (const bad of ["forever", 3600, "30s", "31d", ""]) {
    const { config, errors } = await validateBrokerConfig(base({ max_token_age: bad }), "/etc/jit/broker.yaml");
    assert.equal(config, undefined, String(bad));
    assert.deepEqual(errors.map((e) => e.path), ["identity.max_token_age"], String(bad));
    assert.match(errors[0]!.message, /duration from 1m to 30d/);
  }
});
