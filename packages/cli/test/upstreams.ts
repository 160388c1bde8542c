import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * An upstream that parses nothing: it records every byte it receives (latin1) and, whenever `answer` returns
 * a reply for what came since the last reply, writes it. For tests that must see the exact bytes the proxy
 * sent.
 */
export function startByteUpstream(
  socketPath: string,
  answer: (pending: string) => string | null,
): Promise<{ server: net.Server; received: () => string }> {
  let received = '';
  const server = net.createServer((c) => {
    c.on('error', () => {});
    c.setEncoding('latin1');
    let pending = '';
    c.on('data', (d: string) => {
      received += d;
      pending += d;
      const reply = answer(pending);
      if (reply === null) return;
      pending = '';
      c.write(reply);
    });
  });
  return new Promise((resolve) =>
    server.listen(socketPath, () => resolve({ server, received: () => received })),
  );
}

/** One request as an upstream parsed it: header names as received, body length. */
export interface ParsedRequest {
  method: string;
  path: string;
  /** [name, value] pairs as the upstream's parser produced them (wsgiref: HTTP_* environ keys). */
  headers: [string, string][];
  bodyLength: number;
}

export interface RecordingUpstream {
  /** `http://127.0.0.1:PORT` or `unix:/path`. */
  url: string;
  seen: ParsedRequest[];
  close(): Promise<void>;
}

function pairs(raw: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < raw.length; i += 2) out.push([raw[i]!, raw[i + 1]!]);
  return out;
}

/**
 * A node:http upstream that records every request it parses and answers 200 once the body is read.
 * `onRequest` may answer instead (return true when it did).
 */
export function startNodeUpstream(
  opts: {
    socketPath?: string;
    onRequest?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean;
  } = {},
): Promise<RecordingUpstream & { server: http.Server }> {
  const seen: ParsedRequest[] = [];
  const server = http.createServer((req, res) => {
    let bodyLength = 0;
    req.on('data', (d: Buffer) => {
      bodyLength += d.length;
    });
    req.on('end', () => {
      seen.push({
        method: req.method ?? '',
        path: req.url ?? '',
        // Trailers count as headers: an upstream may merge them.
        headers: [...pairs(req.rawHeaders), ...pairs(req.rawTrailers)],
        bodyLength,
      });
      if (opts.onRequest?.(req, res)) return;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ path: req.url, bodyLength }));
    });
  });
  const listening = new Promise<void>((resolve) => {
    if (opts.socketPath) server.listen(opts.socketPath, () => resolve());
    else server.listen(0, '127.0.0.1', () => resolve());
  });
  return listening.then(() => ({
    server,
    url: opts.socketPath
      ? `unix:${opts.socketPath}`
      : `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close() {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  }));
}

const pythonScript = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  'fixtures',
  'recording_upstream.py',
);

/**
 * A Python upstream (test/fixtures/recording_upstream.py): http.server with keep-alive, wsgiref, or
 * http.server whose handler never reads a body (nodrain). It appends
 * each record to a file before it answers, and `seen` reads new records from that file whenever it is read, so
 * a test that got the response sees the request's record at once (a pipe could deliver it later).
 */
export function startPythonUpstream(kind: 'httpserver' | 'wsgiref' | 'nodrain'): Promise<RecordingUpstream> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-upstream-'));
  const recordFile = path.join(dir, 'records.jsonl');
  fs.writeFileSync(recordFile, '');
  const fd = fs.openSync(recordFile, 'r');
  const records: ParsedRequest[] = [];
  let partial = '';
  const pull = (): ParsedRequest[] => {
    const chunk = Buffer.alloc(65536);
    for (let n = fs.readSync(fd, chunk); n > 0; n = fs.readSync(fd, chunk)) {
      partial += chunk.toString('utf8', 0, n);
    }
    let nl = partial.indexOf('\n');
    while (nl >= 0) {
      const r = JSON.parse(partial.slice(0, nl)) as {
        method: string;
        path: string;
        headers?: [string, string][];
        environ?: Record<string, string>;
        bodyLength: number;
      };
      partial = partial.slice(nl + 1);
      nl = partial.indexOf('\n');
      records.push({
        method: r.method,
        path: r.path,
        headers: r.headers ?? Object.entries(r.environ ?? {}),
        bodyLength: r.bodyLength,
      });
    }
    return records;
  };
  const cleanUp = (): void => {
    fs.closeSync(fd);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const child: ChildProcess = spawn('python3', [pythonScript, kind, recordFile], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let port: number | undefined;
    child.once('exit', (code) => {
      if (port === undefined) {
        cleanUp();
        reject(new Error(`python upstream exited (${code}) before listening`));
      }
    });
    child.stdout!.setEncoding('utf8');
    let buffered = '';
    child.stdout!.on('data', (d: string) => {
      buffered += d;
      const nl = buffered.indexOf('\n');
      if (port !== undefined || nl < 0) return;
      port = Number(buffered.slice(0, nl));
      resolve({
        url: `http://127.0.0.1:${port}`,
        get seen() {
          return pull();
        },
        close: () =>
          new Promise<void>((done) => {
            const finish = (): void => {
              cleanUp();
              done();
            };
            if (child.exitCode !== null || child.signalCode !== null) return finish();
            child.once('exit', finish);
            child.kill('SIGTERM');
          }),
      });
    });
  });
}

const asgiScript = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'asgi_upstream.py');

