import { expect } from 'chai';

import { AuthError, formatAuthHeader, parseAuthHeader, type AuthErrorReason } from '../../src/auth/index.js';

function reasonOf(value: string | undefined): AuthErrorReason | undefined {
  try {
    parseAuthHeader(value);
    return undefined;
  } catch (err) {
    expect(err).to.be.instanceOf(AuthError);
    return (err as AuthError).reason;
  }
}

describe('auth header', () => {
  it('is written as "Bearer: <jwt>" with the colon, like the original', () => {
    expect(formatAuthHeader('aaa.bbb.ccc')).to.equal('Bearer: aaa.bbb.ccc');
  });

  it('parses what it writes', () => {
    expect(parseAuthHeader(formatAuthHeader('aaa.bbb.ccc'))).to.equal('aaa.bbb.ccc');
  });

  it('accepts any case of the scheme and runs of whitespace, as Ruby split does', () => {
    expect(parseAuthHeader('  BEARER:\t aaa.bbb.ccc  ')).to.equal('aaa.bbb.ccc');
  });

  it('refuses a missing or empty header as missing_header', () => {
    expect(reasonOf(undefined)).to.equal('missing_header');
    expect(reasonOf('   ')).to.equal('missing_header');
  });

  it('refuses plain RFC 6750 "Bearer <jwt>" as malformed_header', () => {
    expect(reasonOf('Bearer aaa.bbb.ccc')).to.equal('malformed_header');
  });

  it('refuses anything but exactly two parts as malformed_header', () => {
    expect(reasonOf('Bearer:')).to.equal('malformed_header');
    expect(reasonOf('Bearer: aaa.bbb.ccc extra')).to.equal('malformed_header');
    expect(reasonOf('Bearer:aaa.bbb.ccc')).to.equal('malformed_header');
  });
});
