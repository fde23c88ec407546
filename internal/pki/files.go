package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/skiff-sh/skiff/internal/fsutil"
)

const (
	pemTypeCertificate = "CERTIFICATE"
	pemTypeECKey       = "EC PRIVATE KEY"
	pemTypePKCS8Key    = "PRIVATE KEY"

	certFileMode = 0o644
	keyFileMode  = 0o600
	dirMode      = 0o700
)

// removeStaleTemps deletes temporary files a crash left behind in dir; they
// may hold private keys and are never read.
func removeStaleTemps(dir string) error {
	matches, err := filepath.Glob(filepath.Join(dir, ".*.tmp-*"))
	if err != nil {
		return fmt.Errorf("list temporary files in %s: %w", dir, err)
	}
	for _, m := range matches {
		if err := os.Remove(m); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove stale temporary file: %w", err)
		}
	}
	return nil
}

func encodeCertPEM(cert *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: pemTypeCertificate, Bytes: cert.Raw})
}

func encodeKeyPEM(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("marshal EC private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemTypeECKey, Bytes: der}), nil
}

// parseCertPEM returns the first certificate in data.
func parseCertPEM(data []byte) (*x509.Certificate, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("no CERTIFICATE block found")
		}
		if block.Type != pemTypeCertificate {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate: %w", err)
		}
		return cert, nil
	}
}

// parseKeyPEM accepts both SEC1 and PKCS#8 encodings so keys produced by
// other tooling (openssl, cfssl) can be dropped into the data dir.
func parseKeyPEM(data []byte) (crypto.Signer, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("no private key block found")
		}
		switch block.Type {
		case pemTypeECKey:
			key, err := x509.ParseECPrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parse EC private key: %w", err)
			}
			return key, nil
		case pemTypePKCS8Key:
			key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parse PKCS#8 private key: %w", err)
			}
			signer, ok := key.(crypto.Signer)
			if !ok {
				return nil, fmt.Errorf("private key of type %T cannot sign", key)
			}
			return signer, nil
		}
	}
}

// readPair reads a certificate and its key. missing is true when either file
// does not exist, which callers treat as "issue a new pair".
func readPair(certPath, keyPath string) (certPEM, keyPEM []byte, missing bool, err error) {
	certPEM, err = os.ReadFile(certPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, true, nil
	}
	if err != nil {
		return nil, nil, false, fmt.Errorf("read %s: %w", certPath, err)
	}
	keyPEM, err = os.ReadFile(keyPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, true, nil
	}
	if err != nil {
		return nil, nil, false, fmt.Errorf("read %s: %w", keyPath, err)
	}
	return certPEM, keyPEM, false, nil
}

// writePair writes the key before the certificate: if we crash in between,
// the old certificate no longer matches the new key, which the next load
// detects and repairs by issuing again.
func writePair(certPath, keyPath string, certPEM, keyPEM []byte) error {
	if err := fsutil.WriteFile(keyPath, keyPEM, keyFileMode); err != nil {
		return err
	}
	return fsutil.WriteFile(certPath, certPEM, certFileMode)
}
