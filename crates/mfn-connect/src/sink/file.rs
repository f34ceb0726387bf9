//! File sinks: JSON Lines or Parquet files in a directory, rotated by size and age.
//!
//! A file is written under a hidden temporary name (`.NAME.inprogress`), then
//! completed (Parquet: last row group and footer), `fsync`ed, renamed to its final
//! name and the directory `fsync`ed — so a reader never sees a partial file, and a
//! record's delivery resolves only once its file is in place. A crash leaves at most
//! an `.inprogress` file whose records were never acknowledged (and are re-delivered).
//!
//! File names: `{results|dead-letters}-{unix ms}-{random}-{seq}.{jsonl|parquet}`.
//!
//! Parquet schema (one row per record; Snappy-compressed):
//!
//! | column | type | |
//! |---|---|---|
//! | `request_id` | string | required |
//! | `operation` | string | required (empty when unknown) |
//! | `error_code` | string | null for results |
//! | `elapsed_ms` | double | null for dead letters |
//! | `completed_at` | timestamp (ms, UTC) | when the record was written |
//! | `json` | string | the whole result or dead-letter document |

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use parquet::schema::types::Type;
use tokio::sync::oneshot;
use tracing::{error, info};

use super::{Delivery, Record, Role, SinkError};
use crate::config::FileSettings;

/// The Parquet schema of result files.
pub const PARQUET_SCHEMA: &str = "message mfn_record {
  REQUIRED BYTE_ARRAY request_id (STRING);
  REQUIRED BYTE_ARRAY operation (STRING);
  OPTIONAL BYTE_ARRAY error_code (STRING);
  OPTIONAL DOUBLE elapsed_ms;
  REQUIRED INT64 completed_at (TIMESTAMP(MILLIS,true));
  REQUIRED BYTE_ARRAY json (STRING);
}";

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON document per line.
    Jsonl,
    /// Apache Parquet.
    Parquet,
}

impl Format {
    /// File extension and metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Parquet => "parquet",
        }
    }
}

type Ack = oneshot::Sender<Result<(), SinkError>>;

enum Cmd {
    Write(Record, Ack),
    Close(oneshot::Sender<()>),
}

