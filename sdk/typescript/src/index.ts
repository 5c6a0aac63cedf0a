/**
 * @neureus/sdk — the TypeScript client of the Neureus AI gateway.
 *
 * No runtime dependencies: `fetch`, web streams and `AbortSignal` (Node ≥ 18, Deno, Bun,
 * browsers). Retries 429 and 5xx with backoff that honours `Retry-After`.
 */

export type Role = 'system' | 'user' | 'assistant' | 'tool';

export type ContentPart = { type: 'text'; text: string } | { type: 'image'; url: string };

export interface ToolCall {
  id: string;
  name: string;
  /** Parsed JSON arguments (the raw string when the model produced invalid JSON). */
  arguments: unknown;
}

export interface ChatMessage {
  role: Role;
  content: string | ContentPart[] | null;
  toolCalls?: ToolCall[];
  toolCallId?: string;
  name?: string;
}

export interface Tool {
  name: string;
  description?: string;
  parameters?: Record<string, unknown>;
}

export interface ChatRequest {
  messages: ChatMessage[];
  /** A model id from `models()`, or `auto` (the default). */
  model?: string;
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  stop?: string | string[];
  tools?: Tool[];
  toolChoice?: 'auto' | 'none' | 'required' | { name: string };
  reasoning?: { effort?: 'low' | 'medium' | 'high'; budgetTokens?: number };
  metadata?: Record<string, unknown>;
}

export interface Routing {
  category: string;
  model: string;
  reason: string;
  skipped?: { model: string; reason: string }[];
  pinned?: boolean;
}

export interface ChatResponse {
  logId: string;
  model: string;
  provider: string;
  content: string;
  toolCalls: ToolCall[];
  reasoning: string | null;
  finishReason: 'stop' | 'length' | 'tool_calls' | 'content_filter';
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens?: number;
  costUsd: number;
  latencyMs: number;
  routing?: Routing;
  preprocessing?: unknown;
}

export interface ToolCallDelta {
  index: number;
  id?: string;
  name?: string;
  arguments: string;
}

/** One streamed chunk before the end. */
export interface StreamDelta {
  delta: { content?: string; reasoning?: string; toolCalls?: ToolCallDelta[] };
  done: false;
}

/** The final stream event: totals, cost, and the error if the stream failed midway. */
export interface StreamFinal {
  done: true;
  logId: string;
  model: string;
  provider: string;
  finishReason: ChatResponse['finishReason'] | null;
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens?: number;
  costUsd: number;
  latencyMs: number;
  error?: { type: string; message: string };
  routing?: Routing;
  preprocessing?: unknown;
}

export type StreamEvent = StreamDelta | StreamFinal;

export type ProviderName = 'openai' | 'anthropic' | 'workers-ai';

export interface ProviderStatus {
  provider: ProviderName;
  source: 'tenant' | 'global' | 'none';
  version?: number;
  last4?: string;
  accountId?: string;
  updatedAt?: string;
}

export interface RequestOptions {
  signal?: AbortSignal;
  /** Extra headers, e.g. `x-neureus-options`. */
  headers?: Record<string, string>;
}

export interface NeureusOptions {
  /** Tenant API key (`nru_…`); default `NEUREUS_API_KEY`. */
  apiKey?: string;
  /** Default `NEUREUS_BASE_URL`, then `http://127.0.0.1:8787`. */
  baseUrl?: string;
  /** Retries of 429 / 5xx / network errors (default 2). */
  maxRetries?: number;
  /** Per-attempt timeout for non-streaming calls and stream start, ms (default 600000). */
  timeoutMs?: number;
  /** A `fetch` to use instead of the global one. */
  fetch?: typeof fetch;
}

/** An error from the gateway (or the network), typed like the gateway's error body. */
export class NeureusError extends Error {
  readonly status: number;
  readonly type: string;
  readonly requestId: string | undefined;
  readonly retryAfter: number | undefined;

  constructor(message: string, status: number, type: string, requestId?: string, retryAfter?: number) {
    super(message);
    this.name = 'NeureusError';
    this.status = status;
    this.type = type;
    this.requestId = requestId;
    this.retryAfter = retryAfter;
  }
}

function env(name: string): string | undefined {
  const p = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
  const v = p?.env?.[name];
  return v === '' ? undefined : v;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(signal.reason);
    }, { once: true });
  });
}

