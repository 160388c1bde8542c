// The undici-based Node reverse proxy of the bench: node:http server, undici Pool (keep-alive) to the
// upstream, headers copied except those undici refuses to send (it frames the request itself), bodies piped.
// No identity, no header filtering beyond that. Usage: node undici-proxy.mjs <socket path> <upstream port>
import http from 'node:http';
import { Pool } from 'undici';

const [socketPath, port] = process.argv.slice(2);
const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 64, pipelining: 1 });
const REFUSED = ['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'expect', 'proxy-connection'];
const server = http.createServer((req, res) => {
  const headers = { ...req.headers };
  for (const name of REFUSED) delete headers[name];
  const body = req.method === 'GET' || req.method === 'HEAD' ? null : req;
  pool.stream(
    { path: req.url, method: req.method, headers, body },
    ({ statusCode, headers: upHeaders }) => {
      res.writeHead(statusCode, upHeaders);
      return res;
    },
    (err) => {
      if (err) res.destroy();
    },
  );
});
server.listen(socketPath, () => process.stdout.write(`listening on ${socketPath}\n`));
process.on('SIGTERM', () => process.exit(0));