/**
 * hypercorn serving test/fixtures/asgi_upstream.py on a Unix socket, with `python` (one that can import
 * hypercorn). It implements the h2c upgrade, so requests on an upgraded connection are recorded too.
 */
export function startHypercornUpstream(python: string): Promise<RecordingUpstream> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-upstream-'));
  const socketPath = path.join(dir, 'h.sock');
  const recordFile = path.join(dir, 'records.jsonl');
  fs.writeFileSync(recordFile, '');
  const child = spawn(python, [asgiScript, socketPath, recordFile], { stdio: ['ignore', 'pipe', 'inherit'] });
  const cleanUp = (): void => fs.rmSync(dir, { recursive: true, force: true });
  return new Promise((resolve, reject) => {
    let ready = false;
    child.once('exit', (code) => {
      if (!ready) {
        cleanUp();
        reject(new Error(`hypercorn upstream exited (${code}) before listening`));
      }
    });
    child.stdout!.once('data', () => {
      ready = true;
      resolve({
        url: `unix:${socketPath}`,
        get seen() {
          return readRecords(recordFile);
        },
        close: () => stopChild(child, cleanUp),
      });
    });
  });
}

/** Every record in a JSON-lines file written by an upstream fixture. */
function readRecords(file: string): ParsedRequest[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const r = JSON.parse(line) as ParsedRequest;
      return { method: r.method, path: r.path, headers: r.headers, bodyLength: r.bodyLength };
    });
}

function stopChild(child: ChildProcess, cleanUp: () => void): Promise<void> {
  return new Promise<void>((done) => {
    const finish = (): void => {
      cleanUp();
      done();
    };
    if (child.exitCode !== null || child.signalCode !== null) return finish();
    child.once('exit', finish);
    child.kill('SIGTERM');
  });
}

const fixturesDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');

/**
 * PHP's built-in server (php-cli) running test/fixtures/record.php for every path: PHP folds `.`, `-` and
 * spaces in header names to `_` in HTTP_* variables, and a later header overwrites an earlier one.
 */
export function startPhpUpstream(php: string): Promise<RecordingUpstream> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-upstream-'));
  const recordFile = path.join(dir, 'records.jsonl');
  fs.writeFileSync(recordFile, '');
  const child = spawn(php, ['-S', '127.0.0.1:0', path.join(fixturesDir, 'record.php')], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PA_RECORDS: recordFile },
  });
  const cleanUp = (): void => fs.rmSync(dir, { recursive: true, force: true });
  return new Promise((resolve, reject) => {
    let out = '';
    let port: number | undefined;
    child.once('exit', (code) => {
      if (port === undefined) {
        cleanUp();
        reject(new Error(`php -S exited (${code}) before listening: ${out}`));
      }
    });
    // php -S logs each request to stderr; its start line names the port.
    const onOutput = (d: Buffer): void => {
      if (port !== undefined) return;
      out += d.toString();
      const m = /\(http:\/\/127\.0\.0\.1:(\d+)\) started/.exec(out);
      if (!m) return;
      port = Number(m[1]);
      resolve({
        url: `http://127.0.0.1:${port}`,
        get seen() {
          return readRecords(recordFile);
        },
        close: () => stopChild(child, cleanUp),
      });
    };
    child.stdout!.on('data', onOutput);
    child.stderr!.on('data', onOutput);
  });
}

/** The absolute path of a command found on PATH (as given when it already has a slash). */
function onPath(command: string): string {
  if (command.includes('/')) return command;
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const candidate = path.join(dir, command);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {}
  }
  return command;
}

/**
 * lighttpd on a Unix socket running test/fixtures/record_cgi.py as CGI for every path: lighttpd makes every
 * character of a header name that is not a letter or digit `_` in the HTTP_* variable.
 */
export async function startLighttpdCgiUpstream(lighttpd: string, python: string): Promise<RecordingUpstream> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-upstream-'));
  const recordFile = path.join(dir, 'records.jsonl');
  const socketPath = path.join(dir, 'l.sock');
  fs.writeFileSync(recordFile, '');
  // lighttpd runs CGI as the user it runs as; the record file must be writable by it.
  fs.chmodSync(dir, 0o755);
  const conf = path.join(dir, 'lighttpd.conf');
  fs.writeFileSync(
    conf,
    [
      'server.modules = ("mod_rewrite", "mod_cgi", "mod_setenv")',
      `server.document-root = ${JSON.stringify(fixturesDir)}`,
      `server.bind = ${JSON.stringify(socketPath)}`,
      `server.errorlog = ${JSON.stringify(path.join(dir, 'error.log'))}`,
      'url.rewrite-once = ("" => "/record_cgi.py")',
      // lighttpd runs the interpreter by path, without a PATH search.
      `cgi.assign = (".py" => ${JSON.stringify(onPath(python))})`,
      `setenv.set-environment = ("PA_RECORDS" => ${JSON.stringify(recordFile)})`,
      '',
    ].join('\n'),
  );
  const child = spawn(lighttpd, ['-D', '-f', conf], { stdio: ['ignore', 'ignore', 'inherit'] });
  const cleanUp = (): void => fs.rmSync(dir, { recursive: true, force: true });
  const started = Date.now();
  while (!fs.existsSync(socketPath)) {
    if (child.exitCode !== null || Date.now() - started > 10_000) {
      await stopChild(child, cleanUp);
      throw new Error('lighttpd did not start');
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `unix:${socketPath}`,
    get seen() {
      return readRecords(recordFile);
    },
    close: () => stopChild(child, cleanUp),
  };
}