function retryable(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

function retryAfterMs(h: Headers): number | undefined {
  const v = h.get('retry-after');
  if (!v) return undefined;
  const secs = Number(v);
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
  const date = Date.parse(v);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

async function errorFrom(resp: Response): Promise<NeureusError> {
  let type = 'internal_error';
  let message = `HTTP ${resp.status}`;
  let requestId = resp.headers.get('x-request-id') ?? undefined;
  try {
    const body = (await resp.json()) as { error?: { type?: string; message?: string; requestId?: string } };
    type = body.error?.type ?? type;
    message = body.error?.message ?? message;
    requestId = body.error?.requestId ?? requestId;
  } catch {
    // Not JSON: keep the status line.
  }
  const ra = retryAfterMs(resp.headers);
  return new NeureusError(message, resp.status, type, requestId, ra === undefined ? undefined : ra / 1000);
}

/** Parses `text/event-stream` bytes into `data:` payloads. */
async function* sseData(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  let data: string[] = [];
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let nl: number;
      while ((nl = buf.search(/\r\n|\n|\r/)) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + (buf.startsWith('\r\n', nl) ? 2 : 1));
        if (line === '') {
          if (data.length) yield data.join('\n');
          data = [];
        } else if (line.startsWith('data:')) {
          data.push(line.slice(5).replace(/^ /, ''));
        }
      }
    }
    if (buf.startsWith('data:')) data.push(buf.slice(5).replace(/^ /, ''));
    if (data.length) yield data.join('\n');
  } finally {
    reader.releaseLock();
  }
}

/**
 * A live answer. Iterate it for text tokens; `events()` yields every chunk (reasoning and
 * tool-call deltas included); `final` resolves with the closing event (log id, tokens,
 * cost). An error after the stream started rejects the iteration with a `NeureusError`.
 */
export class ChatStream implements AsyncIterable<string> {
  readonly final: Promise<StreamFinal>;
  readonly logId: string | undefined;
  private consumed = false;
  private resolveFinal!: (f: StreamFinal) => void;
  private rejectFinal!: (e: unknown) => void;

  constructor(private readonly body: ReadableStream<Uint8Array>, logId: string | undefined, private readonly requestId?: string) {
    this.logId = logId;
    this.final = new Promise((resolve, reject) => {
      this.resolveFinal = resolve;
      this.rejectFinal = reject;
    });
    // Callers that only await `final` must not see an unhandled rejection.
    this.final.catch(() => undefined);
  }

  /** Every chunk, in order, ending with the final event. */
  async *events(): AsyncGenerator<StreamEvent> {
    if (this.consumed) throw new Error('this stream has already been consumed');
    this.consumed = true;
    let final: StreamFinal | undefined;
    try {
      for await (const data of sseData(this.body)) {
        const ev = JSON.parse(data) as StreamEvent;
        if (ev.done) final = ev;
        yield ev;
      }
    } catch (e) {
      this.rejectFinal(e);
      throw e;
    }
    if (!final) {
      const err = new NeureusError('the stream ended without its final event', 502, 'provider_error', this.requestId);
      this.rejectFinal(err);
      throw err;
    }
    this.resolveFinal(final);
  }

  /** Reasoning text as it arrives. */
  async *reasoning(): AsyncGenerator<string> {
    for await (const ev of this.events()) {
      if (!ev.done && ev.delta.reasoning) yield ev.delta.reasoning;
    }
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<string> {
    for await (const ev of this.events()) {
      if (ev.done) {
        if (ev.error) throw new NeureusError(ev.error.message, 200, ev.error.type, this.requestId);
      } else if (ev.delta.content) {
        yield ev.delta.content;
      }
    }
  }
}

class Ai {
  constructor(private readonly c: Neureus) {}

  /** A whole answer. */
  chat(req: ChatRequest, opts: RequestOptions = {}): Promise<ChatResponse> {
    return this.c.request<ChatResponse>('POST', '/ai/chat', { model: 'auto', ...req, stream: false }, opts);
  }

  /** A live answer: resolves once the gateway has accepted the request and the first chunk is on its way. */
  async stream(req: ChatRequest, opts: RequestOptions = {}): Promise<ChatStream> {
    const resp = await this.c.send('POST', '/ai/chat', { model: 'auto', ...req, stream: true }, opts, true);
    if (!resp.body) throw new NeureusError('empty stream body', 502, 'provider_error');
    return new ChatStream(resp.body, resp.headers.get('x-neureus-log-id') ?? undefined, resp.headers.get('x-request-id') ?? undefined);
  }

  /** Stores this tenant's own key for a provider (Workers AI also takes `accountId`). */
  setProviderKey(provider: ProviderName, key: string, opts: RequestOptions & { accountId?: string } = {}): Promise<ProviderStatus> {
    return this.c.request('PUT', `/ai/providers/${encodeURIComponent(provider)}/key`, { key, accountId: opts.accountId }, opts);
  }

  /** Replaces it; the next request uses the new key. */
  rotateProviderKey(provider: ProviderName, key: string, opts: RequestOptions & { accountId?: string } = {}): Promise<ProviderStatus> {
    return this.c.request('POST', `/ai/providers/${encodeURIComponent(provider)}/key/rotate`, { key, accountId: opts.accountId }, opts);
  }

