//! One task per charger: it owns the socket, reads frames, answers the
//! charger's CALLs one at a time in arrival order (`inbound.rs`), writes
//! Joule's commands and its extension's own calls, one in flight
//! (`outbound.rs`), pings a quiet charger and notices a dead one. What rides
//! on a connection without being OCPP-J (the price display) is an extension
//! (`extension.rs`).
//!
//! Memory matters here (tens of thousands of idle chargers per node): the
//! task keeps only small fixed state while idle; per-message work is boxed so
//! its future is allocated only while a message is being handled.

pub(crate) mod extension;
mod inbound;
mod outbound;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use joule_domain::charging::charger::RegistrationStatus;
use joule_domain::ports::command::CommandError;
use joule_domain::ChargerId;
use joule_ocpp::v16::Action16;
use joule_ocpp::{OcppVersion, OutgoingCalls};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tracing::Instrument as _;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tungstenite::{Error as WsError, Message};

use self::extension::{ConnectionExtension, Link, OwnCall};
use crate::handshake::{self, OCPP16};
use crate::msglog::Logged;
use crate::rate::TokenBucket;
use crate::registry::Mail;
use crate::shutdown::stopped;
use crate::state::Inner;
use crate::v16::tariff_and_cost::CostExtension;

const VERSION: OcppVersion = OcppVersion::V16;
/// How long a closing connection waits for the peer's Close reply.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// The extension every 1.6 connection carries.
type Extension = CostExtension;
type Tag = <Extension as ConnectionExtension>::Tag;

/// Why a connection ended.
#[derive(Debug)]
enum End {
    PeerClosed,
    Replaced,
    Shutdown,
    /// No sign of life after a ping, or a write that never completed.
    Dead(&'static str),
    TooBig,
    Error(WsError),
}

/// Handshake, then the connection loop, then clean-up.
pub(crate) async fn handle(inner: &Arc<Inner>, mut stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let shutdown = inner.shutdown.subscribe();
    if *shutdown.borrow() {
        return;
    }
    let admitted = match tokio::time::timeout(
        inner.settings.handshake_timeout,
        handshake::accept(inner, &mut stream),
    )
    .await
    {
        Ok(Ok(admitted)) => admitted,
        Ok(Err(refusal)) => {
            tracing::debug!(%peer, %refusal, "handshake refused");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "handshake timed out");
            return;
        }
    };
    let max = inner.settings.max_frame_bytes;
    let config = WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_message_size(Some(max))
        .max_frame_size(Some(max));
    let ws = if admitted.rest.is_empty() {
        WebSocketStream::from_raw_socket(stream, Role::Server, Some(config)).await
    } else {
        WebSocketStream::from_partially_read(stream, admitted.rest, Role::Server, Some(config))
            .await
    };
    let span = tracing::info_span!("charger", charger_id = %admitted.charger, ocpp_version = "1.6");
    run(inner, ws, admitted.charger, admitted.registration, shutdown)
        .instrument(span)
        .await;
}

async fn run(
    inner: &Arc<Inner>,
    ws: WebSocketStream<TcpStream>,
    charger: ChargerId,
    registration: RegistrationStatus,
    shutdown: watch::Receiver<bool>,
) {
    let settings = &inner.settings;
    let (tx, mut mailbox) = mpsc::channel::<Mail>(settings.command_queue.max(1));
    let (generation, replaced) = inner.registry.register(&charger, tx);
    if let Err(error) = inner
        .chargers
        .record_connection(&charger, Some(OCPP16), inner.service.now())
        .await
    {
        tracing::warn!(%error, "could not record connection");
    }
    tracing::info!("charger connected");
    let now = Instant::now();
    let display = inner.price_display.get().map(|p| Arc::clone(&p.service));
    let mut conn = Connection {
        inner: Arc::clone(inner),
        charger,
        ws,
        calls: OutgoingCalls::new(settings.command_queue, settings.call_timeout),
        // A charger whose stored registration is Accepted may skip the boot
        // (common after a network drop); see the crate docs.
        accepted: registration == RegistrationStatus::Accepted,
        bucket: TokenBucket::new(
            settings.rate_limit_per_s,
            settings.rate_burst,
            now.into_std(),
        ),
        last_seen: now,
        ping_sent: None,
        extension: CostExtension::new(display),
    };
    let end = conn.run(&mut mailbox, &replaced, shutdown).await;
    tracing::info!(reason = ?end, "connection ended");
    conn.finish(end, &mut mailbox, generation).await;
}

struct Connection {
    inner: Arc<Inner>,
    charger: ChargerId,
    ws: WebSocketStream<TcpStream>,
    calls: OutgoingCalls<Waiter, Action16>,
    /// Calls other than BootNotification are served (see crate docs).
    accepted: bool,
    bucket: TokenBucket,
    last_seen: Instant,
    ping_sent: Option<Instant>,
    extension: Extension,
}

enum Event {
    Shutdown,
    Replaced,
    Mail(Mail),
    Frame(Option<Result<Message, WsError>>),
    Timer,
}

