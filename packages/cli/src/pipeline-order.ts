import type http from 'node:http';
import type net from 'node:net';
import { afterAnswer } from './answer-written.js';

/**
 * What a client connection still owes its client: node:http writes pipelined answers in order, but an
 * upgrade or a parse error hands the socket over while earlier answers may still be on their way. Whatever
 * is written to the socket by hand waits here until they are out.
 */
interface Pipeline {
  /** Answers begun and not yet written or abandoned. */
  open: number;
  waiting: (() => void)[];
  /** The newest request, with how to stop forwarding it (its body may still be arriving). */
  latest?: { req: http.IncomingMessage; res: http.ServerResponse; stop?: () => void };
}

const pipelines = new WeakMap<net.Socket, Pipeline>();

function pipelineOf(socket: net.Socket): Pipeline {
  let p = pipelines.get(socket);
  if (!p) {
    p = { open: 0, waiting: [] };
    pipelines.set(socket, p);
  }
  return p;
}

/** Counts a request's answer as owed until it is written (or the connection is gone). */
export function trackAnswer(req: http.IncomingMessage, res: http.ServerResponse): void {
  const p = pipelineOf(req.socket);
  p.open++;
  p.latest = { req, res };
  afterAnswer(res, () => {
    p.open--;
    // Nothing is kept of a request once it is answered (idle keep-alive connections stay small).
    if (p.latest?.req === req) p.latest = undefined;
    // Each waiting step may begin answers of its own (it never does today): run only while none is owed.
    while (p.open === 0 && p.waiting.length > 0) p.waiting.shift()!();
  });
}

/** How to stop forwarding `req` if its connection breaks before its body is complete. */
export function onStop(req: http.IncomingMessage, stop: () => void): void {
  const latest = pipelines.get(req.socket)?.latest;
  if (latest?.req === req) latest.stop = stop;
}

/** The newest request when its body has not fully arrived (the one a parse error in a body belongs to). */
export function incompleteRequest(
  socket: net.Socket,
): { req: http.IncomingMessage; res: http.ServerResponse; stop?: () => void } | undefined {
  const latest = pipelines.get(socket)?.latest;
  return latest && !latest.req.complete ? latest : undefined;
}

/** True while an answer begun on `socket` is not yet written. */
export function owesAnswers(socket: net.Socket): boolean {
  return (pipelines.get(socket)?.open ?? 0) > 0;
}

/** Runs `step` once every answer begun on `socket` is written: at once when none is owed. */
export function afterEarlierAnswers(socket: net.Socket, step: () => void): void {
  const p = pipelines.get(socket);
  if (!p || p.open === 0) step();
  else p.waiting.push(step);
}
