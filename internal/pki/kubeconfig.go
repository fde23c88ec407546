package pki

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/skiff-sh/skiff/internal/fsutil"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Names used inside generated kubeconfigs.
const (
	KubeconfigCluster = "skiff"
	KubeconfigUser    = "skiff-admin"
	KubeconfigContext = "skiff"
)

// WriteKubeconfig writes a self-contained kubeconfig (credentials embedded,
// no file references) with mode 0600. The file is replaced atomically so a
// kubectl running concurrently never reads a partial config.
func WriteKubeconfig(path, serverURL string, caPEM, certPEM, keyPEM []byte) error {
	if serverURL == "" {
		return errors.New("pki: write kubeconfig: server URL is empty")
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[KubeconfigCluster] = &clientcmdapi.Cluster{
		Server:                   serverURL,
		CertificateAuthorityData: caPEM,
	}
	cfg.AuthInfos[KubeconfigUser] = &clientcmdapi.AuthInfo{
		ClientCertificateData: certPEM,
		ClientKeyData:         keyPEM,
	}
	cfg.Contexts[KubeconfigContext] = &clientcmdapi.Context{
		Cluster:  KubeconfigCluster,
		AuthInfo: KubeconfigUser,
	}
	cfg.CurrentContext = KubeconfigContext

	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return fmt.Errorf("pki: encode kubeconfig: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), dirMode); err != nil {
		return fmt.Errorf("pki: create kubeconfig directory: %w", err)
	}
	if err := fsutil.WriteFile(path, data, keyFileMode); err != nil {
		return fmt.Errorf("pki: write kubeconfig: %w", err)
	}
	return nil
}

// WriteAdminKubeconfig writes a kubeconfig for the cluster administrator.
func (m *Material) WriteAdminKubeconfig(path, serverURL string) error {
	return WriteKubeconfig(path, serverURL, m.ca.certPEM, m.adminCertPEM, m.adminKeyPEM)
}
