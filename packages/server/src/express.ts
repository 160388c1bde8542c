// Express middleware: `app.use(peerauth())` puts the connection's identity on `req.peer`.

import type { Identity } from '@peerauth/identity';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { peerOf } from './peers.js';

declare global {
  namespace Express {
    interface Request {
      /**
       * Kernel-verified identity of the connection, set by `peerauth()` (@peerauth/server/express), which
       * answers 403 instead of calling later handlers when there is none: behind it, always present.
       */
      peer: Identity;
    }
  }
}

export interface PeerauthMiddlewareOptions {
  /** Send this instead of the default JSON body when a request has no identity (403). */
  onMissing?: (req: Request, res: Response) => void;
}

/** Requests that did not arrive through a peerauth server (no identity) get 403. */
export function peerauth(options: PeerauthMiddlewareOptions = {}): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const identity = peerOf(req);
    if (!identity) {
      if (options.onMissing) {
        options.onMissing(req, res);
        return;
      }
      res.status(403).json({ error: 'forbidden', reason: 'connection has no peerauth identity' });
      return;
    }
    req.peer = identity;
    next();
  };
}

export default peerauth;
