// Fastify plugin: `app.register(peerauthPlugin)` puts the connection's identity on `request.peer`.
// Declared non-encapsulated through Symbol.for('skip-override'), which is all fastify-plugin would do,
// so the hook applies to every route without a dependency on fastify-plugin.

import type { Identity } from '@peerauth/identity';
import type { FastifyInstance, FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import { peerOf } from './peers.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Kernel-verified identity of the connection (set by @peerauth/server/fastify). */
    peer: Identity | null;
  }
}

export interface PeerauthFastifyOptions {
  /** Default true: requests without an identity get 403. False: they pass with request.peer = null. */
  required?: boolean;
}

const plugin: FastifyPluginCallback<PeerauthFastifyOptions> = (
  fastify: FastifyInstance,
  options: PeerauthFastifyOptions,
  done: (err?: Error) => void,
) => {
  const required = options.required !== false;
  fastify.decorateRequest('peer', null);
  fastify.addHook(
    'onRequest',
    (request: FastifyRequest, reply: FastifyReply, next: (err?: Error) => void) => {
      const identity = peerOf(request.raw) ?? null;
      if (!identity && required) {
        reply.code(403).send({ error: 'forbidden', reason: 'connection has no peerauth identity' });
        return;
      }
      request.peer = identity;
      next();
    },
  );
  done();
};

Object.assign(plugin, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: '@peerauth/server/fastify',
  [Symbol.for('plugin-meta')]: { name: '@peerauth/server/fastify', fastify: '>=4' },
});

export const peerauthPlugin = plugin;
export default plugin;
