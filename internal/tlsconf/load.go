package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"strings"

	"go.step.sm/crypto/pemutil"
)

// Files names where a certificate and its key live, as Python's http.server takes them:
// CertFile holds the chain (leaf first); KeyFile the private key, or "" when the key is in
// CertFile; PasswordFile the key's passphrase, or "" for an unencrypted key.
type Files struct {
	CertFile     string
	KeyFile      string
	PasswordFile string
}

// keyFile is where the key is read from.
func (f Files) keyFile() string {
	if f.KeyFile == "" {
		return f.CertFile
	}
	return f.KeyFile
}

// Load reads the pair once. An encrypted key (PKCS#8 "ENCRYPTED PRIVATE KEY", or legacy PEM
// with "Proc-Type: 4,ENCRYPTED") is decrypted with the passphrase in PasswordFile, whose
// surrounding white space is ignored (as Python strips it). Errors name the file at fault.
func Load(f Files) (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(f.CertFile)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate: %w", err)
	}
	var chain []byte
	for rest := certPEM; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			chain = append(chain, pem.EncodeToMemory(b)...)
		}
	}
	if chain == nil {
		return nil, fmt.Errorf("TLS certificate %s: %w", f.CertFile, ErrNoCertificate)
	}
	keyPEM := certPEM
	if f.KeyFile != "" {
		if keyPEM, err = os.ReadFile(f.KeyFile); err != nil {
			return nil, fmt.Errorf("TLS key: %w", err)
		}
	}
	block := firstKey(keyPEM)
	if block == nil {
		return nil, fmt.Errorf("TLS key %s: %w", f.keyFile(), ErrNoKey)
	}
	if block, err = f.decrypt(block); err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair(chain, pem.EncodeToMemory(block))
	if err != nil {
		return nil, fmt.Errorf("TLS certificate %s and key %s: %w", f.CertFile, f.keyFile(), err)
	}
	return &cert, nil
}

// firstKey returns the first PEM block holding a private key, encrypted or not.
func firstKey(data []byte) *pem.Block {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil
		}
		if strings.HasSuffix(b.Type, "PRIVATE KEY") {
			return b
		}
	}
}

// decrypt returns block decrypted with the passphrase, or block itself when it is not
// encrypted. A passphrase for a key that needs none is accepted, as OpenSSL does.
func (f Files) decrypt(block *pem.Block) (*pem.Block, error) {
	pkcs8 := block.Type == "ENCRYPTED PRIVATE KEY"
	//nolint:staticcheck // legacy PEM encryption is what `openssl rsa -des3` still writes
	legacy := x509.IsEncryptedPEMBlock(block)
	if !pkcs8 && !legacy {
		return block, nil
	}
	if f.PasswordFile == "" {
		return nil, fmt.Errorf("TLS key %s is encrypted and no --tls-password-file was given: %w", f.keyFile(), ErrPassword)
	}
	pw, err := os.ReadFile(f.PasswordFile)
	if err != nil {
		return nil, fmt.Errorf("TLS password file: %w", err)
	}
	password := []byte(strings.TrimSpace(string(pw)))
	der, err := pemutil.DecryptPEMBlock(block, password)
	if err != nil {
		return nil, fmt.Errorf("TLS key %s with the password in %s: %w: %w", f.keyFile(), f.PasswordFile, ErrPassword, err)
	}
	if pkcs8 {
		// PKCS#8 has no password check of its own: a wrong one can decrypt to noise that
		// even passes the padding check, so the result must parse.
		if _, err := x509.ParsePKCS8PrivateKey(der); err != nil {
			return nil, fmt.Errorf("TLS key %s with the password in %s: %w: %w", f.keyFile(), f.PasswordFile, ErrPassword, err)
		}
		return &pem.Block{Type: "PRIVATE KEY", Bytes: der}, nil
	}
	return &pem.Block{Type: block.Type, Bytes: der}, nil
}
