//! `mfn serve` as a process: configuration errors exit 64 before any port is bound;
//! a good configuration serves until SIGTERM and then exits 0.

mod common;
use common::exit_within;

use std::io::Read;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn mfn() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mfn"));
    // The tests own the environment of the child: nothing inherited can change the config.
    c.env_clear().env("MFN_DATA_DIR", ":memory:").arg("serve");
    c
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn invalid_config_exits_64_with_one_clear_line_and_binds_nothing() {
    let port = free_port();
    let cases: [(&str, &str, &str); 5] = [
        ("GRPC_KEEPALIVE_TIME_MS", "soon", "GRPC_KEEPALIVE_TIME_MS"),
        ("GRPC_MAX_MESSAGE_SIZE", "0", "GRPC_MAX_MESSAGE_SIZE"),
        ("MFN_ENV", "production-ish", "MFN_ENV"),
        ("MFN_TLS_CERT_PATH", "/nonexistent/cert.pem", "MFN_TLS"),
        ("MFN_MAX_GRID_SIZE", "4096", "MFN_MAX_GRID_SIZE"),
    ];
    for (key, value, named) in cases {
        let out = exit_within(
            mfn()
                .args([
                    "--http-port",
                    &port.to_string(),
                    "--grpc-port",
                    &free_port().to_string(),
                ])
                .env(key, value),
        );
        assert_eq!(out.status.code(), Some(64), "{key}={value}");
        let err = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<_> = err.lines().collect();
        assert_eq!(lines.len(), 1, "{key}: {err}");
        assert!(
            lines[0].starts_with("error: invalid configuration"),
            "{err}"
        );
        assert!(lines[0].contains(named), "{err}");
        // Nothing was bound: the port is still free.
        TcpListener::bind(("127.0.0.1", port)).unwrap();
    }
}

#[test]
fn auth_without_keys_refuses_to_start() {
    let out = exit_within(
        mfn()
            .args([
                "--grpc-port",
                &free_port().to_string(),
                "--http-port",
                &free_port().to_string(),
            ])
            .env("MFN_AUTH_MODE", "key"),
    );
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("MFN_AUTH_MODE"));
}

#[cfg(unix)]
#[test]
fn serves_until_sigterm_then_exits_zero() {
    let (grpc, http) = (free_port(), free_port());
    let mut child = mfn()
        .args([
            "--grpc-port",
            &grpc.to_string(),
            "--http-port",
            &http.to_string(),
        ])
        .env("MFN_SHUTDOWN_TIMEOUT_S", "5")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", grpc)).is_err() {
        assert!(Instant::now() < deadline, "server never listened");
        std::thread::sleep(Duration::from_millis(20));
    }
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(
        log.contains("authentication is OFF"),
        "dev mode must say so: {log}"
    );
    assert!(log.contains("draining"), "{log}");
}