/// A directory of rotated files, written by a thread of its own.
pub struct FileSink {
    format: Format,
    tx: Mutex<Option<mpsc::Sender<Cmd>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl FileSink {
    /// Create the directory if needed and start the writer thread.
    pub fn open(
        dir: PathBuf,
        format: Format,
        settings: FileSettings,
        role: Role,
    ) -> Result<Self, SinkError> {
        fs::create_dir_all(&dir)
            .map_err(|e| SinkError::File(format!("cannot create {}: {e}", dir.display())))?;
        let (tx, rx) = mpsc::channel();
        let writer = Writer {
            dir,
            format,
            settings,
            prefix: role.as_str(),
            tag: format!("{:08x}", rand::random::<u32>()),
            seq: 0,
            open: None,
        };
        let thread = std::thread::Builder::new()
            .name(format!("mfn-{}-writer", format.as_str()))
            .spawn(move || writer.run(rx))
            .map_err(|e| SinkError::File(format!("cannot start the writer thread: {e}")))?;
        Ok(FileSink {
            format,
            tx: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// The output format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Queue a record; its delivery resolves when its file is in place.
    pub fn publish(&self, record: Record) -> Result<Delivery, SinkError> {
        let (ack, done) = oneshot::channel();
        let tx = self.tx.lock().expect("file sink");
        tx.as_ref()
            .ok_or(SinkError::Closed)?
            .send(Cmd::Write(record, ack))
            .map_err(|_| SinkError::Closed)?;
        Ok(Delivery::new(async move {
            done.await.unwrap_or(Err(SinkError::Closed))
        }))
    }

    /// Complete the open file (resolving its deliveries) and stop the writer.
    pub async fn close(&self) {
        let tx = self.tx.lock().expect("file sink").take();
        if let Some(tx) = tx {
            let (done, wait) = oneshot::channel();
            if tx.send(Cmd::Close(done)).is_ok() {
                let _ = wait.await;
            }
        }
        let thread = self.thread.lock().expect("file sink").take();
        if let Some(t) = thread {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }
}

struct Writer {
    dir: PathBuf,
    format: Format,
    settings: FileSettings,
    prefix: &'static str,
    tag: String,
    seq: u64,
    open: Option<OpenFile>,
}

struct OpenFile {
    tmp: PathBuf,
    name: String,
    started: Instant,
    bytes: u64,
    acks: Vec<Ack>,
    body: Body,
}

enum Body {
    Jsonl(BufWriter<File>),
    Parquet {
        writer: Box<SerializedFileWriter<File>>,
        rows: Rows,
    },
}

#[derive(Default)]
struct Rows {
    request_id: Vec<ByteArray>,
    operation: Vec<ByteArray>,
    error_code: Vec<ByteArray>,
    error_code_def: Vec<i16>,
    elapsed_ms: Vec<f64>,
    elapsed_def: Vec<i16>,
    completed_at: Vec<i64>,
    json: Vec<ByteArray>,
}

impl Rows {
    fn len(&self) -> usize {
        self.request_id.len()
    }

    fn push(&mut self, r: &Record, now_ms: i64) {
        self.request_id.push(ByteArray::from(r.key.as_str()));
        self.operation.push(ByteArray::from(r.operation.as_str()));
        match r.error_code {
            Some(c) => {
                self.error_code.push(ByteArray::from(c));
                self.error_code_def.push(1);
            }
            None => self.error_code_def.push(0),
        }
        match r.elapsed_ms {
            Some(e) => {
                self.elapsed_ms.push(e);
                self.elapsed_def.push(1);
            }
            None => self.elapsed_def.push(0),
        }
        self.completed_at.push(now_ms);
        self.json.push(ByteArray::from(r.body.clone()));
    }

    /// Write the buffered rows as one row group.
    fn flush(&mut self, w: &mut SerializedFileWriter<File>) -> parquet::errors::Result<()> {
        if self.len() == 0 {
            return Ok(());
        }
        let mut rg = w.next_row_group()?;
        let mut index = 0;
        while let Some(mut col) = rg.next_column()? {
            match index {
                0 => {
                    col.typed::<ByteArrayType>()
                        .write_batch(&self.request_id, None, None)?;
                }
                1 => {
                    col.typed::<ByteArrayType>()
                        .write_batch(&self.operation, None, None)?;
                }
                2 => {
                    col.typed::<ByteArrayType>().write_batch(
                        &self.error_code,
                        Some(&self.error_code_def),
                        None,
                    )?;
                }
                3 => {
                    col.typed::<DoubleType>().write_batch(
                        &self.elapsed_ms,
                        Some(&self.elapsed_def),
                        None,
                    )?;
                }
                4 => {
                    col.typed::<Int64Type>()
                        .write_batch(&self.completed_at, None, None)?;
                }
                _ => {
                    col.typed::<ByteArrayType>()
                        .write_batch(&self.json, None, None)?;
                }
            }
            col.close()?;
            index += 1;
        }
        rg.close()?;
        *self = Rows::default();
        Ok(())
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn parquet_schema() -> Arc<Type> {
    Arc::new(parse_message_type(PARQUET_SCHEMA).expect("the schema parses"))
}

impl Writer {
    fn run(mut self, rx: mpsc::Receiver<Cmd>) {
        loop {
            let timeout = match &self.open {
                Some(f) => self
                    .settings
                    .rotate_after
                    .saturating_sub(f.started.elapsed()),
                None => Duration::from_secs(3600),
            };
            match rx.recv_timeout(timeout) {
                Ok(Cmd::Write(record, ack)) => {
                    if let Err(e) = self.write(&record, ack) {
                        error!(error = %e, dir = %self.dir.display(), "file sink write failed");
                    }
                    let full = self
                        .open
                        .as_ref()
                        .is_some_and(|f| f.bytes >= self.settings.rotate_bytes);
                    if full {
                        self.complete();
                    }
                }
                Ok(Cmd::Close(done)) => {
                    self.complete();
                    let _ = done.send(());
                    return;
                }
                Err(RecvTimeoutError::Timeout) => {
                    if self
                        .open
                        .as_ref()
                        .is_some_and(|f| f.started.elapsed() >= self.settings.rotate_after)
                    {
                        self.complete();
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.complete();
                    return;
                }
            }
        }
    }

    fn start_file(&mut self) -> Result<(), SinkError> {
        self.seq += 1;
        let name = format!(
            "{}-{}-{}-{:06}.{}",
            self.prefix,
            now_ms(),
            self.tag,
            self.seq,
            self.format.as_str()
        );
        let tmp = self.dir.join(format!(".{name}.inprogress"));
        let file = File::create(&tmp)
            .map_err(|e| SinkError::File(format!("cannot create {}: {e}", tmp.display())))?;
        let body = match self.format {
            Format::Jsonl => Body::Jsonl(BufWriter::new(file)),
            Format::Parquet => {
                let props = WriterProperties::builder()
                    .set_compression(Compression::SNAPPY)
                    .set_created_by(format!("mfn-connect {}", env!("CARGO_PKG_VERSION")))
                    .build();
                let writer = SerializedFileWriter::new(file, parquet_schema(), Arc::new(props))
                    .map_err(|e| SinkError::File(format!("parquet: {e}")))?;
                Body::Parquet {
                    writer: Box::new(writer),
                    rows: Rows::default(),
                }
            }
        };
        self.open = Some(OpenFile {
            tmp,
            name,
            started: Instant::now(),
            bytes: 0,
            acks: Vec::new(),
            body,
        });
        Ok(())
    }

    fn write(&mut self, record: &Record, ack: Ack) -> Result<(), SinkError> {
        if self.open.is_none()
            && let Err(e) = self.start_file()
        {
            let _ = ack.send(Err(e.clone()));
            return Err(e);
        }
        let rows_per_group = self.settings.row_group_rows;
        let f = self.open.as_mut().expect("file open");
        let result = match &mut f.body {
            Body::Jsonl(w) => w
                .write_all(&record.body)
                .and_then(|()| w.write_all(b"\n"))
                .map_err(|e| SinkError::File(e.to_string())),
            Body::Parquet { writer, rows } => {
                rows.push(record, now_ms());
                if rows.len() >= rows_per_group {
                    rows.flush(writer)
                        .map_err(|e| SinkError::File(format!("parquet: {e}")))
                } else {
                    Ok(())
                }
            }
        };
        match result {
            Ok(()) => {
                f.bytes += record.body.len() as u64 + 1;
                f.acks.push(ack);
                Ok(())
            }
            Err(e) => {
                // The file is unusable: fail every record it holds; they are published
                // again into the next file.
                let _ = ack.send(Err(e.clone()));
                self.abandon(&e);
                Err(e)
            }
        }
    }

    fn abandon(&mut self, e: &SinkError) {
        if let Some(f) = self.open.take() {
            let _ = fs::remove_file(&f.tmp);
            for a in f.acks {
                let _ = a.send(Err(e.clone()));
            }
        }
    }

    /// Finish, sync and rename the open file; resolve its deliveries.
    fn complete(&mut self) {
        let Some(f) = self.open.take() else {
            return;
        };
        let records = f.acks.len();
        let target = self.dir.join(&f.name);
        let result = finish_body(f.body).and_then(|file| {
            file.sync_all()?;
            fs::rename(&f.tmp, &target)?;
            sync_dir(&self.dir)
        });
        match result {
            Ok(()) => {
                info!(file = %target.display(), records, "file sink: file complete");
                for a in f.acks {
                    let _ = a.send(Ok(()));
                }
            }
            Err(e) => {
                let e = SinkError::File(format!("cannot complete {}: {e}", target.display()));
                error!(error = %e, "file sink");
                let _ = fs::remove_file(&f.tmp);
                for a in f.acks {
                    let _ = a.send(Err(e.clone()));
                }
            }
        }
    }
}

fn finish_body(body: Body) -> std::io::Result<File> {
    match body {
        Body::Jsonl(w) => w.into_inner().map_err(|e| e.into_error()),
        Body::Parquet {
            mut writer,
            mut rows,
        } => {
            let to_io = |e: parquet::errors::ParquetError| std::io::Error::other(e.to_string());
            rows.flush(&mut writer).map_err(to_io)?;
            writer.into_inner().map_err(to_io)
        }
    }
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::RowAccessor;

    fn record(i: usize, dead: bool) -> Record {
        Record {
            key: format!("r{i}"),
            body: format!("{{\"request_id\":\"r{i}\"}}").into_bytes(),
            operation: "nernst".into(),
            error_code: dead.then_some("INVALID_ARGUMENT"),
            elapsed_ms: (!dead).then_some(i as f64),
        }
    }

    fn settings(rotate_bytes: u64, rotate_secs: u64, row_group_rows: usize) -> FileSettings {
        FileSettings {
            rotate_bytes,
            rotate_after: Duration::from_secs(rotate_secs),
            row_group_rows,
        }
    }

    fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == ext))
            .collect();
        v.sort();
        v
    }

    #[tokio::test]
    async fn jsonl_rotates_by_size_and_acknowledges_after_the_rename() {
        let dir = tempfile::tempdir().unwrap();
        let sink = FileSink::open(
            dir.path().into(),
            Format::Jsonl,
            settings(1024, 3600, 10),
            Role::Results,
        )
        .unwrap();
        let mut deliveries = Vec::new();
        for i in 0..100 {
            deliveries.push(sink.publish(record(i, false)).unwrap());
        }
        // 100 records of ~17 bytes: files complete every 1024 bytes; the tail waits.
        let first = deliveries.remove(0);
        first.await.unwrap();
        assert!(!files(dir.path(), "jsonl").is_empty());
        sink.close().await;
        for d in deliveries {
            d.await.unwrap();
        }
        let all = files(dir.path(), "jsonl");
        assert!(all.len() >= 2, "{all:?}");
        let lines: Vec<String> = all
            .iter()
            .flat_map(|p| {
                fs::read_to_string(p)
                    .unwrap()
                    .lines()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(lines.len(), 100);
        assert_eq!(lines[99], "{\"request_id\":\"r99\"}");
        let hidden = fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with('.')
            })
            .count();
        assert_eq!(hidden, 0, "no in-progress file is left behind");
        assert!(sink.publish(record(0, false)).is_err(), "closed");
    }

    #[tokio::test]
    async fn parquet_rotates_by_time_with_row_groups_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let sink = FileSink::open(
            dir.path().into(),
            Format::Parquet,
            settings(1 << 30, 1, 4),
            Role::DeadLetters,
        )
        .unwrap();
        let mut deliveries = Vec::new();
        for i in 0..10 {
            deliveries.push(sink.publish(record(i, i % 3 == 0)).unwrap());
        }
        // Rotation by time: delivered without closing the sink.
        for d in deliveries {
            tokio::time::timeout(Duration::from_secs(10), d)
                .await
                .expect("rotated within the age limit")
                .unwrap();
        }
        let all = files(dir.path(), "parquet");
        assert_eq!(all.len(), 1);
        assert!(
            all[0]
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("dead-letters-")
        );
        let reader = SerializedFileReader::new(File::open(&all[0]).unwrap()).unwrap();
        let meta = reader.metadata();
        assert_eq!(meta.file_metadata().num_rows(), 10);
        assert_eq!(meta.num_row_groups(), 3, "4 + 4 + 2 rows");
        let rows: Vec<_> = reader
            .get_row_iter(None)
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(rows[3].get_string(0).unwrap(), "r3");
        assert_eq!(rows[3].get_string(2).unwrap(), "INVALID_ARGUMENT");
        assert!(rows[4].get_string(2).is_err(), "null for a result");
        assert_eq!(rows[4].get_double(3).unwrap(), 4.0);
        assert_eq!(rows[4].get_string(5).unwrap(), "{\"request_id\":\"r4\"}");
        sink.close().await;
    }
}
