// Every client.providerCredentials call against the real gateway: list, get, create, update (rotate, relabel,
// disable), test, delete — and the secret never comes back in any answer or error.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { KillTokenAPIError } from "../dist/index.js";
import { assertNoSecret, client, env, needsGateway, nonce, rejection } from "./helpers.mjs";

describe("providerCredentials", { skip: needsGateway, timeout: 60_000 }, () => {
  test("list: the workspace's OpenAI credential, with a preview and never the secret", async () => {
    const listed = await client().providerCredentials.list();

    assert.ok(Array.isArray(listed), "list() resolves to the array itself");
    assert.equal(listed.length, 1);
    const [openai] = listed;
    assert.equal(openai.provider, "openai");
    assert.equal(openai.status, "active");
    assert.equal(typeof openai.id, "string");
    assert.equal(typeof openai.keyPreview, "string");
    assert.ok(!JSON.stringify(listed).includes(env.providerKey), "the secret is not in the answer");
  });

  test("create, get, list, test, rotate, disable, delete: a credential's life without its secret ever coming back", async () => {
    const sdk = client();
    const secret = `sk-ant-${nonce("secret")}`;
    const rotatedSecret = `sk-ant-${nonce("rotated")}`;

    const created = await sdk.providerCredentials.create({ provider: "anthropic", apiKey: secret, label: "team key" });
    assert.equal(created.provider, "anthropic");
    assert.equal(created.label, "team key");
    assert.equal(created.status, "active");
    assert.ok(created.id);
    assert.ok(!created.keyPreview.includes(secret));

    const read = await sdk.providerCredentials.get(created.id);
    assert.equal(read.id, created.id);
    assert.equal(read.label, "team key");
    assert.equal(read.keyPreview, created.keyPreview);
    const listed = await sdk.providerCredentials.list();
    assert.deepEqual(listed.map((c) => c.provider).sort(), ["anthropic", "openai"]);

    // The test makes the provider's cheapest call (OpenAI's model list) with the stored key.
    const openai = listed.find((c) => c.provider === "openai");
    const tested = await sdk.providerCredentials.test(openai.id);
    assert.equal(tested.ok, true, tested.message);
    assert.equal(tested.providerStatus, 200);
    assert.equal(typeof tested.latencyMs, "number");

    const rotated = await sdk.providerCredentials.update(created.id, { apiKey: rotatedSecret, label: "rotated" });
    assert.equal(rotated.label, "rotated");
    assert.notEqual(rotated.keyPreview, created.keyPreview, "a new secret, a new preview");
    const disabled = await sdk.providerCredentials.update(created.id, { status: "disabled" });
    assert.equal(disabled.status, "disabled");
    assert.equal(disabled.label, "rotated", "only what was set changed");

    const deleted = await sdk.providerCredentials.delete(created.id);
    assert.equal(deleted, undefined, "delete resolves to nothing");
    const gone = await rejection(sdk.providerCredentials.get(created.id));
    assert.ok(gone instanceof KillTokenAPIError, `got ${gone?.name}`);
    assert.equal(gone.status, 404);
    assert.equal(gone.code, "not_found");
    assert.equal((await sdk.providerCredentials.list()).length, 1);

    const everything = JSON.stringify([created, read, listed, tested, rotated, disabled]);
    for (const value of [secret, rotatedSecret, env.providerKey]) assert.ok(!everything.includes(value), "no answer holds a secret");
  });

  test("a credential with config: openai_compatible's baseUrl and defaultModel read back; the secret does not", async () => {
    const sdk = client();
    const secret = `sk-compat-${nonce("secret")}`;

    const created = await sdk.providerCredentials.create({
      provider: "openai_compatible", apiKey: secret, config: { baseUrl: "https://llm.example.com/v1", defaultModel: "my-model" },
    });

    assert.equal(created.config?.baseUrl, "https://llm.example.com/v1");
    assert.equal(created.config?.defaultModel, "my-model");
    assert.ok(!JSON.stringify(created).includes(secret));
    await sdk.providerCredentials.delete(created.id);
  });

  test("a secrets bundle (aws_bedrock) is stored, and none of its values comes back", async () => {
    const sdk = client();
    const secretAccessKey = `wJalrXUtnFEMI-${nonce("aws")}`;

    const created = await sdk.providerCredentials.create({
      provider: "aws_bedrock", secrets: { accessKeyId: "AKIAIOSFODNN7EXAMPLE", secretAccessKey }, config: { region: "us-east-1" }, label: "bedrock",
    });

    assert.equal(created.provider, "aws_bedrock");
    assert.equal(created.config?.region, "us-east-1");
    assert.ok(!JSON.stringify(created).includes(secretAccessKey));
    assert.ok(!JSON.stringify(await sdk.providerCredentials.list()).includes(secretAccessKey));
    await sdk.providerCredentials.delete(created.id);
  });

  test("a bundle the provider cannot use is 400 invalid_provider_secrets, without the secret in the error", async () => {
    const secret = `AKIA-not-a-bundle-${nonce("aws")}`;

    const error = await rejection(client().providerCredentials.create({ provider: "aws_bedrock", apiKey: secret, config: { region: "us-east-1" } }));

    assert.ok(error instanceof KillTokenAPIError, `got ${error?.name}`);
    assert.equal(error.status, 400);
    assert.equal(error.code, "invalid_provider_secrets");
    assertNoSecret(error, [secret, env.apiKey, env.providerKey]);
  });

  test("writes need credentials:write (403 insufficient_scope); reads do not", async () => {
    const readOnly = client({ apiKey: env.readOnlyKey });
    const [openai] = await readOnly.providerCredentials.list();
    const secret = `sk-${nonce("rotate")}`;

    const refused = await rejection(readOnly.providerCredentials.update(openai.id, { apiKey: secret }));

    assert.ok(refused instanceof KillTokenAPIError, `got ${refused?.name}`);
    assert.equal(refused.status, 403);
    assert.equal(refused.code, "insufficient_scope");
    assertNoSecret(refused, [secret, env.readOnlyKey, env.providerKey]);
    assert.equal((await readOnly.providerCredentials.get(openai.id)).keyPreview, openai.keyPreview, "nothing changed");
  });

  test("an unknown id is 404 not_found for get, update, test and delete", async () => {
    const sdk = client();
    for (const call of [
      () => sdk.providerCredentials.get("cred_unknown"),
      () => sdk.providerCredentials.update("cred_unknown", { label: "x" }),
      () => sdk.providerCredentials.test("cred_unknown"),
      () => sdk.providerCredentials.delete("cred_unknown"),
    ]) {
      const error = await rejection(call());
      assert.ok(error instanceof KillTokenAPIError, `got ${error?.name}`);
      assert.equal(error.status, 404);
      assert.equal(error.code, "not_found");
    }
  });
});
