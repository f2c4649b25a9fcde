// brisk driven by the official `openai` npm client, as a real application would drive it:
// models.list, chat and text completions (plain, streamed, token-id prompts), the error classes
// the client maps our 4xx answers to, bearer keys, embeddings (the client's default base64 and
// floats) and a response-cache hit read through withResponse(). Starts `brisk serve` on an ephemeral port
// and stops it (SIGTERM, then SIGKILL) whatever happens.
// Usage: node openai_client_test.mjs BRISK_BINARY SOURCE_DIR. One line per check, a summary,
// exit status 1 on any failure.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const [binary, src] = process.argv.slice(2);
if (!binary || !src) {
  console.error('usage: node openai_client_test.mjs BRISK_BINARY SOURCE_DIR');
  process.exit(2);
}
// The client is installed for the tokenizer oracle (scripts/install-deps.sh).
const requireFromOracle = createRequire(path.resolve(src, 'tools', 'oracle', 'package.json'));
const openaiModule = requireFromOracle('openai');
const OpenAI = openaiModule.OpenAI ?? openaiModule.default ?? openaiModule;

const MODEL = 'brisk-tiny';
const EMBED = 'brisk-tiny-embed';
let passed = 0;
const failed = [];
function check(name, ok, detail = '') {
  if (ok) {
    passed += 1;
    console.log(`PASS  ${name}`);
  } else {
    failed.push(name);
    console.log(`FAIL  ${name}${detail ? `: ${detail}` : ''}`);
  }
}

const live = new Set();  // servers to kill if the process exits early
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

// Starts `brisk serve` with extra args; resolves to {child, port, stop()} once /ready is 200.
async function startServer(extraArgs = [], readyHeaders = {}) {
  // One model thread: checks of behaviour, robust on a busy 2-core machine.
  const args = ['serve', '--host', '127.0.0.1', '--port', '0', '--threads', '1', '--model',
                path.join(src, 'models', MODEL), ...extraArgs];
  const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  live.add(child);
  const tail = [];
  const exited = new Promise((resolve) => child.on('exit', (code, sig) => resolve(code ?? sig)));
  const server = {
    child,
    port: 0,
    tail: () => tail.slice(-20).join('\n'),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
        const code = await exited;
        clearTimeout(timer);
        live.delete(child);
        return code;
      }
      live.delete(child);
      return child.exitCode ?? child.signalCode;
    },
  };
  try {
    server.port = await new Promise((resolve, reject) => {
      let buf = '';
      const timer = setTimeout(() => reject(new Error('no port line within 60 s')), 60000);
      child.stderr.on('data', (data) => {
        buf += data.toString();
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          tail.push(line);
          if (tail.length > 200) tail.shift();
          const m = line.match(/brisk: listening on http:\/\/127\.0\.0\.1:(\d+)/);
          if (m) {
            clearTimeout(timer);
            resolve(Number(m[1]));
          }
        }
      });
      exited.then((code) => reject(new Error(`server exited (${code}) before listening`)));
    });
    const deadline = Date.now() + 60000;
    for (;;) {
      try {
        const r = await fetch(`http://127.0.0.1:${server.port}/ready`, { headers: readyHeaders });
        if (r.status === 200) break;
      } catch {
        // not accepting yet
      }
      if (Date.now() > deadline) throw new Error('server not ready within 60 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    return server;
  } catch (e) {
    await server.stop();
    throw new Error(`${e.message}\n${server.tail()}`);
  }
}

function client(port, apiKey = 'unused') {
  return new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey, maxRetries: 0,
                      timeout: 60000 });
}

async function expectThrow(name, fn, ErrorClass, status) {
  try {
    await fn();
    check(name, false, 'no error thrown');
  } catch (e) {
    check(name, e instanceof ErrorClass && e.status === status,
          `${e?.constructor?.name} status ${e?.status}: ${e?.message}`);
  }
}

async function step(name, fn) {
  try {
    await fn();
  } catch (e) {
    check(`${name} ran to the end`, false, e?.stack ?? String(e));
  }
}

