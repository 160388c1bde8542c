import { describe, expect, it } from 'vitest';
import { basicConstraintsCa, certificateExtensions, keyUsageBits } from '../src/der.js';
import { MalformedCertificateError } from '../src/errors.js';

const bytes = (...b: number[]) => Uint8Array.from(b);

describe('DER reader', () => {
  it('reads keyUsage bits by RFC 5280 number', () => {
    // BIT STRING, 1 unused bit, 0x86 = digitalSignature(0), keyCertSign(5), cRLSign(6)
    expect([...keyUsageBits(bytes(0x03, 0x02, 0x01, 0x86))].sort()).toEqual([0, 5, 6]);
    expect([...keyUsageBits(bytes(0x03, 0x02, 0x07, 0x80))]).toEqual([0]);
  });

  it('reads basicConstraints cA, absent meaning false', () => {
    expect(basicConstraintsCa(bytes(0x30, 0x03, 0x01, 0x01, 0xff))).toBe(true);
    expect(basicConstraintsCa(bytes(0x30, 0x00))).toBe(false);
  });

  it('refuses truncated and overlong values instead of reading past them', () => {
    expect(() => keyUsageBits(bytes(0x03))).toThrow(MalformedCertificateError);
    expect(() => keyUsageBits(bytes(0x03, 0x05, 0x00))).toThrow(/runs past/);
    expect(() => basicConstraintsCa(bytes(0x30, 0x85, 1, 2, 3, 4, 5))).toThrow(/length/);
    expect(() => certificateExtensions(bytes(0x02, 0x01, 0x00))).toThrow(/not a SEQUENCE/);
  });
});
