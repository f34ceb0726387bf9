//! What a connection may hold, on either port: admission at accept and the clocks that
//! close it.
//!
//! - [`Gate`]: one per port. [`Gate::admit`] refuses a connection beyond
//!   `MFN_MAX_CONNECTIONS` on the port or `MFN_MAX_CONNECTIONS_PER_IP` from one client (an
//!   IPv4 address or an IPv6 /64, as the rate limiter groups them); a refused socket is
//!   closed at once, counted in `mfn_connections_refused_total{port,reason}` and logged at
//!   warn at most once per [`WARN_EVERY`]. `mfn_connections_open{port}` counts the
//!   admitted ones.
//! - [`Conn`]: the admitted IO. It holds the gate's [`Permit`] (released when the socket
//!   is dropped, upgraded WebSockets included) and closes itself when no request is in
//!   flight and
//!   - no request started within the first-request timeout (HTTP port:
//!     `MFN_HEADER_READ_TIMEOUT_S`; gRPC, where an HTTP/2 channel may connect before its
//!     first call: `MFN_IDLE_TIMEOUT_S`), or
//!   - none started or ended for `MFN_IDLE_TIMEOUT_S` (HTTP/2 pings do not count), or
//!   - the server is shutting down ([`Gate::close_idle`]): a half-open or idle
//!     connection would otherwise hold the drain for `MFN_SHUTDOWN_TIMEOUT_S`. One that
//!     never carried a request closes at once; one whose last request ended less than
//!     `DRAIN_GRACE` (1 s) ago waits out the rest of it (its response may still be in
//!     hyper's buffers).
//!
//!   Requests in flight are counted by [`Activity`]: the HTTP port's service, and on
//!   gRPC [`TrackLayer`] through the [`ConnInfo`] tonic puts in each request. A
//!   connection that switched protocols (WebSocket) is left to that protocol's own
//!   heartbeat, idle timeout and drain.
//! - [`raise_fd_limit`]: the open-files soft limit up to the hard one, with a warning when
//!   the caps need more descriptors than that.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use futures::Stream;
use futures::task::AtomicWaker;
use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, Sleep};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tracing::{debug, info, warn};

use crate::config::ConnectionConfig;

/// The shortest gap between two warnings of one port about refused connections or
/// failing accepts; the ones in between are counted into the next.
pub const WARN_EVERY: Duration = Duration::from_secs(10);

/// Pause after an accept error that is not about a single connection (for instance too
/// many open files), so that the loop does not spin while the condition lasts.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(100);

/// At shutdown, how long a connection whose last request just ended may stay open to
/// flush its response.
const DRAIN_GRACE: Duration = Duration::from_secs(1);

/// Descriptors kept for everything but client connections (listeners, the graph store,
/// certificates, logs, the OTLP exporter).
const RESERVED_FDS: u64 = 256;

/// Which port a gate guards: the `port` label of the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Port {
    /// REST, WebSocket, MCP, probes and metrics.
    Http,
    /// gRPC and gRPC-Web.
    Grpc,
}

impl Port {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Port::Http => "http",
            Port::Grpc => "grpc",
        }
    }
}

/// Why a connection was closed at accept: the `reason` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `MFN_MAX_CONNECTIONS` open on the port.
    MaxConnections,
    /// `MFN_MAX_CONNECTIONS_PER_IP` open from the client.
    MaxConnectionsPerIp,
    /// `MFN_MAX_TLS_HANDSHAKES` in progress.
    MaxTlsHandshakes,
}

impl Refusal {
    fn label(self) -> &'static str {
        match self {
            Refusal::MaxConnections => "max_connections",
            Refusal::MaxConnectionsPerIp => "max_connections_per_ip",
            Refusal::MaxTlsHandshakes => "max_tls_handshakes",
        }
    }

    fn setting(self) -> &'static str {
        match self {
            Refusal::MaxConnections => "MFN_MAX_CONNECTIONS",
            Refusal::MaxConnectionsPerIp => "MFN_MAX_CONNECTIONS_PER_IP",
            Refusal::MaxTlsHandshakes => "MFN_MAX_TLS_HANDSHAKES",
        }
    }
}

