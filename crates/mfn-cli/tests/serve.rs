//! `mfn serve` as a process: configuration errors exit 64 before any port is bound;
//! flags beat the environment, which beats the file; a good configuration serves until
//! SIGTERM and then exits 0.

mod common;
use common::{Server, exit_within, free_port};

use std::io::Read;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `mfn serve` with an environment of the test's own: nothing inherited can change the
/// configuration.
fn mfn() -> Command {
    let mut c = common::mfn();
    c.arg("serve");
    c
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

/// Starts `cmd` and waits until it accepts on `port`; the server is killed on drop.
fn serving_on(cmd: &mut Command, port: u16) -> Server {
    let mut server = Server(
        cmd.stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            server.0.try_wait().unwrap().is_none(),
            "mfn serve exited instead of listening on {port}"
        );
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
    server
}

#[test]
fn flags_beat_the_environment_which_beats_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mfn.toml");
    let (in_file, in_env, in_flag) = (free_port(), free_port(), free_port());
    std::fs::write(
        &file,
        format!("grpc_port = {in_file}\nhttp_port = {}\n", free_port()),
    )
    .unwrap();
    let file = file.to_str().unwrap();

    // The file beats the default.
    drop(serving_on(mfn().args(["--config", file]), in_file));
    // The environment beats the file (the seeds' alias included).
    drop(serving_on(
        mfn()
            .args(["--config", file])
            .env("GRPC_PORT", in_env.to_string()),
        in_env,
    ));
    // A flag beats both, and replaces the variable and its alias: neither a bad value
    // nor a conflict between them matters any more. `--port` is seed 001's spelling.
    for flag in ["--grpc-port", "--port"] {
        drop(serving_on(
            mfn()
                .args(["--config", file, flag, &in_flag.to_string()])
                .env("MFN_GRPC_PORT", "not-a-port")
                .env("GRPC_PORT", in_env.to_string()),
            in_flag,
        ));
    }
    // The file may come from the environment too, and --http-port and --host apply.
    let http = free_port();
    drop(serving_on(
        mfn()
            .args(["--http-port", &http.to_string(), "--host", "127.0.0.1"])
            .env("MFN_CONFIG", file)
            .env("MFN_HTTP_PORT", "1"),
        http,
    ));
}

#[test]
fn a_bad_flag_exits_64_naming_the_flag_and_binds_nothing() {
    let port = free_port();
    let http = ["--http-port", &port.to_string()];
    let cases: [(&[&str], &str); 6] = [
        (
            &["--grpc-port", "70000"],
            "--grpc-port: must be in [0, 65535], got 70000",
        ),
        (&["--port", "fifty"], "--grpc-port: expected an integer"),
        (&["--host", "localhost"], "--host: expected an IP address"),
        (
            &["--env", "production-ish"],
            "--env: expected one of dev, staging, prod",
        ),
        (
            &["--config", "/nonexistent/mfn.toml"],
            "--config: cannot read",
        ),
        (
            &["--grpc-port", &port.to_string()],
            "--http-port: must differ from --grpc-port",
        ),
    ];
    for (args, expected) in cases {
        let out = exit_within(mfn().args(http).args(args));
        assert_eq!(out.status.code(), Some(64), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with(&format!("error: invalid configuration: {expected}")),
            "{args:?}: {err}"
        );
        TcpListener::bind(("127.0.0.1", port)).unwrap();
    }
    // --env beats MFN_ENV: staging's default authentication is signed (dev's is off),
    // which needs keys, so it refuses to start.
    let out = exit_within(
        mfn()
            .args(http)
            .args(["--grpc-port", &free_port().to_string(), "--env", "staging"])
            .env("MFN_ENV", "dev"),
    );
    assert_eq!(out.status.code(), Some(64), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("MFN_AUTH_MODE: signed authentication needs at least one api key"),
        "{err}"
    );
}

#[test]
fn help_lists_every_flag_with_its_variable() {
    let out = mfn().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for text in [
        "--grpc-port",
        "--port",
        "--http-port",
        "--host",
        "--config",
        "--env",
        "--data-dir",
        "MFN_GRPC_PORT, GRPC_PORT",
        "default: 50051",
        "values: dev, staging, prod",
    ] {
        assert!(help.contains(text), "{text} missing:\n{help}");
    }
}
