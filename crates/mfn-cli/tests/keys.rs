//! `mfn keys generate` round trip: the printed line, put in `MFN_API_KEYS_FILE`, lets
//! `mfn serve` (in prod, where keys are mandatory) accept the printed key and only it.

mod common;
use common::{Server, exit_within, free_port, mfn};

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mfn_proto::v1::NernstRequest;
use mfn_proto::v1::mycelium_service_client::MyceliumServiceClient;
use tonic::{Code, Request};

fn generate(name: &str) -> serde_json::Value {
    let out = mfn()
        .args(["keys", "generate", "--name", name, "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn serve(keys_file: &str, grpc: u16) -> Command {
    let mut c = mfn();
    c.args([
        "serve",
        "--grpc-port",
        &grpc.to_string(),
        "--http-port",
        &free_port().to_string(),
    ])
    .env("MFN_ENV", "prod")
    .env("MFN_HOST", "127.0.0.1")
    .env("MFN_AUTH_MODE", "key")
    .env("MFN_API_KEYS_FILE", keys_file);
    c
}

#[test]
fn generate_prints_a_key_once_with_its_file_line() {
    let g = generate("ci");
    let key = g["api_key"].as_str().unwrap();
    let line = g["file_line"].as_str().unwrap();
    assert_eq!(key.len(), 64);
    assert!(line.starts_with(g["sha256"].as_str().unwrap()), "{g}");
    assert!(
        line.contains("name=ci") && line.contains("scopes=compute"),
        "{g}"
    );
    assert!(!line.contains(key));
    assert_ne!(generate("ci")["api_key"], g["api_key"]);
    let bad = mfn()
        .args(["keys", "generate", "--scopes", "root"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn the_printed_line_lets_serve_accept_the_printed_key() {
    let g = generate("roundtrip");
    let key = g["api_key"].as_str().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys");
    std::fs::write(
        &path,
        format!("# mfn keys\n{}\n", g["file_line"].as_str().unwrap()),
    )
    .unwrap();
    let grpc = free_port();
    let _server = Server(
        serve(path.to_str().unwrap(), grpc)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut client = loop {
            match MyceliumServiceClient::connect(format!("http://127.0.0.1:{grpc}")).await {
                Ok(c) => break c,
                Err(e) => {
                    assert!(Instant::now() < deadline, "server never listened: {e}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        };
        let req = || NernstRequest {
            z_valence: 1,
            concentration_out_m: 0.005,
            concentration_in_m: 0.140,
            ..Default::default()
        };
        let mut with_key = Request::new(req());
        with_key
            .metadata_mut()
            .insert("x-api-key", key.parse().unwrap());
        client.compute_nernst(with_key).await.unwrap();
        let s = client.compute_nernst(req()).await.unwrap_err();
        assert_eq!(s.code(), Code::Unauthenticated);
    });
}

#[test]
fn a_malformed_key_file_or_no_keys_in_prod_exit_64() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys");
    std::fs::write(&path, "# ok\n\nnot-a-hash name=x\n").unwrap();
    let out = exit_within(&mut serve(path.to_str().unwrap(), free_port()));
    assert_eq!(out.status.code(), Some(64), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}: line 3", path.display())),
        "{err}"
    );

    let out = exit_within(
        mfn()
            .args([
                "serve",
                "--grpc-port",
                &free_port().to_string(),
                "--http-port",
                &free_port().to_string(),
            ])
            .env("MFN_ENV", "prod"),
    );
    assert_eq!(out.status.code(), Some(64), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs at least one api key"));
}
