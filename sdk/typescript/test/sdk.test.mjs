// @neureus/sdk against a real gateway (`neureus serve --demo`), started by scripts/sdk-test,
// which exports NEUREUS_BASE_URL and NEUREUS_API_KEY. Retries and aborts use a local stub.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { Neureus, NeureusError } from '../dist/index.js';

const client = new Neureus();

test('chat returns the contract fields', async () => {
  const r = await client.ai.chat({ messages: [{ role: 'user', content: 'Summarize the GDPR in one paragraph.' }], model: 'claude-sonnet-4-6' });
  assert.match(r.content, /GDPR/);
  assert.equal(r.model, 'claude-sonnet-4-6');
  assert.equal(r.provider, 'anthropic');
  assert.deepEqual(r.toolCalls, []);
  assert.ok(r.inputTokens > 0 && r.outputTokens > 0 && r.costUsd > 0);
  assert.match(r.logId, /^log_/);
});

test('stream yields tokens, then exposes the final event', async () => {
  const stream = await client.ai.stream({ messages: [{ role: 'user', content: 'Write a haiku.' }], model: 'gpt-4o-mini' });
  let text = '';
  let n = 0;
  for await (const token of stream) {
    text += token;
    n++;
  }
  assert.ok(n > 3, `expected several tokens, got ${n}`);
  assert.match(text, /haiku/);
  const final = await stream.final;
  assert.equal(final.done, true);
  assert.equal(final.model, 'gpt-4o-mini');
  assert.ok(final.outputTokens > 0);
  assert.equal(final.logId, stream.logId);
});

test('reasoning and tool-call deltas are available through events()', async () => {
  const s = await client.ai.stream({ messages: [{ role: 'user', content: 'Why is the sky blue?' }], model: 'deepseek/r1-32b' });
  let reasoning = '';
  let content = '';
  for await (const ev of s.events()) {
    if (!ev.done) {
      reasoning += ev.delta.reasoning ?? '';
      content += ev.delta.content ?? '';
    }
  }
  assert.ok(reasoning.length > 0, 'reasoning deltas');
  assert.ok(content.length > 0, 'content deltas');

  const t = await client.ai.stream({
    messages: [{ role: 'user', content: 'Weather in Oslo?' }],
    model: 'gpt-4o',
    tools: [{ name: 'get_weather', parameters: { type: 'object', properties: { query: { type: 'string' } } } }],
  });
  let args = '';
  let name;
  for await (const ev of t.events()) {
    for (const d of (ev.done ? [] : ev.delta.toolCalls ?? [])) {
      name ??= d.name;
      args += d.arguments;
    }
  }
  assert.equal(name, 'get_weather');
  assert.deepEqual(JSON.parse(args), { query: 'Weather in Oslo?' });
  assert.equal((await t.final).finishReason, 'tool_calls');
});

test('provider keys: set, rotate, list, delete — never returned in full', async () => {
  const set = await client.ai.setProviderKey('openai', 'sk-your-openai-key');
  assert.equal(set.source, 'tenant');
  assert.equal(set.last4, '-key');
  const rotated = await client.ai.rotateProviderKey('openai', 'sk-your-new-key');
  assert.equal(rotated.version, set.version + 1);
  const { providers } = await client.ai.listProviders();
  const openai = providers.find((p) => p.provider === 'openai');
  assert.equal(openai.source, 'tenant');
  assert.ok(!JSON.stringify(providers).includes('sk-your-new-key'));
  const r = await client.ai.chat({ messages: [{ role: 'user', content: 'hi' }], model: 'gpt-4o-mini' });
  assert.match(r.content, /hi/);
  const deleted = await client.ai.deleteProviderKey('openai');
  assert.notEqual(deleted.source, 'tenant');
  await assert.rejects(client.ai.setProviderKey('azure', 'x'), (e) => e instanceof NeureusError && e.status === 404);
});

test('models, logs and usage', async () => {
  const { models } = await client.ai.models();
  assert.equal(models.length, 12);
  const r = await client.ai.chat({ messages: [{ role: 'user', content: 'log me' }], model: 'meta/llama-3.3-70b' });
  let rec;
  for (let i = 0; i < 40 && !rec; i++) {
    try {
      rec = await client.ai.log(r.logId);
    } catch (e) {
      await new Promise((res) => setTimeout(res, 50));
    }
  }
  assert.equal(rec.logId, r.logId);
  const { logs } = await client.ai.logs({ limit: 5 });
  assert.ok(logs.length > 0 && logs.length <= 5);
  const usage = await client.ai.usage({ groupBy: 'provider' });
  assert.ok(usage.totals.requests > 0);
});

test('typed errors carry status, type and request id', async () => {
  await assert.rejects(client.ai.chat({ messages: [{ role: 'user', content: 'x' }], model: 'no-such-model' }), (e) => {
    assert.ok(e instanceof NeureusError);
    assert.equal(e.status, 400);
    assert.equal(e.type, 'invalid_request_error');
    assert.match(e.requestId, /^req_/);
    return true;
  });
  const bad = new Neureus({ apiKey: 'nru_AAAAAAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB' });
  await assert.rejects(bad.ai.models(), (e) => e.status === 401 && e.type === 'authentication_error');
  assert.throws(() => new Neureus({ apiKey: '', baseUrl: 'http://x' }), NeureusError);
});

function stub(handler) {
  return new Promise((resolve) => {
    const server = http.createServer(handler);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

test('retries 429 and 5xx, honouring Retry-After', async () => {
  let calls = 0;
  const server = await stub((req, res) => {
    calls++;
    if (calls === 1) {
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '1' });
      return res.end(JSON.stringify({ error: { type: 'rate_limit_error', message: 'slow down' } }));
    }
    if (calls === 2) {
      res.writeHead(503, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ error: { type: 'provider_unavailable', message: 'later' } }));
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ models: [] }));
  });
  const c = new Neureus({ apiKey: 'nru_x', baseUrl: `http://127.0.0.1:${server.address().port}`, maxRetries: 2 });
  const t0 = Date.now();
  const r = await c.ai.models();
  assert.deepEqual(r.models, []);
  assert.equal(calls, 3);
  assert.ok(Date.now() - t0 >= 1000, 'waited for Retry-After');
  calls = 0;
  const noRetry = new Neureus({ apiKey: 'nru_x', baseUrl: `http://127.0.0.1:${server.address().port}`, maxRetries: 0 });
  await assert.rejects(noRetry.ai.models(), (e) => e.status === 429 && e.retryAfter === 1);
  server.close();
});

test('AbortSignal cancels a call', async () => {
  const server = await stub(() => { /* never answers */ });
  const c = new Neureus({ apiKey: 'nru_x', baseUrl: `http://127.0.0.1:${server.address().port}` });
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 100);
  await assert.rejects(c.ai.chat({ messages: [{ role: 'user', content: 'x' }] }, { signal: ac.signal }), (e) => e.name === 'AbortError');
  server.closeAllConnections();
  server.close();
});
