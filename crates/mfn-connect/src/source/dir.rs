//! The directory source (`dir:///PATH`): request files dropped into `PATH`.
//!
//! Every `poll_interval` the directory is scanned for regular files named `*.json`
//! (one request object, or an array of them) or `*.jsonl` (one request per line),
//! oldest name first; hidden files (`.name`) are skipped, so a writer can create
//! `.x.json` and rename it into place. A file is moved to `done/` once the result of
//! every request in it was acknowledged by the sink, or to `failed/` when any went to
//! the dead-letter sink instead (or the file is larger than `dir.max_file_bytes`, with
//! the reason in `failed/NAME.error.txt`). A file still in `PATH` after a crash is
//! processed again from the start.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use super::{Ack, Done, Envelope, SourceError};
use crate::config::DirSettings;

/// Split a document into request payloads with their 1-based line (JSONL) or index
/// (JSON array) numbers. Invalid JSON stays one payload, to be dead-lettered whole.
pub(crate) fn split(bytes: &[u8], jsonl: bool) -> Vec<(usize, Vec<u8>)> {
    if jsonl {
        return bytes
            .split(|b| *b == b'\n')
            .enumerate()
            .filter(|(_, line)| !line.iter().all(u8::is_ascii_whitespace))
            .map(|(i, line)| {
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                (i + 1, line.to_vec())
            })
            .collect();
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| (i + 1, serde_json::to_vec(&v).unwrap_or_default()))
            .collect(),
        _ => vec![(1, bytes.to_vec())],
    }
}

/// Watches one directory.
pub struct Watcher {
    dir: PathBuf,
    settings: DirSettings,
    /// Files handed over and not yet moved.
    active: Mutex<HashSet<PathBuf>>,
}

struct FileState {
    path: PathBuf,
    remaining: AtomicUsize,
    failed: AtomicBool,
    watcher: Arc<Watcher>,
}

impl FileState {
    fn finish_one(&self, how: Done) {
        if how == Done::DeadLetter {
            self.failed.store(true, Ordering::Relaxed);
        }
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            let to = if self.failed.load(Ordering::Relaxed) {
                "failed"
            } else {
                "done"
            };
            self.watcher.retire(&self.path, to, None);
        }
    }
}

impl Watcher {
    /// A watcher of `dir`.
    pub fn new(dir: PathBuf, settings: DirSettings) -> Self {
        Watcher {
            dir,
            settings,
            active: Mutex::new(HashSet::new()),
        }
    }

    /// Move `path` to `dir/<to>/`, with `reason` beside it.
    fn retire(&self, path: &Path, to: &str, reason: Option<&str>) {
        let Some(name) = path.file_name() else {
            return;
        };
        let target_dir = self.dir.join(to);
        let mut target = target_dir.join(name);
        if target.exists() {
            let stamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            target = target_dir.join(format!("{}.{stamp}", name.to_string_lossy()));
        }
        let moved =
            std::fs::create_dir_all(&target_dir).and_then(|()| std::fs::rename(path, &target));
        match moved {
            Ok(()) => info!(file = %path.display(), to, "request file finished"),
            Err(e) => error!(file = %path.display(), error = %e, "cannot move the request file"),
        }
        if let Some(reason) = reason {
            let note = target_dir.join(format!("{}.error.txt", name.to_string_lossy()));
            if let Err(e) = std::fs::write(&note, format!("{reason}\n")) {
                error!(file = %note.display(), error = %e, "cannot write the error note");
            }
        }
        self.active.lock().expect("active").remove(path);
    }

