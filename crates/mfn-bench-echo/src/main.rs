//! `mfn-bench-echo`: a bare tonic server with a unary echo and a server-streaming
//! echo — the baseline `scripts/bench.sh` measures `mfn serve` against, with the same
//! load generator on the same cores. It has none of MFN's layers (auth, rate limits,
//! metrics, audit, request ids, cache, compute gate), so the ratio of the two is what
//! our whole stack costs. Not part of the product; never deployed.
//!
//! ```text
//! mfn-bench-echo --port 50071     # serves mfnbench.echo.Echo on 127.0.0.1:50071
//! ```
//!
//! Transport settings match `mfn serve`'s defaults: TCP_NODELAY, 1000 concurrent
//! HTTP/2 streams per connection, a multi-threaded tokio runtime.

use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use clap::Parser;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

/// Generated from `proto/echo.proto`.
#[allow(missing_docs)]
mod pb {
    tonic::include_proto!("mfnbench.echo");
}

use pb::echo_server::{Echo, EchoServer};
use pb::{EchoReply, EchoRequest};

/// Bare tonic echo server (benchmark baseline).
#[derive(Debug, Parser)]
#[command(name = "mfn-bench-echo", version)]
struct Args {
    /// Address to bind
    #[arg(long, default_value = "127.0.0.1")]
    host: std::net::IpAddr,
    /// Port to bind (0 = any free port; the chosen one is printed on stdout)
    #[arg(long, default_value_t = 50071)]
    port: u16,
}

/// The echo service: no state at all.
struct EchoService;

type EchoStream = Pin<Box<dyn Stream<Item = Result<EchoReply, Status>> + Send>>;

#[tonic::async_trait]
impl Echo for EchoService {
    async fn unary_echo(
        &self,
        request: Request<EchoRequest>,
    ) -> Result<Response<EchoReply>, Status> {
        Ok(Response::new(EchoReply {
            payload: request.into_inner().payload,
            seq: 0,
        }))
    }

    type StreamEchoStream = EchoStream;

    async fn stream_echo(
        &self,
        request: Request<EchoRequest>,
    ) -> Result<Response<Self::StreamEchoStream>, Status> {
        let req = request.into_inner();
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        tokio::spawn(async move {
            let interval = Duration::from_millis(req.interval_ms.into());
            let mut seq = 0u32;
            while req.frames == 0 || seq < req.frames {
                let reply = EchoReply {
                    payload: req.payload.clone(),
                    seq,
                };
                if tx.send(Ok(reply)).await.is_err() {
                    return; // the client went away
                }
                seq += 1;
                tokio::time::sleep(interval).await;
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(args.host, args.port)).await?;
    println!("{}", listener.local_addr()?);
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    tonic::transport::Server::builder()
        .max_concurrent_streams(1000)
        .tcp_nodelay(true)
        .add_service(EchoServer::new(EchoService))
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await?;
    Ok(())
}
