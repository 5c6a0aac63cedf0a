// The official `openai` npm package, unchanged, against the gateway's /v1 surface.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const client = new OpenAI({ apiKey: process.env.NEUREUS_API_KEY, baseURL: `${process.env.NEUREUS_BASE_URL}/v1` });

test('chat.completions.create', async () => {
  const r = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello' }] });
  assert.match(r.choices[0].message.content, /Say hello/);
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.ok(r.usage.total_tokens > 0);
});

test('streaming with include_usage', async () => {
  const stream = await client.chat.completions.create({
    model: 'claude-haiku-4-5', stream: true, stream_options: { include_usage: true },
    messages: [{ role: 'user', content: 'Write a haiku' }],
  });
  let text = '';
  let usage;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? '';
    if (chunk.usage) usage = chunk.usage;
  }
  assert.match(text, /haiku/);
  assert.ok(usage.completion_tokens > 0);
});

test('tools, streamed and not', async () => {
  const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { query: { type: 'string' } } } } }];
  const r = await client.chat.completions.create({ model: 'meta/llama-3.3-70b', messages: [{ role: 'user', content: 'Weather in Oslo?' }], tools });
  const call = r.choices[0].message.tool_calls[0];
  assert.equal(call.function.name, 'get_weather');
  assert.deepEqual(JSON.parse(call.function.arguments), { query: 'Weather in Oslo?' });
  const stream = await client.chat.completions.create({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'Weather in Rome?' }], tools });
  let args = '';
  for await (const chunk of stream) args += chunk.choices[0]?.delta?.tool_calls?.[0]?.function?.arguments ?? '';
  assert.deepEqual(JSON.parse(args), { query: 'Weather in Rome?' });
});

test('models.list', async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.ok(ids.includes('auto') && ids.includes('gpt-4o'));
});