    fn scan(&self) -> std::io::Result<Vec<PathBuf>> {
        let active = self.active.lock().expect("active").clone();
        let mut files = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') || !(name.ends_with(".json") || name.ends_with(".jsonl")) {
                continue;
            }
            let path = entry.path();
            if entry.file_type()?.is_file() && !active.contains(&path) {
                files.push(path);
            }
        }
        files.sort();
        Ok(files)
    }

    /// Scan until `stop`; a file being handed over is handed over whole.
    pub async fn run(
        self: Arc<Self>,
        tx: mpsc::Sender<Envelope>,
        stop: CancellationToken,
    ) -> Result<(), SourceError> {
        for sub in ["done", "failed"] {
            std::fs::create_dir_all(self.dir.join(sub))
                .map_err(|e| SourceError::Dir(format!("{}/{sub}: {e}", self.dir.display())))?;
        }
        info!(dir = %self.dir.display(), "watching for request files");
        while !stop.is_cancelled() {
            let me = self.clone();
            let files = tokio::task::spawn_blocking(move || me.scan())
                .await
                .map_err(|e| SourceError::Dir(e.to_string()))?;
            match files {
                Ok(files) => {
                    for path in files {
                        if stop.is_cancelled() {
                            break;
                        }
                        if !self.feed(path, &tx).await {
                            return Ok(());
                        }
                    }
                }
                Err(e) => {
                    warn!(dir = %self.dir.display(), error = %e, "cannot scan the request directory")
                }
            }
            tokio::select! {
                () = tokio::time::sleep(self.settings.poll_interval) => {}
                () = stop.cancelled() => {}
            }
        }
        Ok(())
    }

    /// Hand over every request of one file; false when the runner is gone.
    async fn feed(self: &Arc<Self>, path: PathBuf, tx: &mpsc::Sender<Envelope>) -> bool {
        let len = match tokio::fs::metadata(&path).await {
            Ok(m) => m.len(),
            Err(_) => return true, // gone meanwhile
        };
        self.active.lock().expect("active").insert(path.clone());
        if len > self.settings.max_file_bytes {
            let reason = format!(
                "file of {len} bytes exceeds dir.max_file_bytes = {}",
                self.settings.max_file_bytes
            );
            warn!(file = %path.display(), %reason, "request file refused");
            self.retire(&path, "failed", Some(&reason));
            return true;
        }
        let bytes = match tokio::fs::read(&path).await {
            Ok(b) => b,
            Err(e) => {
                warn!(file = %path.display(), error = %e, "cannot read the request file");
                self.active.lock().expect("active").remove(&path);
                return true;
            }
        };
        let jsonl = path.extension().is_some_and(|e| e == "jsonl");
        let requests = split(&bytes, jsonl);
        let name = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        if requests.is_empty() {
            self.retire(&path, "done", None);
            return true;
        }
        let state = Arc::new(FileState {
            path: path.clone(),
            remaining: AtomicUsize::new(requests.len()),
            failed: AtomicBool::new(false),
            watcher: self.clone(),
        });
        info!(file = %path.display(), requests = requests.len(), "request file picked up");
        for (line, payload) in requests {
            let state = state.clone();
            let env = Envelope {
                payload,
                fallback_id: format!("{name}:{line}"),
                origin: format!("{}:{line}", path.display()),
                ack: Ack::new(move |how| state.finish_one(how)),
            };
            if tx.send(env).await.is_err() {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_lines_arrays_and_keeps_bad_json_whole() {
        let s = split(b"{\"a\":1}\n\n  \r\n{\"b\":2}\r\n", true);
        assert_eq!(
            s,
            vec![(1, b"{\"a\":1}".to_vec()), (4, b"{\"b\":2}".to_vec())]
        );
        let s = split(b"[{\"a\":1.5},{\"b\":[2]}]", false);
        assert_eq!(
            s,
            vec![(1, b"{\"a\":1.5}".to_vec()), (2, b"{\"b\":[2]}".to_vec())]
        );
        assert_eq!(split(b"{\"a\":1}", false), vec![(1, b"{\"a\":1}".to_vec())]);
        assert_eq!(split(b"{oops", false), vec![(1, b"{oops".to_vec())]);
        assert!(split(b"\n\n", true).is_empty());
    }
}
