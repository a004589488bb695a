// Package pki makes the cluster's certificates and kubeconfigs: one CA, a
// serving certificate for the API server and the kubelet, a client
// certificate per component (its user and groups are what RBAC and the Node
// authorizer see), and the service-account signing key.
package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// CA signs every certificate of one cluster.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
	PEM  []byte
}

// Identity is what a certificate names: a client's user and groups, or a
// server's DNS names and IPs.
type Identity struct {
	Name     string // file name stem
	User     string // CN
	Groups   []string
	DNSNames []string
	IPs      []net.IP
	Server   bool
}

// NewCA makes a self-signed CA.
func NewCA(name string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(1, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key, PEM: pemBlock("CERTIFICATE", der)}, nil
}

// Issue signs a certificate for id and returns it and its key as PEM.
func (ca *CA) Issue(id Identity) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: id.User, Organization: id.Groups},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		DNSNames:     id.DNSNames,
		IPAddresses:  id.IPs,
	}
	if id.Server {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pemBlock("CERTIFICATE", der), pemBlock("EC PRIVATE KEY", keyDER), nil
}

// Files is where one cluster's certificates live.
type Files string

// CACert, Cert and Key are file paths inside the directory.
func (f Files) CACert() string          { return filepath.Join(string(f), "ca.crt") }
func (f Files) CAKey() string           { return filepath.Join(string(f), "ca.key") }
func (f Files) Cert(name string) string { return filepath.Join(string(f), name+".crt") }
func (f Files) Key(name string) string  { return filepath.Join(string(f), name+".key") }

// ServiceAccountKey is the key that signs service-account tokens.
func (f Files) ServiceAccountKey() string { return filepath.Join(string(f), "sa.key") }

// ServiceAccountPub is its public half, which the API server verifies with.
func (f Files) ServiceAccountPub() string { return filepath.Join(string(f), "sa.pub") }

// Write makes the CA, a certificate per identity and the service-account
// key pair under the directory.
func (f Files) Write(ids []Identity) (*CA, error) {
	if err := os.MkdirAll(string(f), 0o700); err != nil {
		return nil, err
	}
	ca, err := NewCA("wdm-cluster-ca")
	if err != nil {
		return nil, err
	}
	caKey, err := x509.MarshalECPrivateKey(ca.Key)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{f.CACert(): ca.PEM, f.CAKey(): pemBlock("EC PRIVATE KEY", caKey)}
	for _, id := range ids {
		c, k, err := ca.Issue(id)
		if err != nil {
			return nil, fmt.Errorf("certificate %s: %w", id.Name, err)
		}
		files[f.Cert(id.Name)], files[f.Key(id.Name)] = c, k
	}
	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	saDER, err := x509.MarshalECPrivateKey(saKey)
	if err != nil {
		return nil, err
	}
	saPub, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return nil, err
	}
	files[f.ServiceAccountKey()] = pemBlock("EC PRIVATE KEY", saDER)
	files[f.ServiceAccountPub()] = pemBlock("PUBLIC KEY", saPub)
	for path, b := range files {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return nil, err
		}
	}
	return ca, nil
}

// Kubeconfig renders a kubeconfig for the identity's certificate against
// server, with the certificates embedded so the file stands alone.
func (f Files) Kubeconfig(server, name string) ([]byte, error) {
	read := func(p string) (string, error) {
		b, err := os.ReadFile(p)
		return base64.StdEncoding.EncodeToString(b), err
	}
	ca, err := read(f.CACert())
	if err != nil {
		return nil, err
	}
	cert, err := read(f.Cert(name))
	if err != nil {
		return nil, err
	}
	key, err := read(f.Key(name))
	if err != nil {
		return nil, err
	}
	return []byte(RenderKubeconfig(server, ca, cert, key)), nil
}

// RenderKubeconfig is the kubeconfig text for one cluster, user and context,
// all named "wdm", with base64 certificate data.
func RenderKubeconfig(server, caB64, certB64, keyB64 string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `apiVersion: v1
kind: Config
clusters:
- name: wdm
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: wdm
  user:
    client-certificate-data: %s
    client-key-data: %s
contexts:
- name: wdm
  context:
    cluster: wdm
    user: wdm
current-context: wdm
`, server, caB64, certB64, keyB64)
	return b.String()
}

func pemBlock(kind string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der})
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	return n
}