/// Why a [`Conn`] closed itself: the `reason` label of `mfn_connections_closed_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Close {
    FirstRequest,
    Idle,
    Shutdown,
}

impl Close {
    fn label(self) -> &'static str {
        match self {
            Close::FirstRequest => "first_request_timeout",
            Close::Idle => "idle_timeout",
            Close::Shutdown => "shutdown",
        }
    }

    fn error(self, timeouts: &Timeouts) -> io::Error {
        match self {
            Close::FirstRequest => io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "no request within {} s of connecting ({})",
                    timeouts.first_request.as_secs(),
                    timeouts.first_request_setting
                ),
            ),
            Close::Idle => io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "no request for {} s (MFN_IDLE_TIMEOUT_S)",
                    timeouts.idle.as_secs()
                ),
            ),
            Close::Shutdown => io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "server shutting down; no request in flight",
            ),
        }
    }
}

/// The clocks of a [`Conn`].
#[derive(Debug, Clone, Copy)]
struct Timeouts {
    first_request: Duration,
    first_request_setting: &'static str,
    idle: Duration,
}

/// Admission and lifetime of one port's connections; cheap to clone.
#[derive(Clone)]
pub struct Gate {
    inner: Arc<GateInner>,
}

struct GateInner {
    port: Port,
    max: usize,
    max_per_ip: usize,
    timeouts: Timeouts,
    open: Mutex<Open>,
    shutdown: CancellationToken,
    warned: Mutex<Warned>,
}

#[derive(Default)]
struct Open {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

#[derive(Default)]
struct Warned {
    last: Option<Instant>,
    suppressed: u64,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate")
            .field("port", &self.inner.port)
            .field("open", &self.open())
            .finish_non_exhaustive()
    }
}

impl Gate {
    /// The gate of `port` with the caps and timeouts of `config`.
    pub fn new(port: Port, config: &ConnectionConfig) -> Gate {
        let (first_request, first_request_setting) = match port {
            Port::Http if config.header_read_timeout < config.idle_timeout => {
                (config.header_read_timeout, "MFN_HEADER_READ_TIMEOUT_S")
            }
            _ => (config.idle_timeout, "MFN_IDLE_TIMEOUT_S"),
        };
        Gate {
            inner: Arc::new(GateInner {
                port,
                max: config.max_connections,
                max_per_ip: config.max_connections_per_ip,
                timeouts: Timeouts {
                    first_request,
                    first_request_setting,
                    idle: config.idle_timeout,
                },
                open: Mutex::default(),
                shutdown: CancellationToken::new(),
                warned: Mutex::default(),
            }),
        }
    }

    /// The port's admitted connections now.
    pub fn open(&self) -> usize {
        self.inner.lock().total
    }

    /// A permit for a connection from `peer`, or `None` (counted and logged) when the
    /// port or the client is at its cap.
    pub fn admit(&self, peer: SocketAddr) -> Option<Permit> {
        let key = crate::security::rate_limit::client_key(peer.ip());
        let refusal = {
            let mut open = self.inner.lock();
            let from_ip = open.per_ip.get(&key).copied().unwrap_or(0);
            if open.total >= self.inner.max {
                Some(Refusal::MaxConnections)
            } else if from_ip >= self.inner.max_per_ip {
                Some(Refusal::MaxConnectionsPerIp)
            } else {
                open.total += 1;
                open.per_ip.insert(key, from_ip + 1);
                None
            }
        };
        if let Some(reason) = refusal {
            self.refuse(reason, peer);
            return None;
        }
        metrics::gauge!("mfn_connections_open", "port" => self.inner.port.as_str()).increment(1.0);
        Some(Permit {
            gate: self.inner.clone(),
            key,
        })
    }

