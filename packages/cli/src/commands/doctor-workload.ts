// doctor --workload-api: asks the SPIRE agent once, as serve and proxy would, and says what it answered:
// whether it is reachable, the SVID's SPIFFE ID and expiry, and the trust domains it holds bundles for.
import { formatError } from '@peerauth/core-native';
import type { ParsedIdentityConfig } from '@peerauth/identity';
import { createX509Source, type WorkloadApiError, type X509Context } from '@peerauth/workload-api';

// The agent answers a local socket in milliseconds; this only bounds a hung one.
const ANSWER_MS = 5000;

/** Appends doctor's lines about the agent at `endpoint`; false when it gave no usable SVID. */
export async function checkWorkloadApi(
  endpoint: string,
  config: ParsedIdentityConfig | null,
  out: string[],
): Promise<boolean> {
  let source: ReturnType<typeof createX509Source>;
  try {
    source = createX509Source({ endpoint, readyTimeoutMs: ANSWER_MS });
  } catch (err) {
    out.push(`agent       PROBLEM: ${formatError(err)}`);
    return false;
  }
  // The first answer decides: an SVID, or the first refusal (doctor reports now; the server would retry).
  const answer = await new Promise<X509Context | WorkloadApiError>((resolve) => {
    source.on('error', resolve);
    source.ready.then(resolve, resolve);
  });
  source.close();
  if (!('svid' in answer)) {
    out.push(`agent       ${endpoint}: PROBLEM: ${formatError(answer)}`);
    return false;
  }
  const { svid, bundles } = answer;
  out.push(`agent       ${endpoint}: reachable`);
  out.push(`svid        ${svid.spiffeId}, expires ${svid.expiresAt.toISOString()}`);
  const domains = [...bundles.keys()].map((td) =>
    td === svid.trustDomain ? `${td} (own)` : `${td} (federated)`,
  );
  out.push(`bundles     ${domains.join(', ') || 'none'}`);
  const missing = Object.keys(config?.trustDomains ?? {}).filter((td) => !bundles.has(td));
  if (missing.length)
    out.push(
      `            warning: the config accepts callers from ${missing.join(', ')}, but the agent holds no bundle for it; they would be refused`,
    );
  return true;
}
