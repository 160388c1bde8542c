// The service definition, read at run time from the package's workload.proto by @grpc/proto-loader: the
// .proto stays the one text to compare with the SPIFFE spec, and there is no generated code to keep in step.
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export const PROTO_FILE = fileURLToPath(new URL('../proto/workload.proto', import.meta.url));

/** The metadata every Workload API call must carry: agents refuse a call without it (InvalidArgument). */
export const SECURITY_HEADER = 'workload.spiffe.io';

let definition: protoLoader.PackageDefinition | undefined;

/** The decoded definition; fields keep their proto names and absent fields decode to their defaults. */
export function workloadDefinition(): protoLoader.PackageDefinition {
  definition ??= protoLoader.loadSync(PROTO_FILE, {
    keepCase: true,
    defaults: true,
    arrays: true,
    objects: true,
  });
  return definition;
}

export function workloadClientConstructor(): grpc.ServiceClientConstructor {
  return grpc.loadPackageDefinition(workloadDefinition()).SpiffeWorkloadAPI as grpc.ServiceClientConstructor;
}
