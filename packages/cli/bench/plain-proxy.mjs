// The plainest Node reverse proxy, the bench's baseline: http.request with a keep-alive agent, headers copied,
// bodies piped, listening on a Unix socket like peerauth proxy. No identity, no header filtering.
// Usage: node plain-proxy.mjs <socket path> <upstream port>
import http from 'node:http';

const [socketPath, port] = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true });
const server = http.createServer((req, res) => {
  const up = http.request(
    { host: '127.0.0.1', port: Number(port), method: req.method, path: req.url, headers: req.headers, agent },
    (upRes) => {
      res.writeHead(upRes.statusCode, upRes.headers);
      upRes.pipe(res);
    },
  );
  up.on('error', () => res.destroy());
  req.pipe(up);
});
server.listen(socketPath, () => process.stdout.write(`listening on ${socketPath}\n`));
process.on('SIGTERM', () => process.exit(0));
