//! The in-process baseline of the pipeline benchmark (docs/BENCHMARKS.md): the same
//! requests through the same registry call, parsing and result serialization, with no
//! transport. Prints one JSON line: `{"requests", "seconds", "per_second"}`.
//!
//! ```text
//! cargo run --release -p mfn-connect --example inprocess_rate -- requests.jsonl 16 1
//! #                                                              file  concurrency compute-workers
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use mfn_connect::{dispatch, message};
use mfn_service::{MfnService, ServiceConfig};
use tokio::sync::Semaphore;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: inprocess_rate REQUESTS.jsonl CONCURRENCY WORKERS");
        std::process::exit(2);
    }
    let text = std::fs::read_to_string(&args[1]).expect("requests file");
    let concurrency: usize = args[2].parse().expect("concurrency");
    let workers: usize = args[3].parse().expect("workers");
    let lines: Vec<Vec<u8>> = text.lines().map(|l| l.as_bytes().to_vec()).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let service = MfnService::new(ServiceConfig {
            workers,
            ..ServiceConfig::default()
        })
        .expect("service");
        let permits = Arc::new(Semaphore::new(concurrency));
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for (i, line) in lines.iter().cloned().enumerate() {
            let permit = permits.clone().acquire_owned().await.expect("open");
            let service = service.clone();
            tasks.spawn(async move {
                let _permit = permit;
                let t = Instant::now();
                let req = message::parse(&line, &format!("r-{i}")).expect("valid request");
                loop {
                    match dispatch::call(
                        &service,
                        "default",
                        &req.request_id,
                        &req.operation,
                        req.args.clone(),
                    )
                    .await
                    {
                        Ok(out) => {
                            let v = message::result(&req, out, t.elapsed());
                            return serde_json::to_vec(&v).expect("json").len();
                        }
                        Err(e) if dispatch::is_transient(&e) => {
                            tokio::time::sleep(Duration::from_millis(1)).await
                        }
                        Err(e) => panic!("{e}"),
                    }
                }
            });
            while tasks.try_join_next().is_some() {}
        }
        while tasks.join_next().await.is_some() {}
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "{{\"requests\": {}, \"seconds\": {seconds:.4}, \"per_second\": {:.1}}}",
            lines.len(),
            lines.len() as f64 / seconds
        );
    });
}
