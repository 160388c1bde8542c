// A SPIFFE Workload API server for tests, playing the SPIRE agent: the same workload.proto served by
// @grpc/grpc-js on a Unix socket, SVIDs and bundles from the openssl-made PKI of svid-certs.ts, and the
// agent's own refusals: a call without the `workload.spiffe.io: true` metadata gets InvalidArgument
// "security header missing from request", and a workload with no identity PermissionDenied
// "no identity issued". Changing what it holds pushes a message on every open stream, as an agent does when
// an SVID rotates or a federated bundle comes or goes.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { workloadDefinition } from '../packages/workload-api/src/proto.js';

export interface AgentSvid {
  spiffeId: string;
  /** PEM: the SVID, leaf first, then any intermediates. */
  chainPem: string;
  keyPem: string;
  /** PEM: the CA certificates of the SVID's trust domain. */
  bundlePem: string;
  hint?: string;
}

export interface AgentState {
  svids: AgentSvid[];
  /** Federated trust domain → PEM of its CA certificates. */
  federated?: Record<string, string>;
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** PEM certificates as the Workload API sends them: DER, one after another. */
export function derOf(pem: string): Buffer {
  return Buffer.concat((pem.match(PEM_BLOCK) ?? []).map((b) => new X509Certificate(b).raw));
}

function svidResponse(state: AgentState) {
  return {
    svids: state.svids.map((s) => ({
      spiffe_id: s.spiffeId,
      x509_svid: derOf(s.chainPem),
      x509_svid_key: createPrivateKey(s.keyPem).export({ format: 'der', type: 'pkcs8' }),
      bundle: derOf(s.bundlePem),
      hint: s.hint ?? '',
    })),
    crl: [],
    federated_bundles: Object.fromEntries(
      Object.entries(state.federated ?? {}).map(([td, pem]) => [`spiffe://${td}`, derOf(pem)]),
    ),
  };
}

function bundlesResponse(state: AgentState) {
  const bundles: Record<string, Buffer> = {};
  for (const [td, pem] of Object.entries(state.federated ?? {})) bundles[`spiffe://${td}`] = derOf(pem);
  for (const s of state.svids) bundles[`spiffe://${new URL(s.spiffeId).host}`] = derOf(s.bundlePem);
  return { crl: [], bundles };
}

type Call = grpc.ServerWritableStream<unknown, unknown>;

export class WorkloadAgent {
  readonly socketPath: string;
  /** Calls refused for want of the security header. */
  refusedWithoutHeader = 0;
  /** Calls accepted, per method. */
  readonly accepted = { FetchX509SVID: 0, FetchX509Bundles: 0 };
  private server: grpc.Server | null = null;
  private state: AgentState | null;
  private readonly svidCalls = new Set<Call>();
  private readonly bundleCalls = new Set<Call>();
  /** Answer FetchX509Bundles with UNIMPLEMENTED, as an agent that predates it would. */
  bundlesUnimplemented = false;

  constructor(socketPath: string, state: AgentState | null) {
    this.socketPath = socketPath;
    this.state = state;
  }

  /** What it hands out now. */
  get current(): AgentState | null {
    return this.state;
  }

  get openStreams(): number {
    return this.svidCalls.size + this.bundleCalls.size;
  }

  async start(): Promise<void> {
    fs.rmSync(this.socketPath, { force: true });
    const server = new grpc.Server();
    const service = (workloadDefinition().SpiffeWorkloadAPI as grpc.ServiceDefinition) ?? null;
    server.addService(service, {
      FetchX509SVID: (call: Call) => this.serve(call, this.svidCalls, 'FetchX509SVID'),
      FetchX509Bundles: (call: Call) => {
        if (this.bundlesUnimplemented) {
          call.emit('error', { code: grpc.status.UNIMPLEMENTED, details: 'unknown method FetchX509Bundles' });
          return;
        }
        this.serve(call, this.bundleCalls, 'FetchX509Bundles');
      },
    });
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`unix://${this.socketPath}`, grpc.ServerCredentials.createInsecure(), (err) =>
        err ? reject(err) : resolve(),
      ),
    );
    this.server = server;
  }

  /** The agent going away (a crash or a restart): every stream breaks, the socket file goes. */
  stop(): void {
    this.server?.forceShutdown();
    this.server = null;
    this.svidCalls.clear();
    this.bundleCalls.clear();
    fs.rmSync(this.socketPath, { force: true });
  }

  /** New material for every stream, open and future; null: the workload has no identity any more. */
  set(state: AgentState | null): void {
    this.state = state;
    for (const call of this.svidCalls) this.send(call, 'FetchX509SVID', this.svidCalls);
    for (const call of this.bundleCalls) this.send(call, 'FetchX509Bundles', this.bundleCalls);
  }

  private serve(call: Call, calls: Set<Call>, method: 'FetchX509SVID' | 'FetchX509Bundles'): void {
    if (call.metadata.get('workload.spiffe.io')[0] !== 'true') {
      this.refusedWithoutHeader++;
      call.emit('error', {
        code: grpc.status.INVALID_ARGUMENT,
        details: 'security header missing from request',
      });
      return;
    }
    this.accepted[method]++;
    calls.add(call);
    call.on('cancelled', () => calls.delete(call));
    call.on('error', () => calls.delete(call));
    this.send(call, method, calls);
  }

  private send(call: Call, method: 'FetchX509SVID' | 'FetchX509Bundles', calls: Set<Call>): void {
    if (!this.state) {
      calls.delete(call);
      call.emit('error', { code: grpc.status.PERMISSION_DENIED, details: 'no identity issued' });
      return;
    }
    call.write(method === 'FetchX509SVID' ? svidResponse(this.state) : bundlesResponse(this.state));
  }
}