impl Connection {
    async fn run(
        &mut self,
        mailbox: &mut mpsc::Receiver<Mail>,
        replaced: &Notify,
        mut shutdown: watch::Receiver<bool>,
    ) -> End {
        let mut armed = self.next_wake();
        let timer = tokio::time::sleep_until(armed);
        tokio::pin!(timer);
        loop {
            // Re-arm only when the wake-up moves earlier; a timer that fires
            // early is harmless (`on_timer` re-checks), and this avoids a
            // timer reset per frame.
            let wake = self.next_wake();
            if wake < armed || timer.is_elapsed() {
                timer.as_mut().reset(wake);
                armed = wake;
            }
            let event = tokio::select! {
                biased;
                () = stopped(&mut shutdown) => Event::Shutdown,
                _ = replaced.notified() => Event::Replaced,
                Some(mail) = mailbox.recv() => Event::Mail(mail),
                frame = self.ws.next() => Event::Frame(frame),
                _ = &mut timer => Event::Timer,
            };
            let step = match event {
                Event::Shutdown => Err(End::Shutdown),
                Event::Replaced => Err(End::Replaced),
                Event::Mail(Mail::Command(envelope)) => Box::pin(self.on_command(envelope)).await,
                Event::Mail(Mail::PriceChanged) => Box::pin(self.on_price_changed()).await,
                Event::Frame(None) => Err(End::PeerClosed),
                Event::Frame(Some(Err(error))) => Err(self.on_read_error(error).await),
                Event::Frame(Some(Ok(message))) => {
                    self.last_seen = Instant::now();
                    self.ping_sent = None;
                    Box::pin(self.on_message(message)).await
                }
                Event::Timer => {
                    armed = Instant::now() + self.inner.settings.ping_interval;
                    Box::pin(self.on_timer()).await
                }
            };
            if let Err(end) = step {
                return end;
            }
        }
    }

    fn next_wake(&self) -> Instant {
        let settings = &self.inner.settings;
        let keepalive = match self.ping_sent {
            Some(at) => at + settings.pong_timeout,
            None => self.last_seen + settings.ping_interval,
        };
        let wake = match self.calls.next_deadline() {
            Some(deadline) => keepalive.min(Instant::from_std(deadline)),
            None => keepalive,
        };
        // The extension's wake-ups are on the clock; the timer is not.
        let extension = self.extension.next_wake().map(|at| {
            Instant::now() + (at - self.inner.service.now()).to_std().unwrap_or_default()
        });
        extension.map_or(wake, |e| wake.min(e))
    }

    async fn on_timer(&mut self) -> Result<(), End> {
        let now = Instant::now();
        self.on_call_timeout(now).await?;
        let settings = &self.inner.settings;
        match self.ping_sent {
            Some(at) if now >= at + settings.pong_timeout => {
                return Err(End::Dead("no answer to ping"));
            }
            None if now >= self.last_seen + settings.ping_interval => {
                self.send(Message::Ping(Default::default())).await?;
                self.ping_sent = Some(now);
            }
            _ => {}
        }
        let link = Link {
            charger: &self.charger,
            accepted: self.accepted,
        };
        let calls = self.extension.on_tick(&link).await;
        self.send_own_calls(calls).await
    }

    /// The tariff in force may have changed (see `price_watch`).
    async fn on_price_changed(&mut self) -> Result<(), End> {
        let link = Link {
            charger: &self.charger,
            accepted: self.accepted,
        };
        let calls = self.extension.on_price_changed(&link).await;
        self.send_own_calls(calls).await
    }

    /// Writes one message; a peer that stops reading for `call_timeout` is
    /// treated as dead rather than blocking the task forever.
    async fn send(&mut self, message: Message) -> Result<(), End> {
        match tokio::time::timeout(self.inner.settings.call_timeout, self.ws.send(message)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(End::Error(error)),
            Err(_) => Err(End::Dead("write did not complete")),
        }
    }

    async fn log(&self, entry: Logged<'_>) {
        self.inner
            .log
            .log(&self.charger, self.inner.service.now(), entry)
            .await;
    }

    /// Sends a Close frame (best effort) and waits briefly for the peer's.
    async fn close(&mut self, code: CloseCode, reason: &'static str) {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        let _ = tokio::time::timeout(CLOSE_GRACE, async {
            if self.ws.close(Some(frame)).await.is_ok() {
                while let Some(Ok(_)) = self.ws.next().await {}
            }
        })
        .await;
    }

    async fn finish(mut self, end: End, mailbox: &mut mpsc::Receiver<Mail>, generation: u64) {
        match &end {
            End::Shutdown => self.close(CloseCode::Away, "server shutting down").await,
            End::Replaced => {
                self.close(CloseCode::Normal, "replaced by a new connection")
                    .await
            }
            End::TooBig => self.close(CloseCode::Size, "message too big").await,
            End::Dead(reason) => self.close(CloseCode::Policy, reason).await,
            End::PeerClosed => {}
            End::Error(error) => tracing::debug!(%error, "websocket error"),
        }
        let was_current = self.inner.registry.unregister(&self.charger, generation);
        mailbox.close();
        for drained in self.calls.drain() {
            let error = if drained.was_sent {
                CommandError::ConnectionClosed
            } else {
                CommandError::Offline(self.charger.clone())
            };
            // Nothing more goes out on a closed connection.
            let _ = self.settle(drained.reply, Err(error)).await;
        }
        while let Ok(mail) = mailbox.try_recv() {
            if let Mail::Command(envelope) = mail {
                let _ = envelope
                    .reply
                    .send(Err(CommandError::Offline(self.charger.clone())));
            }
        }
        if was_current {
            if let Err(error) = self
                .inner
                .chargers
                .record_connection(&self.charger, None, self.inner.service.now())
                .await
            {
                tracing::warn!(%error, "could not record disconnection");
            }
        }
    }
}

/// Calls an extension asked for, in order.
type OwnCalls = Vec<OwnCall<Tag>>;

/// Who waits for the answer to one of our CALLs (`outbound.rs`).
enum Waiter {
    /// An operator command through the router.
    Command(oneshot::Sender<Result<Value, CommandError>>),
    /// One of the extension's own calls.
    Own(Tag),
}
