package runner

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"
)

// Algorithm preference lists. Every device gets x/crypto's secure set, in its
// order, minus hmac-sha1. Only a device opted in (Target.LegacySSH: its site's
// legacy_ssh or its tag legacy_ssh=true) is also offered what Firepower 6.x
// appliances (OpenSSH 5.x–7.x based) may still be limited to: SHA-1 key
// exchanges, CBC ciphers, SHA-1 MACs and ssh-rsa (SHA-1) host-key signatures.
// Offering those to every device would let any device (or a man in the middle
// able to strip the better offers) pick them. Even when offered, x/crypto
// only negotiates a legacy algorithm when the device offers nothing better,
// as OpenSSH does with its `+` additions.
var (
	modernKex      = ssh.SupportedAlgorithms().KeyExchanges
	modernCiphers  = ssh.SupportedAlgorithms().Ciphers
	modernMACs     = slices.DeleteFunc(slices.Clone(ssh.SupportedAlgorithms().MACs), func(m string) bool { return m == ssh.HMACSHA1 })
	modernHostKeys = ssh.SupportedAlgorithms().HostKeys

	legacyKex = []string{
		ssh.InsecureKeyExchangeDH14SHA1,
		ssh.InsecureKeyExchangeDHGEXSHA1,
		ssh.InsecureKeyExchangeDH1SHA1,
	}
	legacyCiphers = []string{
		ssh.InsecureCipherAES128CBC, // the only aes*-cbc x/crypto implements
		ssh.InsecureCipherTripleDESCBC,
	}
	legacyMACs     = []string{ssh.HMACSHA1, ssh.InsecureHMACSHA196}
	legacyHostKeys = []string{
		ssh.KeyAlgoRSA, // ssh-rsa (SHA-1 signatures): pre-7.2 OpenSSH has nothing else for RSA keys
		ssh.CertAlgoRSAv01,
	}
)

// algorithms is one hop's offer.
type algorithms struct {
	kex, ciphers, macs, hostKeys []string
}

var (
	modernAlgorithms = algorithms{modernKex, modernCiphers, modernMACs, modernHostKeys}
	legacyAlgorithms = algorithms{
		kex:      slices.Concat(modernKex, legacyKex),
		ciphers:  slices.Concat(modernCiphers, legacyCiphers),
		macs:     slices.Concat(modernMACs, legacyMACs),
		hostKeys: slices.Concat(modernHostKeys, legacyHostKeys),
	}
)

func algorithmsFor(legacy bool) algorithms {
	if legacy {
		return legacyAlgorithms
	}
	return modernAlgorithms
}

// hostKeyAlgorithmsFor returns the host-key algorithm list with the
// algorithms able to verify pinned first, so the device proves the key we
// pinned rather than another of its keys.
func (a algorithms) hostKeyAlgorithmsFor(pinned ssh.PublicKey) []string {
	if pinned == nil {
		return a.hostKeys
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
	first = slices.DeleteFunc(first, func(alg string) bool { return !slices.Contains(a.hostKeys, alg) })
	out := make([]string, 0, len(a.hostKeys)+len(first))
	out = append(out, first...)
	for _, alg := range a.hostKeys {
		if !slices.Contains(first, alg) {
			out = append(out, alg)
		}
	}
	return out
}

// legacyRefusal turns a failed negotiation with a device that offers only
// algorithms of the legacy lists into an error naming the setting that
// allows them. Other errors are returned unchanged.
func legacyRefusal(err error, device, site string) error {
	var ne *ssh.AlgorithmNegotiationError
	if !errors.As(err, &ne) {
		return err
	}
	var legacy []string
	for _, alg := range ne.RequestedAlgorithms { // what the device offered
		if slices.Contains(legacyKex, alg) || slices.Contains(legacyCiphers, alg) ||
			slices.Contains(legacyMACs, alg) || slices.Contains(legacyHostKeys, alg) {
			legacy = append(legacy, alg)
		}
	}
	if len(legacy) == 0 {
		return err
	}
	where := "sites.<site>.legacy_ssh: true"
	if site != "" {
		where = "sites." + site + ".legacy_ssh: true"
	}
	return fmt.Errorf("device %s offers only legacy SSH algorithms for %s (%s); set %s or tag legacy_ssh=true to allow them: %w",
		device, ne.What, strings.Join(legacy, ", "), where, ErrProtocol)
}
