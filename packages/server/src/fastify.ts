// Fastify plugin: `app.register(peerauthPlugin)` puts the connection's identity on `request.peer`.
// Declared non-encapsulated through Symbol.for('skip-override'), which is all fastify-plugin would do,
// so the hook applies to every route without a dependency on fastify-plugin.

import { type Identity, NoIdentityError } from '@peerauth/identity';
import type { FastifyInstance, FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import { peerOf } from './peers.js';

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * Kernel-verified identity of the connection (@peerauth/server/fastify). Never null: without the
     * plugin's `required: false` such requests get 403 before any handler; with it, reading `peer` on one
     * throws NoIdentityError, so handlers that admit them use `peerOf(request)` instead.
     */
    readonly peer: Identity;
  }
}

export interface PeerauthFastifyOptions {
  /** Default true: requests without an identity get 403. False: they pass; `peerOf(request)` is undefined. */
  required?: boolean;
}

const plugin: FastifyPluginCallback<PeerauthFastifyOptions> = (
  fastify: FastifyInstance,
  options: PeerauthFastifyOptions,
  done: (err?: Error) => void,
) => {
  const required = options.required !== false;
  // A getter over the connection's identity, so the type can promise an Identity: there is nothing to copy
  // per request, and a request without one fails closed instead of reading as null.
  fastify.decorateRequest('peer', {
    getter(this: FastifyRequest): Identity {
      const identity = peerOf(this.raw);
      if (!identity) throw new NoIdentityError('this request did not come through a peerauth server');
      return identity;
    },
  });
  if (required) {
    fastify.addHook(
      'onRequest',
      (request: FastifyRequest, reply: FastifyReply, next: (err?: Error) => void) => {
        if (peerOf(request.raw)) return next();
        reply.code(403).send({ error: 'forbidden', reason: 'connection has no peerauth identity' });
      },
    );
  }
  done();
};

Object.assign(plugin, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: '@peerauth/server/fastify',
  [Symbol.for('plugin-meta')]: { name: '@peerauth/server/fastify', fastify: '>=4' },
});

export const peerauthPlugin = plugin;
export default plugin;