    /// Counts and (rate-limited) logs a connection from `peer` closed at accept.
    pub fn refuse(&self, reason: Refusal, peer: SocketAddr) {
        let port = self.inner.port.as_str();
        metrics::counter!(
            "mfn_connections_refused_total",
            "port" => port,
            "reason" => reason.label()
        )
        .increment(1);
        let limit = match reason {
            Refusal::MaxConnections => self.inner.max,
            Refusal::MaxConnectionsPerIp => self.inner.max_per_ip,
            Refusal::MaxTlsHandshakes => 0,
        };
        if let Some(suppressed) = self.should_warn() {
            warn!(
                port,
                %peer,
                setting = reason.setting(),
                limit,
                refused_since_last_warning = suppressed,
                "connection refused: {} reached",
                reason.setting()
            );
        }
    }

    /// `Some(events suppressed since the last warning)` when a warning may be logged now.
    fn should_warn(&self) -> Option<u64> {
        let mut warned = self
            .inner
            .warned
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        match warned.last {
            Some(last) if now.duration_since(last) < WARN_EVERY => {
                warned.suppressed += 1;
                None
            }
            _ => {
                warned.last = Some(now);
                Some(std::mem::take(&mut warned.suppressed))
            }
        }
    }

    /// `io` admitted with `permit`, under the port's clocks from now on.
    pub fn wrap<IO>(&self, io: IO, peer: SocketAddr, permit: Permit) -> Conn<IO> {
        let timeouts = self.inner.timeouts;
        let activity = Activity::new();
        let deadline = activity.0.epoch + timeouts.first_request;
        Conn {
            io,
            peer,
            activity,
            timeouts,
            clock: Box::pin(tokio::time::sleep_until(deadline)),
            shutdown: Box::pin(self.inner.shutdown.clone().cancelled_owned()),
            closed: None,
            permit,
        }
    }

    /// The shutdown: every connection without a request in flight closes now; the others
    /// drain.
    pub fn close_idle(&self) {
        self.inner.shutdown.cancel();
    }

    /// The next admitted connection on `listener`, with `TCP_NODELAY` set: streamed
    /// responses are several small writes, and with Nagle on the second one waits for the
    /// client's delayed ACK (~40 ms). Refused sockets are closed; accept errors are
    /// logged (rate-limited) and retried. Cancel-safe.
    pub async fn accept(&self, listener: &TcpListener) -> (TcpStream, SocketAddr, Permit) {
        loop {
            match listener.accept().await {
                Ok((tcp, peer)) => {
                    let Some(permit) = self.admit(peer) else {
                        continue;
                    };
                    if let Err(error) = tcp.set_nodelay(true) {
                        debug!(%peer, %error, "cannot set TCP_NODELAY");
                    }
                    return (tcp, peer, permit);
                }
                Err(error) if is_connection_error(&error) => debug!(%error, "accept failed"),
                Err(error) => {
                    if let Some(suppressed) = self.should_warn() {
                        warn!(
                            port = self.inner.port.as_str(),
                            %error,
                            failed_since_last_warning = suppressed,
                            "accept failed"
                        );
                    }
                    tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                }
            }
        }
    }

    /// The admitted connections of `listener` as the stream tonic serves; it ends only
    /// when dropped (which closes the listener).
    pub fn incoming(
        &self,
        listener: TcpListener,
    ) -> impl Stream<Item = io::Result<Conn<TcpStream>>> + Send + 'static {
        futures::stream::unfold((listener, self.clone()), |(listener, gate)| async move {
            let (tcp, peer, permit) = gate.accept(&listener).await;
            let conn = gate.wrap(tcp, peer, permit);
            Some((Ok(conn), (listener, gate)))
        })
    }
}

