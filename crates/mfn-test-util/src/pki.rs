//! A throwaway PKI for the TLS tests: a CA, leaf certificates it signs, the PEM files a
//! server reads (`ca.pem`, `cert.pem`, `key.pem` in a temp dir), and rustls client
//! configurations that trust it.

use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore, SupportedProtocolVersion};

/// A CA in a temp dir; `ca.pem` is written at creation.
pub struct Pki {
    dir: tempfile::TempDir,
    /// The CA certificate.
    pub ca: CertificateDer<'static>,
    /// The CA certificate, PEM.
    pub ca_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// A certificate signed by the test CA and its key, as DER and PEM.
pub struct Leaf {
    /// The certificate.
    pub cert: CertificateDer<'static>,
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The private key.
    pub key: PrivateKeyDer<'static>,
    /// The private key, PEM.
    pub key_pem: String,
}

impl Default for Pki {
    fn default() -> Self {
        Self::new()
    }
}

impl Pki {
    /// A new CA.
    pub fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "mfn test ca");
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        let ca = params.self_signed(&key).unwrap();
        let pki = Self {
            dir: tempfile::tempdir().unwrap(),
            ca: ca.der().clone(),
            ca_pem: ca.pem(),
            issuer: Issuer::new(params, key),
        };
        pki.write("ca.pem", &pki.ca_pem);
        pki
    }

    /// A certificate for "localhost" and "127.0.0.1" (CN "mfn").
    pub fn leaf(&self, purpose: ExtendedKeyUsagePurpose) -> Leaf {
        self.leaf_with(purpose, |_| {})
    }

    /// [`Pki::leaf`] with its parameters changed first (names, validity).
    pub fn leaf_with(
        &self,
        purpose: ExtendedKeyUsagePurpose,
        change: impl FnOnce(&mut CertificateParams),
    ) -> Leaf {
        let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
        let mut params = CertificateParams::new(names).unwrap();
        change(&mut params);
        params.distinguished_name.push(DnType::CommonName, "mfn");
        params.extended_key_usages = vec![purpose];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            cert: cert.der().clone(),
            cert_pem: cert.pem(),
            key: PrivateKeyDer::from_pem_slice(key.serialize_pem().as_bytes()).unwrap(),
            key_pem: key.serialize_pem(),
        }
    }

    /// A fresh server certificate written to `cert.pem` / `key.pem`.
    pub fn server_leaf(&self) -> Leaf {
        let leaf = self.leaf(ExtendedKeyUsagePurpose::ServerAuth);
        self.write("cert.pem", &leaf.cert_pem);
        self.write("key.pem", &leaf.key_pem);
        leaf
    }

    /// Write a file into the PKI's directory.
    pub fn write(&self, name: &str, contents: &str) {
        std::fs::write(self.path(name), contents).unwrap();
    }

    /// A file in the PKI's directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A rustls client trusting this CA, speaking `versions`, offering `alpn`, with
    /// `identity` for mutual TLS.
    pub fn client_config(
        &self,
        versions: &[&'static SupportedProtocolVersion],
        alpn: &[&[u8]],
        identity: Option<&Leaf>,
    ) -> ClientConfig {
        let mut roots = RootCertStore::empty();
        roots.add(self.ca.clone()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .unwrap()
            .with_root_certificates(roots);
        let mut config = match identity {
            Some(leaf) => builder
                .with_client_auth_cert(vec![leaf.cert.clone()], leaf.key.clone_key())
                .unwrap(),
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        config
    }
}
