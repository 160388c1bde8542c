// This package's error table: every code it throws, once, with when. One class carries them all, on
// @peerauth/core-native's PeerAuthError (imported from its `/errors` entry, which loads no native addon).
import { PeerAuthError } from '@peerauth/core-native/errors';

export type WorkloadApiErrorCode =
  /** The endpoint is missing or is not `unix:///absolute/path` (or `tcp://IP:PORT`). */
  | 'PEERAUTH_WORKLOAD_BAD_ENDPOINT'
  /** An option of createX509Source has a value it cannot take. */
  | 'PEERAUTH_WORKLOAD_INVALID_OPTION'
  /** Nothing answers on the endpoint (no agent yet, an agent restarting), or the stream broke. */
  | 'PEERAUTH_WORKLOAD_UNAVAILABLE'
  /** The agent answers but holds no identity for this process (SPIRE: "no identity issued"). */
  | 'PEERAUTH_WORKLOAD_NO_IDENTITY'
  /** The agent, or the file system on its socket, refused this process. */
  | 'PEERAUTH_WORKLOAD_PERMISSION_DENIED'
  /** The agent refused the request with another gRPC status (the status is in `grpcCode`). */
  | 'PEERAUTH_WORKLOAD_REFUSED'
  /** The agent sent material that cannot be used (a key that is not the certificate's, a bad certificate). */
  | 'PEERAUTH_WORKLOAD_INVALID_RESPONSE'
  /** ready did not settle within readyTimeoutMs; the message names the last problem seen. */
  | 'PEERAUTH_WORKLOAD_TIMEOUT'
  /** close() was called before the first SVID arrived, or getSvid() after close(). */
  | 'PEERAUTH_WORKLOAD_CLOSED';

/** Every error of this package; `code` is stable across releases, the message is for humans. */
export class WorkloadApiError extends PeerAuthError {
  declare readonly code: WorkloadApiErrorCode;
  /** The gRPC status code the agent answered with, when the error came from one. */
  readonly grpcCode: number | undefined;

  constructor(code: WorkloadApiErrorCode, message: string, options?: ErrorOptions & { grpcCode?: number }) {
    super(code, message, options);
    this.grpcCode = options?.grpcCode;
  }
}
