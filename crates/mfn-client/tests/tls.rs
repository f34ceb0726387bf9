//! TLS options against a real TLS server: CA pinning, the domain-name override and
//! client certificates (mTLS).

use std::time::Duration;

use mfn_client::{Client, ClientConfig, ClientError};
use mfn_server::config::TlsConfig;
use mfn_test_util::TestServer;
use mfn_test_util::pki::Pki;
use rcgen::{ExtendedKeyUsagePurpose, SanType};

/// A TLS server requiring client certificates from the test CA.
async fn mtls_server(pki: &Pki) -> TestServer {
    // "localhost" only: the test dials 127.0.0.1 to exercise the domain-name override.
    let leaf = pki.leaf_with(ExtendedKeyUsagePurpose::ServerAuth, |p| {
        p.subject_alt_names
            .retain(|name| matches!(name, SanType::DnsName(_)));
    });
    pki.write("cert.pem", &leaf.cert_pem);
    pki.write("key.pem", &leaf.key_pem);
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
    // The server certificate names only "localhost"; we dial 127.0.0.1.
    let url = format!("https://127.0.0.1:{port}");
    let leaf = pki.leaf(ExtendedKeyUsagePurpose::ClientAuth);
    let (client_cert, client_key) = (leaf.cert_pem, leaf.key_pem);

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
