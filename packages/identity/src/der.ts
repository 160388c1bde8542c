// A minimal DER reader, just enough to read two extensions of an X.509 certificate that Node's X509Certificate
// does not give: keyUsage (its `keyUsage` is the *extended* key usage) and basicConstraints cA (its `ca` is
// OpenSSL's X509_check_ca, which also weighs keyUsage). SANs come from X509Certificate.subjectAltName.
// What does not parse is a MalformedCertificateError (PEERAUTH_CERTIFICATE_MALFORMED): the SVID rules wrap
// it in their PEERAUTH_SVID_MALFORMED refusal, whose message reaches audit lines.
import { MalformedCertificateError } from './errors.js';

export interface DerNode {
  tag: number;
  /** Content bytes (without tag and length). */
  value: Uint8Array;
}

function readNode(buf: Uint8Array, offset: number): { node: DerNode; next: number } {
  if (offset + 2 > buf.length) throw new MalformedCertificateError('truncated DER header');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f)
    throw new MalformedCertificateError('multi-byte DER tags are not used in certificates');
  let length = buf[offset + 1]!;
  let pos = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4) throw new MalformedCertificateError('unsupported DER length');
    if (pos + count > buf.length) throw new MalformedCertificateError('truncated DER length');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + buf[pos + i]!;
    pos += count;
  }
  if (pos + length > buf.length) throw new MalformedCertificateError('DER value runs past its container');
  return { node: { tag, value: buf.subarray(pos, pos + length) }, next: pos + length };
}

/** The nodes directly inside a constructed value. */
export function derChildren(value: Uint8Array): DerNode[] {
  const out: DerNode[] = [];
  let pos = 0;
  while (pos < value.length) {
    const { node, next } = readNode(value, pos);
    out.push(node);
    pos = next;
  }
  return out;
}

const SEQUENCE = 0x30;
const EXTENSIONS_TAG = 0xa3; // [3] EXPLICIT in TBSCertificate
const OID = 0x06;
const BOOLEAN = 0x01;
const OCTET_STRING = 0x04;

/** OID 2.5.29.x as DER content bytes. */
function idCe(x: number): string {
  return Buffer.from([0x55, 0x1d, x]).toString('hex');
}
export const OID_KEY_USAGE = idCe(15);
export const OID_BASIC_CONSTRAINTS = idCe(19);

/** cA from a BasicConstraints extension's inner DER (absent means false). */
export function basicConstraintsCa(extnValue: Uint8Array): boolean {
  const { node } = readNode(extnValue, 0);
  if (node.tag !== SEQUENCE) throw new MalformedCertificateError('basicConstraints is not a SEQUENCE');
  const [first] = derChildren(node.value);
  return first !== undefined && first.tag === BOOLEAN && first.value.length === 1 && first.value[0] !== 0;
}

/** extnValue (the inner DER) of each extension of a DER certificate, keyed by OID hex; repeats are an error. */
export function certificateExtensions(der: Uint8Array): Map<string, Uint8Array> {
  const [cert] = derChildren(der);
  if (!cert || cert.tag !== SEQUENCE) throw new MalformedCertificateError('certificate is not a SEQUENCE');
  const [tbs] = derChildren(cert.value);
  if (!tbs || tbs.tag !== SEQUENCE) throw new MalformedCertificateError('tbsCertificate is not a SEQUENCE');
  const out = new Map<string, Uint8Array>();
  const wrapper = derChildren(tbs.value).find((n) => n.tag === EXTENSIONS_TAG);
  if (!wrapper) return out;
  const [list] = derChildren(wrapper.value);
  if (!list || list.tag !== SEQUENCE) throw new MalformedCertificateError('extensions are not a SEQUENCE');
  for (const ext of derChildren(list.value)) {
    const parts = derChildren(ext.value);
    const oid = parts[0];
    const octets = parts[parts.length - 1];
    if (!oid || oid.tag !== OID || !octets || octets.tag !== OCTET_STRING) {
      throw new MalformedCertificateError('malformed extension');
    }
    if (parts.length === 3 && parts[1]!.tag !== BOOLEAN)
      throw new MalformedCertificateError('malformed extension');
    const key = Buffer.from(oid.value).toString('hex');
    if (out.has(key)) throw new MalformedCertificateError(`extension ${key} appears twice`);
    out.set(key, octets.value);
  }
  return out;
}

/** Bit numbers of the KeyUsage BIT STRING (RFC 5280 4.2.1.3). */
export const KEY_USAGE_BITS = { digitalSignature: 0, keyCertSign: 5, cRLSign: 6 } as const;

/** Which KeyUsage bits are set, from the extension's inner DER. */
export function keyUsageBits(extnValue: Uint8Array): Set<number> {
  const { node } = readNode(extnValue, 0);
  if (node.tag !== 0x03 || node.value.length === 0)
    throw new MalformedCertificateError('keyUsage is not a BIT STRING');
  const bits = new Set<number>();
  for (let i = 1; i < node.value.length; i++) {
    for (let b = 0; b < 8; b++) if (node.value[i]! & (0x80 >> b)) bits.add((i - 1) * 8 + b);
  }
  return bits;
}