impl GateInner {
    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Errors about one connection that vanished before it was accepted.
pub fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// One admitted connection's place under its port's caps, released on drop.
pub struct Permit {
    gate: Arc<GateInner>,
    key: IpAddr,
}

impl std::fmt::Debug for Permit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Permit").field("key", &self.key).finish()
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        {
            let mut open = self.gate.lock();
            open.total = open.total.saturating_sub(1);
            if let Some(n) = open.per_ip.get_mut(&self.key) {
                *n -= 1;
                if *n == 0 {
                    open.per_ip.remove(&self.key);
                }
            }
        }
        metrics::gauge!("mfn_connections_open", "port" => self.gate.port.as_str()).decrement(1.0);
    }
}

/// The requests in flight on one connection, and when the last one started or ended.
#[derive(Clone)]
pub struct Activity(Arc<ActivityInner>);

struct ActivityInner {
    epoch: Instant,
    in_flight: AtomicUsize,
    /// Milliseconds after `epoch` of the last request start or end; `u64::MAX` before
    /// the first request.
    last_ms: AtomicU64,
    /// Switched protocols: its own timeouts and drain apply.
    exempt: AtomicBool,
    /// The connection's reader, woken when the last request ends.
    reader: AtomicWaker,
}

impl std::fmt::Debug for Activity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Activity")
            .field("in_flight", &self.0.in_flight.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Activity {
    fn new() -> Activity {
        Activity(Arc::new(ActivityInner {
            epoch: Instant::now(),
            in_flight: AtomicUsize::new(0),
            last_ms: AtomicU64::new(u64::MAX),
            exempt: AtomicBool::new(false),
            reader: AtomicWaker::new(),
        }))
    }

    /// A request started; it ends when the guard is dropped.
    pub fn begin(&self) -> InFlight {
        self.0.in_flight.fetch_add(1, Ordering::AcqRel);
        self.touch();
        InFlight(self.clone())
    }

    /// The connection switched protocols (WebSocket): no idle or shutdown close from
    /// here on; the session has its own.
    pub fn exempt(&self) {
        self.0.exempt.store(true, Ordering::Release);
    }

    fn touch(&self) {
        let ms = u64::try_from(self.0.epoch.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
        self.0.last_ms.store(ms, Ordering::Release);
    }

    /// When the last request started or ended; `None` before the first.
    fn last(&self) -> Option<Instant> {
        match self.0.last_ms.load(Ordering::Acquire) {
            u64::MAX => None,
            ms => Some(self.0.epoch + Duration::from_millis(ms)),
        }
    }
}

/// A request in flight on a connection (see [`Activity::begin`]).
pub struct InFlight(Activity);

impl std::fmt::Debug for InFlight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InFlight")
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        if self.0.0.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.0.reader.wake();
        }
    }
}

/// An admitted connection: its [`Permit`], and the clocks checked whenever the server
/// reads from it (see the [module](self)).
pub struct Conn<IO> {
    io: IO,
    peer: SocketAddr,
    activity: Activity,
    timeouts: Timeouts,
    clock: Pin<Box<Sleep>>,
    shutdown: Pin<Box<WaitForCancellationFutureOwned>>,
    closed: Option<Close>,
    permit: Permit,
}

impl<IO> std::fmt::Debug for Conn<IO> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("peer", &self.peer)
            .field("activity", &self.activity)
            .finish_non_exhaustive()
    }
}

impl<IO> Conn<IO> {
    /// The client's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The connection's request accounting.
    pub fn activity(&self) -> &Activity {
        &self.activity
    }

