// The quick start exactly as the SDK's documentation shows it. scripts/sdk-test runs it
// against `neureus serve --demo` with NEUREUS_API_KEY and NEUREUS_BASE_URL set.
import { Neureus } from '@neureus/sdk';
const client = new Neureus({ apiKey: process.env.NEUREUS_API_KEY! });
const response = await client.ai.chat({
  messages: [{ role: 'user', content: 'Summarize the GDPR in one paragraph.' }],
  model: 'claude-sonnet-4-6',
});
console.log(response.content); // also .toolCalls, .reasoning, .inputTokens, .outputTokens, .costUsd
const stream = await client.ai.stream({ messages: [{ role: 'user', content: 'Write a haiku.' }], model: 'gpt-4o-mini' });
for await (const token of stream) process.stdout.write(token);
await client.ai.setProviderKey('openai', 'sk-your-openai-key');
await client.ai.rotateProviderKey('openai', 'sk-your-new-key');
const { providers } = await client.ai.listProviders();
console.log('\n' + JSON.stringify(providers));
