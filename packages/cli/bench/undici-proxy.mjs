// The undici-based Node reverse proxy of the bench: node:http server, undici Pool (keep-alive) to the
// upstream, headers copied except those undici refuses to send (it frames the request itself), bodies piped.
// No identity, no header filtering beyond that. Usage: node undici-proxy.mjs <socket path> <upstream port> [stamped]
// With `stamped`, every request also carries the 11 identity headers `peerauth proxy` sends for the bench's
// caller, as fixed strings (no credential read, no lookup): what stamping alone costs an undici proxy.
import http from 'node:http';
import { Pool } from 'undici';

const [socketPath, port, mode] = process.argv.slice(2);
const STAMPS =
  mode === 'stamped'
    ? {
        'X-Peerauth-Uid': '0',
        'X-Peerauth-Gid': '0',
        'X-Peerauth-Pid': '1000',
        'X-Peerauth-Groups': '',
        'X-Peerauth-User': 'root',
        'X-Peerauth-Person': 'owner',
        'X-Peerauth-Role': 'owner',
        'X-Peerauth-Spiffe-Id': 'spiffe://peerauth.local/uid-0',
        'X-Peerauth-Auth': 'unix',
        'X-Forwarded-User': 'root',
        'X-Forwarded-Groups': 'root',
      }
    : {};
const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 64, pipelining: 1 });
const REFUSED = ['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'expect', 'proxy-connection'];
const server = http.createServer((req, res) => {
  const headers = { ...STAMPS, ...req.headers };
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
