// A client that connects to a Unix socket again and again (each connection held until the server closes
// it), for noisy-neighbour tests: a peer whose lookups hang keeps asking. argv: socketPath [uid...]. With
// uids (as root, e.g. inside a user namespace) it runs one such loop as each uid instead.
import { spawn } from 'node:child_process';
import net from 'node:net';

const [socketPath, ...uids] = process.argv.slice(2);

if (uids.length > 0) {
  for (const uid of uids) {
    const child = spawn(process.execPath, [process.argv[1], socketPath], {
      uid: Number(uid),
      gid: 0,
      stdio: 'ignore',
    });
    child.on('error', (err) => process.stderr.write(`uid ${uid}: ${err.message}\n`));
  }
} else {
  const again = () => {
    const c = net.connect(socketPath);
    c.on('error', () => {});
    c.on('close', () => setTimeout(again, 20));
    c.resume();
  };
  again();
}
