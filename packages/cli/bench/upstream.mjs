// The trivial upstream every proxy in the bench forwards to, in its own process: a short fixed answer with
// Content-Length on 127.0.0.1. Prints its port on stdout once listening.
import http from 'node:http';

const body = Buffer.from('ok\n');
const server = http.createServer((req, res) => {
  req.resume();
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
process.on('SIGTERM', () => process.exit(0));
