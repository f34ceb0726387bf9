//! Helpers shared by the CLI's process tests. Each test binary uses a subset.
#![allow(dead_code)]

use std::net::TcpListener;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The `mfn` binary with an empty environment (no `MFN_*` leaks in from the caller).
pub fn mfn() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mfn"));
    c.env_clear();
    c
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An `mfn serve` process, killed however the test ends.
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start `mfn serve` on free ports with `env`; returns it and its gRPC URL once it listens.
pub fn start_server(env: &[(&str, &str)]) -> (Server, String) {
    let port = free_port();
    let child = mfn()
        .envs(env.iter().copied())
        .args(["serve", "--grpc-port", &port.to_string()])
        .args(["--http-port", &free_port().to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "server never listened");
        std::thread::sleep(Duration::from_millis(20));
    }
    (server, format!("http://127.0.0.1:{port}"))
}

/// Run a command that must exit by itself (e.g. `mfn serve` refusing its
/// configuration); one that keeps running is killed and fails the test instead of
/// hanging it.
pub fn exit_within(cmd: &mut Command) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("mfn serve started instead of refusing its configuration");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}
