package runner

import (
	"slices"

	"golang.org/x/crypto/ssh"
)

// Algorithm preference lists: x/crypto's secure set first, in its order, then
// what Firepower 6.x appliances (OpenSSH 5.x–7.x based) may still be limited
// to. x/crypto only negotiates a legacy algorithm when the device offers
// nothing better, as OpenSSH does with its `+` additions.
var (
	kexAlgorithms = slices.Concat(ssh.SupportedAlgorithms().KeyExchanges, []string{
		ssh.InsecureKeyExchangeDH14SHA1,
		ssh.InsecureKeyExchangeDHGEXSHA1,
		ssh.InsecureKeyExchangeDH1SHA1,
	})
	cipherAlgorithms = slices.Concat(ssh.SupportedAlgorithms().Ciphers, []string{
		ssh.InsecureCipherAES128CBC, // the only aes*-cbc x/crypto implements
		ssh.InsecureCipherTripleDESCBC,
	})
	macAlgorithms = slices.Concat(ssh.SupportedAlgorithms().MACs, []string{
		ssh.InsecureHMACSHA196,
	})
	hostKeyAlgorithms = slices.Concat(ssh.SupportedAlgorithms().HostKeys, []string{
		ssh.KeyAlgoRSA, // ssh-rsa (SHA-1 signatures): pre-7.2 OpenSSH has nothing else for RSA keys
		ssh.CertAlgoRSAv01,
	})
)

// hostKeyAlgorithmsFor returns the host-key algorithm list with the
// algorithms able to verify pinned first, so the device proves the key we
// pinned rather than another of its keys.
func hostKeyAlgorithmsFor(pinned ssh.PublicKey) []string {
	if pinned == nil {
		return hostKeyAlgorithms
	}
	var first []string
	switch t := pinned.Type(); t {
	case ssh.KeyAlgoRSA:
		first = []string{ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSA}
	case ssh.CertAlgoRSAv01:
		first = []string{ssh.CertAlgoRSASHA256v01, ssh.CertAlgoRSASHA512v01, ssh.CertAlgoRSAv01}
	default:
		first = []string{t}
	}
	out := make([]string, 0, len(hostKeyAlgorithms)+len(first))
	out = append(out, first...)
	for _, a := range hostKeyAlgorithms {
		if !slices.Contains(first, a) {
			out = append(out, a)
		}
	}
	return out
}
