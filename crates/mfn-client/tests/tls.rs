//! TLS options against a real TLS server: CA pinning, the domain-name override and
//! client certificates (mTLS).

use std::path::PathBuf;
use std::time::Duration;

use mfn_client::{Client, ClientConfig, ClientError};
use mfn_server::config::TlsConfig;
use mfn_test_util::TestServer;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// A throwaway CA and the PEM files the server reads.
struct Pki {
    dir: tempfile::TempDir,
    ca_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Pki {
    fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "mfn client test ca");
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        let ca = params.self_signed(&key).unwrap();
        let pki = Pki {
            dir: tempfile::tempdir().unwrap(),
            ca_pem: ca.pem(),
            issuer: Issuer::new(params, key),
        };
        std::fs::write(pki.path("ca.pem"), &pki.ca_pem).unwrap();
        pki
    }

    /// A certificate for "localhost" only, and its key, both PEM.
    fn leaf(&self, purpose: ExtendedKeyUsagePurpose) -> (String, String) {
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, "mfn");
        params.extended_key_usages = vec![purpose];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// A TLS server requiring client certificates from the test CA.
async fn mtls_server(pki: &Pki) -> TestServer {
    let (cert, key) = pki.leaf(ExtendedKeyUsagePurpose::ServerAuth);
    std::fs::write(pki.path("cert.pem"), cert).unwrap();
    std::fs::write(pki.path("key.pem"), key).unwrap();
    TestServer::builder()
        .config(|c| {
            c.service.workers = 1;
            c.service.queue = 4;
            c.network.shutdown_timeout = Duration::from_secs(5);
            c.tls = TlsConfig {
                enabled: true,
                cert_path: Some(pki.path("cert.pem")),
                key_path: Some(pki.path("key.pem")),
                client_ca_path: Some(pki.path("ca.pem")),
                ..c.tls.clone()
            };
        })
        .start()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_with_ca_identity_and_domain_override() {
    let pki = Pki::new();
    let server = mtls_server(&pki).await;
    let port = server.addr.port();
    // The certificate names only "localhost"; we dial 127.0.0.1.
    let url = format!("https://127.0.0.1:{port}");
    let (client_cert, client_key) = pki.leaf(ExtendedKeyUsagePurpose::ClientAuth);

    let client = Client::connect(
        ClientConfig::builder(url.clone())
            .ca_pem(pki.ca_pem.clone())
            .client_identity(client_cert.clone(), client_key.clone())
            .domain_name("localhost")
            .build()
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(client.health_check().await.unwrap().status, "SERVING");

    // Without the override the name check fails.
    let no_override = Client::connect(
        ClientConfig::builder(url.clone())
            .ca_pem(pki.ca_pem.clone())
            .client_identity(client_cert, client_key)
            .build()
            .unwrap(),
    )
    .await;
    assert!(matches!(no_override, Err(ClientError::Transport(_))));

    // Without a client certificate the server refuses the handshake.
    let anonymous = Client::connect_lazy(
        ClientConfig::builder(url)
            .ca_pem(pki.ca_pem.clone())
            .domain_name("localhost")
            .max_attempts(1)
            .build()
            .unwrap(),
    )
    .unwrap();
    let refused = anonymous.health_check().await;
    assert!(refused.is_err(), "{refused:?}");
}
