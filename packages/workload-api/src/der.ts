// The Workload API sends certificate lists as DER certificates written one after another. Splitting them
// needs only each outer SEQUENCE's length; every piece is then parsed (and so validated) by OpenSSL through
// X509Certificate. Nothing here decides what a certificate says.
import { X509Certificate } from 'node:crypto';

// A bound on the work one message can cause: SPIRE chains are a leaf and a few intermediates, bundles a few
// authorities (more only while keys rotate).
export const MAX_CERTIFICATES = 256;

/** The DER certificates in `bytes`, in order; throws a plain Error saying what is wrong. */
export function certificatesFromDer(bytes: Uint8Array): X509Certificate[] {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: X509Certificate[] = [];
  let at = 0;
  while (at < buf.length) {
    if (out.length === MAX_CERTIFICATES) throw new Error(`more than ${MAX_CERTIFICATES} certificates`);
    const end = at + sequenceLength(buf, at);
    try {
      out.push(new X509Certificate(buf.subarray(at, end)));
    } catch (err) {
      throw new Error(`certificate ${out.length + 1} does not parse (${(err as Error).message})`, {
        cause: err,
      });
    }
    at = end;
  }
  if (out.length === 0) throw new Error('no certificate');
  return out;
}

/** The whole length (header and content) of the SEQUENCE starting at `at`. */
function sequenceLength(buf: Buffer, at: number): number {
  const where = `at byte ${at}`;
  if (buf[at] !== 0x30) throw new Error(`${where}: not a DER certificate (no SEQUENCE)`);
  const first = buf[at + 1];
  if (first === undefined) throw new Error(`${where}: truncated`);
  let header = 2;
  let length = first;
  if (first & 0x80) {
    const bytes = first & 0x7f;
    // DER uses the long form only past 127 bytes, and four length bytes already allow 4 GiB.
    if (bytes === 0 || bytes > 4) throw new Error(`${where}: bad DER length`);
    length = 0;
    for (let i = 0; i < bytes; i++) {
      const b = buf[at + 2 + i];
      if (b === undefined) throw new Error(`${where}: truncated`);
      length = length * 256 + b;
    }
    header += bytes;
  }
  if (at + header + length > buf.length) throw new Error(`${where}: truncated`);
  return header + length;
}
