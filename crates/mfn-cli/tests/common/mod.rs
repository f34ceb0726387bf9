//! Helpers shared by the CLI's process tests. Each test binary uses a subset.
#![allow(dead_code)]

use std::net::TcpListener;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The `mfn` binary with an empty environment (no `MFN_*` leaks in from the caller)
/// and graphs in memory, so parallel servers do not share `./mfn-data`.
pub fn mfn() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mfn"));
    c.env_clear().env("MFN_DATA_DIR", ":memory:");
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
    let (server, url, _) = start_server_http(env);
    (server, url)
}

/// [`start_server`], also returning the HTTP port. Graphs stay in memory unless `env`
/// sets `MFN_DATA_DIR`.
pub fn start_server_http(env: &[(&str, &str)]) -> (Server, String, u16) {
    let port = free_port();
    let http_port = free_port();
    let child = mfn()
        .envs(env.iter().copied())
        .args(["serve", "--grpc-port", &port.to_string()])
        .args(["--http-port", &http_port.to_string()])
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
    while std::net::TcpStream::connect(("127.0.0.1", http_port)).is_err() {
        assert!(Instant::now() < deadline, "server never listened on HTTP");
        std::thread::sleep(Duration::from_millis(20));
    }
    (server, format!("http://127.0.0.1:{port}"), http_port)
}

/// One HTTP/1.1 request with a JSON body; returns the status and the body.
pub fn http(port: u16, method: &str, path: &str, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    let status = reply[9..12].parse().unwrap();
    let body = reply.split_once("\r\n\r\n").map_or("", |x| x.1).to_owned();
    (status, body)
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

/// A real `redis-server` (Debian's; `MFN_TEST_REDIS_SERVER` names another binary) on a
/// free loopback port, with its append-only file under a temporary directory, fsynced on
/// every write as deploy/README.md recommends. Killed however the test ends.
pub struct Redis {
    pub port: u16,
    pub dir: tempfile::TempDir,
    password: Option<String>,
    child: Option<Child>,
}

impl Redis {
    pub fn start() -> Redis {
        Self::start_with_password(None)
    }

    /// A server that requires `password` (`requirepass`) when given.
    pub fn start_with_password(password: Option<&str>) -> Redis {
        let mut redis = Redis {
            port: free_port(),
            dir: tempfile::tempdir().unwrap(),
            password: password.map(str::to_owned),
            child: None,
        };
        redis.restart();
        redis
    }

    /// `redis://127.0.0.1:PORT/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Start it (again, on the same port and files) and wait until it answers PING.
    pub fn restart(&mut self) {
        let binary =
            std::env::var("MFN_TEST_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let child = Command::new(&binary)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "yes", "--appendfsync", "always"])
            .arg("--dir")
            .arg(self.dir.path())
            .args(self.password.iter().flat_map(|p| ["--requirepass", p.as_str()]))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {binary}: {e}; install it (apt install redis-server) or set MFN_TEST_REDIS_SERVER")
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if self.ping() {
                return;
            }
            assert!(Instant::now() < deadline, "redis-server never answered");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: no shutdown, no final fsync.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    fn ping(&self) -> bool {
        use std::io::{Read, Write};
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
        let (request, expected) = match &self.password {
            Some(p) => (format!("AUTH {p}\r\nPING\r\n"), &b"+OK\r\n+PONG\r\n"[..]),
            None => ("PING\r\n".to_owned(), &b"+PONG\r\n"[..]),
        };
        let mut reply = vec![0u8; expected.len()];
        s.write_all(request.as_bytes()).is_ok()
            && s.read_exact(&mut reply).is_ok()
            && reply == expected
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill9();
    }
}
