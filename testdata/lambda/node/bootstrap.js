'use strict';
// A dependency-free AWS Lambda runtime for Node.js: it implements the Runtime
// API loop (next, response, error, init/error) that the Lambda Runtime
// Interface Emulator (and the Lambda service) serve on AWS_LAMBDA_RUNTIME_API,
// and runs `exports.handler = async (event, context) => ...` handlers
// (CommonJS or ESM, promise or callback style).
//
// Usage: node bootstrap.js <dir/module.export>   (or _HANDLER in the env)
// The module resolves against LAMBDA_TASK_ROOT, else the working directory.
//
// node:http with a keep-alive agent, not fetch: undici's default 300 s
// headers timeout would break the long poll of /next on an idle function.

const http = require('node:http');
const path = require('node:path');
const fs = require('node:fs');
const { pathToFileURL } = require('node:url');

const API = process.env.AWS_LAMBDA_RUNTIME_API || '127.0.0.1:9001';
const [apiHost, apiPort] = API.split(':');
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const BASE = '/2018-06-01/runtime';

function call(method, p, body, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: apiHost, port: Number(apiPort), method, path: BASE + p, agent,
      headers: Object.assign({ 'Content-Type': 'application/json' }, headers || {}) }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

function errorDoc(err, type) {
  if (!(err instanceof Error)) err = new Error(typeof err === 'string' ? err : JSON.stringify(err));
  return {
    errorType: type || err.name || 'Error',
    errorMessage: err.message,
    trace: String(err.stack || '').split('\n'),
  };
}

// A lost Runtime API (RIE stopped or crashed) ends the runtime.
function fatal(e) {
  process.stderr.write('bootstrap: runtime API unreachable: ' + (e && e.message) + '\n');
  process.exit(1);
}

async function load() {
  const spec = process.env._HANDLER || process.argv[2];
  if (!spec) throw new Error('no handler given (argument or _HANDLER)');
  const dot = spec.lastIndexOf('.');
  if (dot <= 0) throw new Error(`bad handler '${spec}': want module.export`);
  const mod = spec.slice(0, dot), name = spec.slice(dot + 1);
  const root = process.env.LAMBDA_TASK_ROOT || process.cwd();
  const base = path.resolve(root, mod);
  for (const ext of ['.js', '.cjs', '.mjs']) {
    const file = base + ext;
    if (!fs.existsSync(file)) continue;
    const m = ext === '.mjs' ? await import(pathToFileURL(file).href) : require(file);
    const fn = m[name] || (m.default && m.default[name]);
    if (typeof fn !== 'function') {
      const e = new Error(`${spec} is undefined or not exported`);
      e.name = 'Runtime.HandlerNotFound';
      throw e;
    }
    return fn;
  }
  const e = new Error(`Cannot find module '${mod}'`);
  e.name = 'Runtime.ImportModuleError';
  throw e;
}

function run(fn, event, context) {
  return new Promise((resolve, reject) => {
    let done = false;
    const callback = (err, result) => {
      if (done) return;
      done = true;
      if (err) reject(err); else resolve(result);
    };
    try {
      const r = fn(event, context, callback);
      if (fn.length < 3 || (r && typeof r.then === 'function')) {
        Promise.resolve(r).then((v) => callback(null, v), (e) => callback(e || new Error('rejected')));
      }
    } catch (e) {
      callback(e);
    }
  });
}

let current = null; // request id of the invocation in flight

process.on('uncaughtException', (e) => {
  const id = current;
  const doc = JSON.stringify(errorDoc(e, 'Runtime.UncaughtException'));
  const p = id ? `/invocation/${id}/error` : '/init/error';
  call('POST', p, doc, { 'Lambda-Runtime-Function-Error-Type': 'Runtime.UncaughtException' })
    .finally(() => process.exit(1));
});

async function main() {
  let fn;
  try {
    fn = await load();
  } catch (e) {
    await call('POST', '/init/error', JSON.stringify(errorDoc(e)), { 'Lambda-Runtime-Function-Error-Type': e.name || 'Runtime.Unknown' }).catch(fatal);
    process.exit(1);
  }
  for (;;) {
    const next = await call('GET', '/invocation/next').catch(fatal);
    if (next.status !== 200) fatal(new Error(`next: status ${next.status}`));
    const id = next.headers['lambda-runtime-aws-request-id'];
    const deadline = Number(next.headers['lambda-runtime-deadline-ms'] || 0);
    const parse = (h) => { try { return h ? JSON.parse(h) : undefined; } catch { return undefined; } };
    const context = {
      awsRequestId: id,
      functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
      functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION || '$LATEST',
      memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
      invokedFunctionArn: next.headers['lambda-runtime-invoked-function-arn'],
      clientContext: parse(next.headers['lambda-runtime-client-context']),
      identity: parse(next.headers['lambda-runtime-cognito-identity']),
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      callbackWaitsForEmptyEventLoop: true,
    };
    let event;
    try { event = JSON.parse(next.body); } catch { event = next.body; }
    current = id;
    try {
      const result = await run(fn, event, context);
      await call('POST', `/invocation/${id}/response`, JSON.stringify(result === undefined ? null : result)).catch(fatal);
    } catch (e) {
      await call('POST', `/invocation/${id}/error`, JSON.stringify(errorDoc(e)), { 'Lambda-Runtime-Function-Error-Type': 'Unhandled' }).catch(fatal);
    }
    current = null;
  }
}

main();
