export { ENDPOINT_ENV, type Endpoint, parseEndpoint } from './endpoint.js';
export { WorkloadApiError, type WorkloadApiErrorCode } from './errors.js';
export { trustDomainOf, type X509Bundle, type X509Context, type X509Svid } from './material.js';
export { PROTO_FILE, SECURITY_HEADER, workloadDefinition } from './proto.js';
export { createX509Source, errorFromStatus, type X509Source, type X509SourceOptions } from './source.js';
