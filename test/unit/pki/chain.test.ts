// The one chain verifier (src/pki/chain.ts): a link counts only when its
// signature holds and its issuer is valid at the time asked; a chain ends at a
// trust anchor. Real certificates from the dev PKI's profiles, no mocks.
import { expect } from 'chai'
import { X509Certificate } from 'node:crypto'
import { createIntermediateCa, createRootCa, createRogueCa, issueLeaf, DAY_MS, YEAR_MS, type CaMaterial, type IssuedCertificate } from '../../../src/pki/index.js'
import { ChainVerifier, issuedBy, isSelfSigned, validAt } from '../../../src/pki/chain.js'

describe('pki: the chain verifier', () => {
  let root: CaMaterial
  let issuing: CaMaterial
  let lookAlike: CaMaterial
  let shortIssuing: CaMaterial
  let leaf: IssuedCertificate
  let lookAlikeLeaf: IssuedCertificate
  let shortLeaf: IssuedCertificate
  let rogueLeaf: IssuedCertificate
  const x509 = (der: Buffer) => new X509Certificate(der)

  before(async () => {
    root = await createRootCa()
    issuing = await createIntermediateCa(root, 'issuing')
    // the issuing CA's name under the same root, another key
    lookAlike = await createIntermediateCa(root, 'issuing')
    shortIssuing = await createIntermediateCa(root, 'issuing', { commonName: 'short-lived issuing CA', lifetimeMs: 30 * DAY_MS })
    leaf = await issueLeaf(issuing, 'vehicle', '1FTFW1E50PFA00001')
    lookAlikeLeaf = await issueLeaf(lookAlike, 'vehicle', '1FTFW1E50PFA00002')
    shortLeaf = await issueLeaf(shortIssuing, 'vehicle', '1FTFW1E50PFA00003', { lifetimeMs: 7 * DAY_MS })
    rogueLeaf = await issueLeaf(await createRogueCa(), 'vehicle', '1FTFW1E50PFA00004')
  })

  it('issuedBy: names and signature; isSelfSigned; validAt', () => {
    expect(issuedBy(x509(leaf.cert), x509(issuing.cert))).to.equal(true)
    expect(issuedBy(x509(leaf.cert), x509(lookAlike.cert)), 'same name, another key').to.equal(false)
    expect(issuedBy(x509(leaf.cert), x509(root.cert))).to.equal(false)
    expect(isSelfSigned(x509(root.cert))).to.equal(true)
    expect(isSelfSigned(x509(issuing.cert))).to.equal(false)
    expect(validAt(x509(leaf.cert), Date.now())).to.equal(true)
    expect(validAt(x509(leaf.cert), Date.now() + 2 * YEAR_MS)).to.equal(false)
  })

  it('chainOfKnown: a leaf of an anchor in one signature check; another key under the same name is no issuer', () => {
    const chains = new ChainVerifier([root.cert, issuing.cert])
    // an intermediate trusted as an anchor still has its root above it (its revocation by the root is looked up)
    expect(chains.chainOfKnown(leaf.cert)).to.deep.equal([leaf.cert, issuing.cert, root.cert])
    expect(chains.chainOf(x509(leaf.cert))).to.deep.equal([leaf.cert, issuing.cert, root.cert])
    expect(chains.chainOfKnown(lookAlikeLeaf.cert)).to.equal(null)
    expect(chains.chainOf(x509(lookAlikeLeaf.cert))).to.equal(null)
    expect(chains.chainOfKnown(rogueLeaf.cert)).to.equal(null)
    expect(chains.chainOf(x509(rogueLeaf.cert))).to.equal(null)
  })

  it('chainOf: only verified links up to an anchor; the root alone does not vouch for a leaf of an unknown intermediate', () => {
    const rootOnly = new ChainVerifier([root.cert])
    // a certificate read from DER has no peer-sent issuers behind it: nothing links the leaf to the root
    expect(rootOnly.chainOf(x509(leaf.cert))).to.equal(null)
    expect(rootOnly.chainOf(x509(issuing.cert))).to.deep.equal([issuing.cert, root.cert])
    const withIssuing = new ChainVerifier([issuing.cert])
    expect(withIssuing.chainOf(x509(leaf.cert))).to.deep.equal([leaf.cert, issuing.cert])
  })

  it('an issuer outside its validity is no link, also after the link was verified and remembered', () => {
    const chains = new ChainVerifier([root.cert, shortIssuing.cert])
    const now = Date.now()
    const later = now + 60 * DAY_MS // the issuing CA has expired, the leaf's own dates are the caller's to check
    expect(chains.chainOf(x509(shortLeaf.cert), now)).to.deep.equal([shortLeaf.cert, shortIssuing.cert, root.cert])
    expect(chains.chainOfKnown(shortLeaf.cert, now)).to.deep.equal([shortLeaf.cert, shortIssuing.cert, root.cert])
    expect(chains.chainOf(x509(shortLeaf.cert), later)).to.equal(null)
    expect(chains.chainOfKnown(shortLeaf.cert, later)).to.equal(null)
  })
})
