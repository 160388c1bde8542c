'use strict';
// What piscina loads in each worker thread. Piscina loads its worker file with require() first, and on
// Node 20.19+ require() of an ES module instantiates it synchronously (require(esm)). A worker terminated
// during that instantiation (pool.close() while the pool is starting, process exit, a timeout) takes the
// whole process down on Node 20: "FATAL ERROR: v8::Module::IsGraphAsync must be used on an instantiated
// module". So piscina requires this CommonJS file, and the ES module worker named in workerData is loaded
// with import(), whose interruption Node handles.
const { workerData } = require('node:worker_threads');

const loading = import(workerData.module).then((mod) => mod.default);
loading.catch(() => {});

let leaving = false;
// How long a worker whose load failed stays before it leaves. Its answer (the rejection with the reason)
// travels on the worker's message port, and piscina's 'exit' handling may run before a message still in
// flight: a worker that left at once could have its answer replaced by "worker exited with code 0". Calls
// that reach it meanwhile are refused with the same reason.
const LEAVE_AFTER_MS = 250;

module.exports = function handle(task) {
  return loading.then(
    (run) => run(task),
    (err) => {
      // A load that failed (EMFILE while the process was out of descriptors, say) fails for good in this
      // thread, so this worker would refuse every later task with that old reason. It rejects this task
      // with the reason, then leaves once that answer has had time to arrive; piscina starts a fresh worker
      // in its place.
      if (!leaving) {
        leaving = true;
        setTimeout(() => process.exit(0), LEAVE_AFTER_MS);
      }
      throw err;
    },
  );
};
