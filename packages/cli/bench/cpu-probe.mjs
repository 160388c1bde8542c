// Preloaded into each Node process of the bench (node --import ./cpu-probe.mjs ...) that was started with an
// IPC channel: answers "mark" with "ok" and "report" with {cpuUs}, the process's CPU time since the last
// mark (process.cpuUsage: all threads, user + system). The measured program itself is not changed.
let mark = process.cpuUsage();
if (process.send) {
  process.on('message', (message) => {
    if (message === 'mark') {
      mark = process.cpuUsage();
      process.send('ok');
    } else if (message === 'report') {
      const used = process.cpuUsage(mark);
      process.send({ cpuUs: used.user + used.system });
    }
  });
  // The channel must not keep a server alive that would otherwise exit.
  process.channel.unref();
}
