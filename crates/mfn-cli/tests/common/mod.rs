//! Helpers shared by the CLI's process tests.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

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
