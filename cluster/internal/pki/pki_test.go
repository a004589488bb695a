package pki

import (
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"strings"
	"testing"
)

func TestIssuedCertificatesVerify(t *testing.T) {
	f := Files(t.TempDir())
	ids := []Identity{
		{Name: "kubelet", User: "system:node:n", Groups: []string{"system:nodes"}},
		{Name: "apiserver", User: "kube-apiserver", Server: true, DNSNames: []string{"kubernetes"}, IPs: []net.IP{net.ParseIP("10.96.0.1")}},
	}
	ca, err := f.Write(ids)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	tests := []struct {
		name  string
		usage x509.ExtKeyUsage
		check func(*x509.Certificate) string
	}{
		{"kubelet", x509.ExtKeyUsageClientAuth, func(c *x509.Certificate) string {
			if c.Subject.CommonName != "system:node:n" || len(c.Subject.Organization) != 1 || c.Subject.Organization[0] != "system:nodes" {
				return "subject " + c.Subject.String()
			}
			return ""
		}},
		{"apiserver", x509.ExtKeyUsageServerAuth, func(c *x509.Certificate) string {
			if len(c.IPAddresses) != 1 || !c.IPAddresses[0].Equal(net.ParseIP("10.96.0.1")) {
				return "IP SANs"
			}
			return ""
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := os.ReadFile(f.Cert(tc.name))
			if err != nil {
				t.Fatal(err)
			}
			block, _ := pem.Decode(b)
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{tc.usage}}); err != nil {
				t.Fatal(err)
			}
			if msg := tc.check(c); msg != "" {
				t.Error(msg)
			}
		})
	}
	kc, err := f.Kubeconfig("https://127.0.0.1:16443", "kubelet")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(kc), "server: https://127.0.0.1:16443") || !strings.Contains(string(kc), "client-certificate-data: ") {
		t.Errorf("kubeconfig:\n%s", kc)
	}
}