    /// Why the connection must close now, if it must; arms the wake-ups otherwise.
    fn check(&mut self, cx: &mut Context<'_>) -> Option<Close> {
        let activity = &self.activity.0;
        if activity.exempt.load(Ordering::Acquire) {
            return None;
        }
        if activity.in_flight.load(Ordering::Acquire) > 0 {
            activity.reader.register(cx.waker());
            // Registered before the re-check: the last request's end cannot be missed.
            if activity.in_flight.load(Ordering::Acquire) > 0 {
                return None;
            }
        }
        let draining = self.shutdown.as_mut().poll(cx).is_ready();
        let (deadline, why) = match (self.activity.last(), draining) {
            // Never a request, so no response to lose.
            (None, true) => return Some(Close::Shutdown),
            (None, false) => (
                activity.epoch + self.timeouts.first_request,
                Close::FirstRequest,
            ),
            // A response that just ended may still be in hyper's buffers: give it a moment
            // (hyper's own graceful close is usually quicker).
            (Some(last), true) => (last + DRAIN_GRACE.min(self.timeouts.idle), Close::Shutdown),
            (Some(last), false) => (last + self.timeouts.idle, Close::Idle),
        };
        if self.clock.deadline() != deadline {
            self.clock.as_mut().reset(deadline);
        }
        self.clock.as_mut().poll(cx).is_ready().then_some(why)
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Conn<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.closed.is_none()
            && let Some(why) = this.check(cx)
        {
            let port = this.permit.gate.port.as_str();
            metrics::counter!("mfn_connections_closed_total", "port" => port, "reason" => why.label())
                .increment(1);
            debug!(port, peer = %this.peer, reason = why.label(), "closing connection");
            this.closed = Some(why);
        }
        if let Some(why) = this.closed {
            return Poll::Ready(Err(why.error(&this.timeouts)));
        }
        Pin::new(&mut this.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Conn<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// What tonic puts in each request's extensions for a [`Conn`]: the client's address
/// (read by `security::peer_addr`) and the connection's [`Activity`] (read by
/// [`TrackLayer`]).
#[derive(Debug, Clone)]
pub struct ConnInfo {
    remote: SocketAddr,
    activity: Activity,
}

impl ConnInfo {
    /// The client's address.
    pub fn remote_addr(&self) -> SocketAddr {
        self.remote
    }
}

impl<IO> tonic::transport::server::Connected for Conn<IO> {
    type ConnectInfo = ConnInfo;

    fn connect_info(&self) -> ConnInfo {
        ConnInfo {
            remote: self.peer,
            activity: self.activity.clone(),
        }
    }
}

/// Counts each request as in flight on its connection until its response body ends.
#[derive(Debug, Clone, Copy, Default)]
pub struct TrackLayer;

impl<S> tower::Layer<S> for TrackLayer {
    type Service = Track<S>;

    fn layer(&self, inner: S) -> Track<S> {
        Track { inner }
    }
}

/// The service of [`TrackLayer`].
#[derive(Debug, Clone)]
pub struct Track<S> {
    inner: S,
}

impl<S, B, R> tower::Service<http::Request<B>> for Track<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
{
    type Response = http::Response<Guarded<R>>;
    type Error = S::Error;
    type Future = TrackFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let guard = req
            .extensions()
            .get::<ConnInfo>()
            .map(|c| c.activity.begin());
        TrackFuture {
            inner: self.inner.call(req),
            guard,
        }
    }
}

pin_project! {
    /// The response future of [`Track`].
    pub struct TrackFuture<F> {
        #[pin]
        inner: F,
        guard: Option<InFlight>,
    }
}

impl<F, R, E> Future for TrackFuture<F>
where
    F: Future<Output = Result<http::Response<R>, E>>,
{
    type Output = Result<http::Response<Guarded<R>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = ready!(this.inner.poll(cx))?;
        let guard = this.guard.take();
        Poll::Ready(Ok(response.map(|body| Guarded::new(body, guard))))
    }
}

pin_project! {
    /// A response body that keeps its request in flight until it ends or is dropped.
    pub struct Guarded<B> {
        #[pin]
        body: B,
        guard: Option<InFlight>,
    }
}

impl<B> Guarded<B> {
    /// `body`, holding `guard` until it ends.
    pub fn new(body: B, guard: Option<InFlight>) -> Guarded<B> {
        Guarded { body, guard }
    }
}

impl<B: http_body::Body> http_body::Body for Guarded<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<B::Data>, B::Error>>> {
        let this = self.project();
        let frame = ready!(this.body.poll_frame(cx));
        if frame.is_none() {
            this.guard.take();
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// Raises the open-files soft limit to the hard limit and warns when `ports` ports of
/// `config.max_connections` need more descriptors than that; the limit in force.
pub fn raise_fd_limit(config: &ConnectionConfig, ports: u64) -> Option<u64> {
    // A hard limit of "unlimited" cannot be the soft one on Linux (fs.nr_open caps it).
    let limit = rlimit::increase_nofile_limit(u64::MAX)
        .or_else(|_| rlimit::increase_nofile_limit(1 << 20))
        .or_else(|_| rlimit::Resource::NOFILE.get().map(|(soft, _)| soft));
    let limit = match limit {
        Ok(limit) => limit,
        Err(error) => {
            warn!(%error, "cannot read the open-files limit");
            return None;
        }
    };
    let max = u64::try_from(config.max_connections).unwrap_or(u64::MAX);
    let needed = max.saturating_mul(ports).saturating_add(RESERVED_FDS);
    if needed > limit {
        warn!(
            fd_limit = limit,
            needed,
            "MFN_MAX_CONNECTIONS={max} on {ports} port(s) needs about {needed} file descriptors \
             but the open-files limit is {limit}: lower MFN_MAX_CONNECTIONS or raise the hard \
             limit (`ulimit -Hn`, systemd `LimitNOFILE=`)"
        );
    } else {
        info!(fd_limit = limit, "open-files limit");
    }
    Some(limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(max: usize, per_ip: usize) -> ConnectionConfig {
        ConnectionConfig {
            max_connections: max,
            max_connections_per_ip: per_ip,
            ..ConnectionConfig::default()
        }
    }

    fn addr(ip: &str) -> SocketAddr {
        SocketAddr::new(ip.parse().unwrap(), 4000)
    }

    #[test]
    fn admit_caps_per_port_and_per_client() {
        let gate = Gate::new(Port::Http, &config(3, 2));
        let a1 = gate.admit(addr("10.0.0.1")).unwrap();
        let _a2 = gate.admit(addr("10.0.0.1")).unwrap();
        assert!(gate.admit(addr("10.0.0.1")).is_none(), "per-IP cap");
        // One IPv6 /64 is one client.
        let _b1 = gate.admit(addr("2001:db8::1")).unwrap();
        assert!(gate.admit(addr("10.0.0.2")).is_none(), "port cap");
        assert_eq!(gate.open(), 3);
        drop(a1);
        assert_eq!(gate.open(), 2);
        let _c = gate.admit(addr("10.0.0.1")).unwrap();
        let gate = Gate::new(Port::Http, &config(10, 1));
        let _d = gate.admit(addr("2001:db8::1")).unwrap();
        assert!(gate.admit(addr("2001:db8::2")).is_none());
        assert!(gate.admit(addr("2001:db8:0:1::1")).is_some());
    }

    #[test]
    fn warnings_are_rate_limited() {
        let gate = Gate::new(Port::Grpc, &config(1, 1));
        assert_eq!(gate.should_warn(), Some(0));
        assert_eq!(gate.should_warn(), None);
        assert_eq!(gate.should_warn(), None);
        gate.inner.warned.lock().unwrap().last = None;
        assert_eq!(gate.should_warn(), Some(2));
    }

    #[test]
    fn the_fd_limit_is_raised_to_the_hard_limit() {
        let limit = raise_fd_limit(&ConnectionConfig::default(), 2).unwrap();
        let (soft, hard) = rlimit::Resource::NOFILE.get().unwrap();
        assert_eq!(limit, soft);
        assert!(soft == hard || soft >= 1 << 20, "soft {soft}, hard {hard}");
    }
}
