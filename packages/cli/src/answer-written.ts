import type http from 'node:http';

/**
 * What runs once a response is written or abandoned. Every part of the proxy that waits for an answer
 * (pipeline order, the pipelined-request bound, the upstream turn, the abort of an abandoned request) adds
 * a step here, and one 'finish' and one 'close' listener per response serve them all, in the order they
 * were added: a listener pair (and its once-wrappers) for each would be most of the proxy's own event work
 * per request.
 */
class AnswerSteps {
  private readonly steps: ((abandoned: boolean) => void)[] = [];
  private ran = false;

  constructor(res: http.ServerResponse) {
    // Plain listeners, never removed: the response is dropped with them, and `ran` keeps it to one run.
    res.on('finish', () => this.run(false));
    res.on('close', () => this.run(!res.writableFinished));
  }

  add(step: (abandoned: boolean) => void): void {
    if (this.ran) step(false);
    else this.steps.push(step);
  }

  private run(abandoned: boolean): void {
    if (this.ran) return;
    this.ran = true;
    const { steps } = this;
    for (let i = 0; i < steps.length; i++) steps[i]!(abandoned);
    steps.length = 0;
  }
}

const kSteps = Symbol('peerauth.answerSteps');
type Tracked = http.ServerResponse & { [kSteps]?: AnswerSteps };

function stepsOf(res: http.ServerResponse): AnswerSteps {
  const r = res as Tracked;
  let s = r[kSteps];
  if (s === undefined) {
    s = new AnswerSteps(res);
    r[kSteps] = s;
  }
  return s;
}

/**
 * Runs `step` once the answer is written (or abandoned). node:http decides there whether the client
 * connection goes on (an HTTP/1.0 client's cannot after an answer without a length): the next request's
 * turn begins only then, and never on a connection that is closing.
 */
export function afterAnswer(res: http.ServerResponse, step: () => void): void {
  // Not writableFinished: that holds as soon as the bytes are out, before node:http's own 'finish' listener
  // has decided about the connection. Called before 'finish' can have been emitted.
  if (res.destroyed) {
    step();
    return;
  }
  stepsOf(res).add(step);
}

/**
 * Runs `step` if the response is closed before it was completely written (the client went away), at the
 * point among the other steps where it was added.
 */
export function onAbandoned(res: http.ServerResponse, step: () => void): void {
  // A response destroyed already never hears 'close' again; the caller checks res.destroyed itself.
  if (res.destroyed) return;
  stepsOf(res).add((abandoned) => {
    if (abandoned) step();
  });
}