async function mainServerChecks(port) {
  const c = client(port);
  await step('models', async () => {
    const ids = [];
    for await (const m of c.models.list()) ids.push(m.id);
    check('models.list() returns brisk-tiny', ids.length === 1 && ids[0] === MODEL,
          JSON.stringify(ids));
  });

  const messages = [{ role: 'user', content: 'Tell me about the sea.' }];
  let plain;
  await step('chat', async () => {
    plain = await c.chat.completions.create({ model: MODEL, messages, max_tokens: 24,
                                              temperature: 0 });
    const choice = plain.choices[0];
    check('chat.completions.create: content is a non-empty string',
          typeof choice.message.content === 'string' && choice.message.content.length > 0,
          JSON.stringify(plain).slice(0, 300));
    check('chat.completions.create: role assistant, finish_reason stop|length',
          choice.message.role === 'assistant' && ['stop', 'length'].includes(choice.finish_reason),
          JSON.stringify(choice));
    check('chat.completions.create: usage with cached_tokens',
          plain.usage.prompt_tokens > 0 && plain.usage.completion_tokens > 0 &&
          plain.usage.total_tokens === plain.usage.prompt_tokens + plain.usage.completion_tokens &&
          Number.isInteger(plain.usage.prompt_tokens_details?.cached_tokens),
          JSON.stringify(plain.usage));
    check('chat.completions.create: object and model', plain.object === 'chat.completion' &&
          plain.model === MODEL && typeof plain.id === 'string', plain.object);
  });

  await step('chat stream', async () => {
    const stream = await c.chat.completions.create({
      model: MODEL, messages, max_tokens: 24, temperature: 0, stream: true,
      stream_options: { include_usage: true } });
    let text = '';
    let finish = null;
    let usage = null;
    let count = 0;
    for await (const chunk of stream) {
      count += 1;
      if (chunk.usage) usage = chunk.usage;
      for (const ch of chunk.choices) {
        text += ch.delta?.content ?? '';
        if (ch.finish_reason) finish = ch.finish_reason;
      }
    }
    check('streamed chat: several chunks', count > 2, String(count));
    check('streamed chat text == non-streamed', plain && text === plain.choices[0].message.content,
          `${JSON.stringify(text)} vs ${JSON.stringify(plain?.choices[0].message.content)}`);
    check('streamed chat finish_reason == non-streamed',
          plain && finish === plain.choices[0].finish_reason, String(finish));
    check('streamed chat usage (include_usage) == non-streamed, with cached_tokens',
          plain && usage && usage.prompt_tokens === plain.usage.prompt_tokens &&
          usage.completion_tokens === plain.usage.completion_tokens &&
          Number.isInteger(usage.prompt_tokens_details?.cached_tokens),
          JSON.stringify(usage));
  });

  await step('completions', async () => {
    const prompt = [];
    for (let i = 0; i < 40; i++) prompt.push(100 + ((i * 37) % 8000));
    const r = await c.completions.create({ model: MODEL, prompt, max_tokens: 12,
                                           temperature: 0, ignore_eos: true });
    check('completions.create with token ids: text and usage',
          typeof r.choices[0].text === 'string' && r.usage.prompt_tokens === 40 &&
          r.usage.completion_tokens === 12 && r.choices[0].finish_reason === 'length' &&
          r.object === 'text_completion', JSON.stringify(r).slice(0, 300));
    const again = await c.completions.create({ model: MODEL, prompt, max_tokens: 12,
                                               temperature: 0, ignore_eos: true });
    check('completions.create again: same text, a prefix hit',
          again.choices[0].text === r.choices[0].text &&
          again.usage.prompt_tokens_details?.cached_tokens > 0,
          JSON.stringify(again.usage));
    const stream = await c.completions.create({ model: MODEL, prompt, max_tokens: 12,
                                                temperature: 0, ignore_eos: true, stream: true });
    let text = '';
    for await (const chunk of stream) for (const ch of chunk.choices) text += ch.text ?? '';
    check('streamed completion text == non-streamed', text === r.choices[0].text,
          JSON.stringify(text));
  });

  await step('client abort', async () => {
    const aborted = async () => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const m = text.match(/^brisk_requests_total\{[^}]*finish_reason="abort"[^}]*\} (\S+)$/m);
      return m ? Number(m[1]) : 0;
    };
    const abortedBefore = await aborted();
    const stream = await c.completions.create({ model: MODEL, prompt: 'A long tale:',
                                                max_tokens: 1500, ignore_eos: true,
                                                stream: true });
    let n = 0;
    for await (const chunk of stream) {
      if (chunk.choices.length && ++n >= 3) break;  // leaving the loop aborts the request
    }
    const gauge = (text, name) => {
      const m = text.match(new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`, 'm'));
      return m ? Number(m[2]) : NaN;
    };
    let used = NaN;
    let running = NaN;
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      used = gauge(text, 'brisk_kv_blocks_used');
      running = gauge(text, 'brisk_num_requests_running');
      if (used === 0 && running === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    check('breaking out of a stream frees its KV blocks within 5 s', used === 0 && running === 0,
          `kv_blocks_used ${used}, running ${running}`);
    const abortedAfter = await aborted();
    check('breaking out of a stream counts as an abort in /metrics', abortedAfter > abortedBefore,
          `${abortedBefore} -> ${abortedAfter}`);
  });

  await step('errors', async () => {
    await expectThrow('unknown model throws NotFoundError (404)',
                      () => c.chat.completions.create({ model: 'no-such-model', messages }),
                      OpenAI.NotFoundError, 404);
    await expectThrow('temperature 5 throws BadRequestError (400)',
                      () => c.chat.completions.create({ model: MODEL, messages, temperature: 5 }),
                      OpenAI.BadRequestError, 400);
    try {
      await c.completions.create({ model: MODEL, prompt: 'hi', max_tokens: 0 });
      check('max_tokens 0: the error carries param', false, 'no error thrown');
    } catch (e) {
      check('max_tokens 0: BadRequestError with param max_tokens',
            e instanceof OpenAI.BadRequestError && e.param === 'max_tokens' &&
            e.type === 'invalid_request_error', `${e?.param} ${e?.type} ${e?.message}`);
    }
  });
}

async function apiKeyChecks() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'brisk-e2e-'));
  const keyFile = path.join(dir, 'keys.txt');
  fs.writeFileSync(keyFile, 'sk-test-key-123 acme\n');
  let server;
  try {
    server = await startServer(['--api-keys', keyFile, '--disable-response-cache',
                                '--no-embedding-model'],
                               { Authorization: 'Bearer sk-test-key-123' });
    const good = client(server.port, 'sk-test-key-123');
    const ids = [];
    for await (const m of good.models.list()) ids.push(m.id);
    check('api key: models.list() with the right apiKey', ids[0] === MODEL, JSON.stringify(ids));
    const r = await good.chat.completions.create({
      model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 });
    check('api key: chat completion with the right apiKey', r.choices.length === 1);
    await expectThrow('api key: a wrong apiKey throws AuthenticationError (401)',
                      () => client(server.port, 'sk-wrong-key-000').models.list(),
                      OpenAI.AuthenticationError, 401);
    check('api key server exits 0 on SIGTERM', (await server.stop()) === 0);
  } finally {
    if (server) await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// Embeddings and the response cache, on a server with both (the defaults).
async function embeddingAndCacheChecks() {
  const server = await startServer();
  try {
    const c = client(server.port);
    const input = ['In the beginning God created the heaven and the earth.', 'Grace to you.'];
    const viaBase64 = await c.embeddings.create({ model: EMBED, input });  // client default
    const viaFloat = await c.embeddings.create({ model: EMBED, input, encoding_format: 'float' });
    const a = viaBase64.data[0].embedding;
    const b = viaFloat.data[0].embedding;
    check('embeddings.create: two vectors, decoded from base64 by the client',
          viaBase64.data.length === 2 && Array.isArray(a) && a.length > 0 &&
          viaBase64.model === EMBED, JSON.stringify(viaBase64).slice(0, 200));
    check('embeddings.create: base64 and float give the same numbers',
          a.length === b.length && a.every((x, i) => Math.abs(x - b[i]) < 1e-6));
    check('embeddings.create: usage', viaFloat.usage.prompt_tokens > 0 &&
          viaFloat.usage.total_tokens === viaFloat.usage.prompt_tokens,
          JSON.stringify(viaFloat.usage));
    const body = { model: MODEL, messages: [{ role: 'user', content: 'Cache me.' }],
                   max_tokens: 8, temperature: 0 };
    const first = await c.chat.completions.create(body).withResponse();
    const second = await c.chat.completions.create(body).withResponse();
    check('response cache: the client sees a miss, then an identical hit',
          first.response.headers.get('x-brisk-cache') === 'miss' &&
          second.response.headers.get('x-brisk-cache') === 'hit' &&
          second.data.choices[0].message.content === first.data.choices[0].message.content,
          `${first.response.headers.get('x-brisk-cache')} ${second.response.headers.get('x-brisk-cache')}`);
    check('embedding server exits 0 on SIGTERM', (await server.stop()) === 0);
  } finally {
    await server.stop();
  }
}

const t0 = Date.now();
let server;
try {
  server = await startServer(['--disable-response-cache', '--no-embedding-model']);
  await mainServerChecks(server.port);
  check('server exits 0 on SIGTERM', (await server.stop()) === 0);
  await step('api keys', apiKeyChecks);
  await step('embeddings and cache', embeddingAndCacheChecks);
} catch (e) {
  check('test driver', false, e?.stack ?? String(e));
} finally {
  if (server) await server.stop();
}
console.log(`\n${passed} passed, ${failed.length} failed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
for (const name of failed) console.log(`  failed: ${name}`);
process.exit(failed.length ? 1 : 0);