  /** Back to the operator's key. */
  deleteProviderKey(provider: ProviderName, opts: RequestOptions = {}): Promise<ProviderStatus> {
    return this.c.request('DELETE', `/ai/providers/${encodeURIComponent(provider)}/key`, undefined, opts);
  }

  /** Where each provider's credentials come from. */
  listProviders(opts: RequestOptions = {}): Promise<{ providers: ProviderStatus[] }> {
    return this.c.request('GET', '/ai/providers', undefined, opts);
  }

  /** The model catalog and what this tenant can use. */
  models(opts: RequestOptions = {}): Promise<{ models: Record<string, unknown>[] }> {
    return this.c.request('GET', '/ai/models', undefined, opts);
  }

  /** This tenant's request logs, newest first. */
  logs(params: { limit?: number; before?: string; model?: string; provider?: string; status?: number; from?: string; to?: string } = {}, opts: RequestOptions = {}): Promise<{ logs: Record<string, unknown>[]; nextCursor: string | null }> {
    return this.c.request('GET', `/ai/logs${query(params)}`, undefined, opts);
  }

  /** One log record. */
  log(logId: string, opts: RequestOptions = {}): Promise<Record<string, unknown>> {
    return this.c.request('GET', `/ai/logs/${encodeURIComponent(logId)}`, undefined, opts);
  }

  /** Tokens, requests and cost, grouped. */
  usage(params: { from?: string; to?: string; groupBy?: 'model' | 'provider' | 'day' | 'apiKey' } = {}, opts: RequestOptions = {}): Promise<Record<string, unknown>> {
    return this.c.request('GET', `/ai/usage${query(params)}`, undefined, opts);
  }
}

function query(params: Record<string, string | number | undefined>): string {
  const q = Object.entries(params).filter(([, v]) => v !== undefined).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  return q.length ? `?${q.join('&')}` : '';
}

/** The client. */
export class Neureus {
  readonly ai: Ai;
  readonly baseUrl: string;
  private readonly apiKey: string;
  private readonly maxRetries: number;
  private readonly timeoutMs: number;
  private readonly fetchImpl: typeof fetch;

  constructor(opts: NeureusOptions = {}) {
    const apiKey = opts.apiKey ?? env('NEUREUS_API_KEY');
    if (!apiKey) throw new NeureusError('an API key is required: pass apiKey or set NEUREUS_API_KEY', 401, 'authentication_error');
    this.apiKey = apiKey;
    this.baseUrl = (opts.baseUrl ?? env('NEUREUS_BASE_URL') ?? 'http://127.0.0.1:8787').replace(/\/+$/, '');
    this.maxRetries = opts.maxRetries ?? 2;
    this.timeoutMs = opts.timeoutMs ?? 600_000;
    this.fetchImpl = opts.fetch ?? globalThis.fetch.bind(globalThis);
    this.ai = new Ai(this);
  }

  /** @internal */
  async request<T>(method: string, path: string, body: unknown, opts: RequestOptions): Promise<T> {
    const resp = await this.send(method, path, body, opts, false);
    return (await resp.json()) as T;
  }

  /** @internal Sends with retries; returns a 2xx response or throws `NeureusError`. */
  async send(method: string, path: string, body: unknown, opts: RequestOptions, streaming: boolean): Promise<Response> {
    let attempt = 0;
    for (;;) {
      const timeout = AbortSignal.timeout(this.timeoutMs);
      const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
      let resp: Response;
      try {
        resp = await this.fetchImpl(`${this.baseUrl}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${this.apiKey}`,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
            ...(streaming ? { accept: 'text/event-stream' } : {}),
            ...opts.headers,
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: streaming ? opts.signal : signal,
        });
      } catch (e) {
        if (opts.signal?.aborted) throw e;
        if (attempt >= this.maxRetries) {
          throw new NeureusError(`cannot reach the gateway at ${this.baseUrl}: ${(e as Error).message}`, 0, 'connection_error');
        }
        await sleep(this.backoff(attempt++), opts.signal);
        continue;
      }
      if (resp.ok) return resp;
      const err = await errorFrom(resp);
      if (!retryable(resp.status) || attempt >= this.maxRetries) throw err;
      const wait = err.retryAfter !== undefined && err.retryAfter <= 120 ? err.retryAfter * 1000 : this.backoff(attempt);
      attempt++;
      await sleep(wait, opts.signal);
    }
  }

  private backoff(attempt: number): number {
    const base = Math.min(8000, 500 * 2 ** attempt);
    return base * (0.75 + Math.random() * 0.25);
  }
}

export default Neureus;
