// An independent reading of the SPIFFE ID spec (SPIFFE-ID.md §2), written from the spec rather than from
// src/spiffe.ts, so the property tests check the encoder against the standard and not against itself.
export function spiffeIdProblem(id: string): string | null {
  if (new TextEncoder().encode(id).length > 2048) return 'longer than 2048 bytes';
  const scheme = 'spiffe://';
  if (!id.startsWith(scheme)) return 'scheme is not spiffe://';
  const rest = id.slice(scheme.length);
  const slash = rest.indexOf('/');
  const trustDomain = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? '' : rest.slice(slash);
  if (trustDomain.length === 0) return 'empty trust domain';
  for (const ch of trustDomain) {
    const ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch === '.' || ch === '-' || ch === '_';
    if (!ok) return `trust domain has ${JSON.stringify(ch)}`;
  }
  if (path === '') return null;
  const segments = path.slice(1).split('/');
  for (const segment of segments) {
    if (segment.length === 0) return 'empty path segment';
    if (segment === '.' || segment === '..') return `relative segment ${segment}`;
    for (const ch of segment) {
      const ok =
        (ch >= 'a' && ch <= 'z') ||
        (ch >= 'A' && ch <= 'Z') ||
        (ch >= '0' && ch <= '9') ||
        ch === '.' ||
        ch === '-' ||
        ch === '_';
      if (!ok) return `path segment has ${JSON.stringify(ch)}`;
    }
  }
  return null;
}
