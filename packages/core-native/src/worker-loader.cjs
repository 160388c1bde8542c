'use strict';
// What piscina loads in each worker thread. Piscina loads its worker file with require() first, and on
// Node 20.19+ require() of an ES module instantiates it synchronously (require(esm)). A worker terminated
// during that instantiation (pool.close() while the pool is starting, process exit, a timeout) takes the
// whole process down on Node 20: "FATAL ERROR: v8::Module::IsGraphAsync must be used on an instantiated
// module". So piscina requires this CommonJS file, and the ES module worker named in workerData is loaded
// with import(), whose interruption Node handles.
const { workerData } = require('node:worker_threads');

const loading = import(workerData.module).then((mod) => mod.default);
// A worker that failed to load rejects each task with the reason, through the pool's error mapping.
loading.catch(() => {});

module.exports = function handle(task) {
  return loading.then((run) => run(task));
};
