//! One task per charger: it owns the socket, reads frames, answers the
//! charger's CALLs one at a time in arrival order, writes Joule's commands
//! (one in flight, via [`OutgoingCalls`]), pings a quiet charger and notices
//! a dead one.
//!
//! Memory matters here (tens of thousands of idle chargers per node): the
//! task keeps only small fixed state while idle; per-message work is boxed so
//! its future is allocated only while a message is being handled.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use joule_domain::charger::RegistrationStatus;
use joule_domain::command::CommandError;
use joule_domain::message_log::{Direction, FrameKind};
use joule_domain::tariffs::tariff_in_force;
use joule_domain::ChargerId;
use joule_ocpp::rpc::CallFailure;
use joule_ocpp::v16::{self, Action16, ChargePointCall};
use joule_ocpp::{ErrorCode, Frame, OcppVersion, OutgoingCalls, PayloadKind};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tracing::Instrument as _;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tungstenite::{Error as WsError, Message};

use crate::handshake::{self, OCPP16};
use crate::msglog::Logged;
use crate::rate::{Admission, TokenBucket};
use crate::server::{Envelope, Inner};
use crate::v16::tariff_and_cost::{self, CostMessage};
use crate::v16::{dispatch, Ctx};

const VERSION: OcppVersion = OcppVersion::V16;
/// How long a closing connection waits for the peer's Close reply.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Who waits for the answer to one of our CALLs.
enum Waiter {
    /// An operator command through the router.
    Command(oneshot::Sender<Result<Value, CommandError>>),
    /// A call the connection makes on its own; handled here.
    Own(OwnCall),
}

enum OwnCall {
    /// `GetConfiguration(CustomDisplayCostAndPrice)` after an accepted boot.
    CostSupport,
    /// An OCA cost message (`SetUserPrice`, `FinalCost`): answer only logged.
    CostMessage,
}

/// What the connection does once a CALLRESULT is written.
enum FollowUp {
    ProbeCostSupport,
    Cost(CostMessage),
}

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
    let (tx, mut mailbox) = mpsc::channel(settings.command_queue.max(1));
    let (generation, replaced) = inner.register(&charger, tx);
    if let Err(error) = inner
        .chargers
        .record_connection(&charger, Some(OCPP16), inner.service.now())
        .await
    {
        tracing::warn!(%error, "could not record connection");
    }
    tracing::info!("charger connected");
    let now = Instant::now();
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
        cost_display: false,
    };
    let end = conn.run(&mut mailbox, &replaced, shutdown).await;
    tracing::info!(reason = ?end, "connection ended");
    conn.finish(end, &mut mailbox, generation).await;
}

struct Connection {
    inner: Arc<Inner>,
    charger: ChargerId,
    ws: WebSocketStream<TcpStream>,
    calls: OutgoingCalls<Waiter>,
    /// Calls other than BootNotification are served (see crate docs).
    accepted: bool,
    bucket: TokenBucket,
    last_seen: Instant,
    ping_sent: Option<Instant>,
    /// The charger declared `CustomDisplayCostAndPrice=true` on this
    /// connection (see `v16::tariff_and_cost`).
    cost_display: bool,
}

enum Event {
    Shutdown,
    Replaced,
    Command(Box<Envelope>),
    Frame(Option<Result<Message, WsError>>),
    Timer,
}

impl Connection {
    async fn run(
        &mut self,
        mailbox: &mut mpsc::Receiver<Box<Envelope>>,
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
                () = crate::server::stopped(&mut shutdown) => Event::Shutdown,
                _ = replaced.notified() => Event::Replaced,
                Some(envelope) = mailbox.recv() => Event::Command(envelope),
                frame = self.ws.next() => Event::Frame(frame),
                _ = &mut timer => Event::Timer,
            };
            let step = match event {
                Event::Shutdown => Err(End::Shutdown),
                Event::Replaced => Err(End::Replaced),
                Event::Command(envelope) => Box::pin(self.on_command(envelope)).await,
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
        match self.calls.next_deadline() {
            Some(deadline) => keepalive.min(Instant::from_std(deadline)),
            None => keepalive,
        }
    }

    async fn on_read_error(&mut self, error: WsError) -> End {
        match error {
            WsError::Capacity(cap) => {
                self.log(Logged {
                    direction: Direction::In,
                    kind: FrameKind::Invalid,
                    action: None,
                    message_id: None,
                    frame: "<message above the frame limit, not kept>",
                    note: Some(format!("{cap}; connection closed with 1009")),
                })
                .await;
                End::TooBig
            }
            WsError::ConnectionClosed | WsError::AlreadyClosed => End::PeerClosed,
            other => End::Error(other),
        }
    }

    async fn on_timer(&mut self) -> Result<(), End> {
        let now = Instant::now();
        if let Some(done) = self.calls.on_tick(now.into_std()) {
            tracing::info!(action = %done.action, message_id = %done.message_id, "command timed out");
            let timeout = CommandError::Timeout(self.charger.clone());
            self.settle(done.reply, Err(timeout));
            if let Some(next) = done.next_frame {
                self.write_call(next).await?;
            }
        }
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
        Ok(())
    }

    async fn on_message(&mut self, message: Message) -> Result<(), End> {
        let (refuse, text) = match message {
            Message::Text(text) => (self.admit().await, text),
            Message::Binary(bytes) => {
                let _ = self.admit().await;
                self.log(Logged {
                    direction: Direction::In,
                    kind: FrameKind::Invalid,
                    action: None,
                    message_id: None,
                    frame: &format!("<binary frame, {} bytes>", bytes.len()),
                    note: Some("binary frames are not OCPP-J".to_owned()),
                })
                .await;
                let reply = Frame::call_error_reply(
                    joule_ocpp::frame::UNKNOWN_MESSAGE_ID,
                    ErrorCode::FormationViolation,
                    VERSION,
                    "binary frames are not OCPP-J; send text frames",
                );
                return self.reply(reply, None, None).await;
            }
            // Pings are answered by tungstenite; pongs and closes only count
            // as signs of life (a Close is answered and the stream then ends).
            Message::Ping(_) | Message::Pong(_) | Message::Close(_) | Message::Frame(_) => {
                return Ok(())
            }
        };
        let text = text.as_str();
        match Frame::parse(text) {
            Err(error) => {
                self.log(Logged {
                    direction: Direction::In,
                    kind: FrameKind::Invalid,
                    action: None,
                    message_id: Some(&error.message_id),
                    frame: text,
                    note: Some(error.description.clone()),
                })
                .await;
                match error.reply(VERSION) {
                    Some(reply) => self.reply(reply, None, None).await,
                    None => Ok(()),
                }
            }
            Ok(Frame::Call(call)) => self.on_call(call, text, refuse).await,
            Ok(response) => self.on_response(response, text).await,
        }
    }

    /// Applies the rate limit (see `rate.rs`); returns whether the frame
    /// must be refused.
    async fn admit(&mut self) -> bool {
        match self.bucket.admit(Instant::now().into_std()) {
            Admission::Now => false,
            Admission::After(wait) => {
                tokio::time::sleep(wait).await;
                false
            }
            Admission::RefuseAfter(wait) => {
                tokio::time::sleep(wait).await;
                true
            }
        }
    }

    async fn on_call(
        &mut self,
        call: joule_ocpp::Call,
        text: &str,
        refuse: bool,
    ) -> Result<(), End> {
        let span = tracing::debug_span!("ocpp_message", message_id = %call.message_id, action = %call.action);
        let message_id = call.message_id;
        let action = call.action;
        self.log(Logged {
            direction: Direction::In,
            kind: FrameKind::Call,
            action: Some(&action),
            message_id: Some(&message_id),
            frame: text,
            note: None,
        })
        .await;
        let (reply, note, follow_up) = if refuse {
            let reply = Frame::call_error_reply(
                message_id.as_str(),
                ErrorCode::GenericError,
                VERSION,
                "rate limit exceeded",
            );
            (reply, Some("rate limit exceeded".to_owned()), None)
        } else {
            self.answer(&message_id, &action, call.payload)
                .instrument(span)
                .await
        };
        self.reply(reply, Some(&action), note).await?;
        match follow_up {
            Some(follow_up) => self.follow_up(follow_up).await,
            None => Ok(()),
        }
    }

    /// Sends what a handled CALL asked for, now that its CALLRESULT is
    /// written, through the outgoing queue; never waits for the answer.
    async fn follow_up(&mut self, follow_up: FollowUp) -> Result<(), End> {
        let (action, payload, own) = match follow_up {
            FollowUp::ProbeCostSupport => {
                // Only a charger with a price to show is asked: the probe is
                // one more round trip per boot, which a reconnect storm of
                // thousands of chargers pays for. A charger whose tariff is
                // set later is asked at its next boot.
                let Some(display) = self.inner.price_display.get() else {
                    return Ok(());
                };
                let now = self.inner.service.now();
                let in_force = tariff_in_force(
                    display.assignments.as_ref(),
                    &self.charger,
                    joule_domain::ConnectorId::WHOLE_CHARGER,
                    None,
                    now,
                )
                .await;
                match in_force {
                    Ok(Some(joule_domain::tariffs::InForce {
                        tariff: Some(_), ..
                    })) => {}
                    Ok(_) => return Ok(()),
                    Err(error) => {
                        tracing::warn!(%error, "tariff lookup failed: price display off");
                        return Ok(());
                    }
                }
                (
                    "GetConfiguration",
                    tariff_and_cost::support_probe(),
                    OwnCall::CostSupport,
                )
            }
            FollowUp::Cost(message) => {
                let Some(display) = self.inner.price_display.get() else {
                    return Ok(());
                };
                let now = self.inner.service.now();
                match tariff_and_cost::build(display, &self.charger, now, message).await {
                    Some(payload) => ("DataTransfer", payload, OwnCall::CostMessage),
                    None => return Ok(()),
                }
            }
        };
        match self
            .calls
            .enqueue(action, payload, Waiter::Own(own), Instant::now().into_std())
        {
            Ok(Some(text)) => self.write_call(text).await,
            Ok(None) => Ok(()),
            Err(_) => {
                tracing::warn!(action, "outgoing queue full: own call dropped");
                Ok(())
            }
        }
    }

    /// Hands the answer (or failure) of one of our CALLs to whoever waits.
    fn settle(&mut self, waiter: Waiter, result: Result<Value, CommandError>) {
        match waiter {
            Waiter::Command(reply) => {
                let _ = reply.send(result);
            }
            Waiter::Own(OwnCall::CostSupport) => {
                self.cost_display =
                    matches!(&result, Ok(answer) if tariff_and_cost::declares_support(answer));
                match result {
                    Ok(_) => tracing::info!(supported = self.cost_display, "price display support"),
                    Err(error) => tracing::info!(%error, "price display support unknown: off"),
                }
            }
            Waiter::Own(OwnCall::CostMessage) => match result {
                Ok(answer) => {
                    let status = answer.get("status").and_then(Value::as_str).unwrap_or("?");
                    tracing::info!(status, "cost message answered");
                }
                Err(error) => tracing::warn!(%error, "cost message failed"),
            },
        }
    }

    /// Decodes, checks the boot state, handles; returns the answer frame, a
    /// log note and what to send once the answer is written.
    async fn answer(
        &mut self,
        message_id: &str,
        action: &str,
        payload: Value,
    ) -> (Frame, Option<String>, Option<FollowUp>) {
        let decoded = match v16::decode_charge_point_call(action, payload) {
            Ok(decoded) => decoded,
            Err(violation) => {
                tracing::debug!(%violation, "CALL refused");
                return (violation.reply(message_id, VERSION), None, None);
            }
        };
        if !self.accepted && !matches!(decoded, ChargePointCall::BootNotification(_)) {
            let reply = Frame::call_error_reply(
                message_id,
                ErrorCode::SecurityError,
                VERSION,
                "charger is not accepted: BootNotification must be accepted first",
            );
            return (
                reply,
                Some("refused before boot acceptance".to_owned()),
                None,
            );
        }
        let ctx = Ctx {
            charger: &self.charger,
            service: &self.inner.service,
            data_transfer: &self.inner.data_transfer,
            cost_display: self.cost_display,
        };
        match dispatch(&ctx, decoded).await {
            Ok(handled) => {
                let mut follow_up = handled.cost.map(FollowUp::Cost);
                if let Some(registration) = handled.boot {
                    self.accepted = registration == RegistrationStatus::Accepted;
                    // A (re)boot may come with new firmware: ask again.
                    self.cost_display = false;
                    if self.accepted && self.inner.price_display.get().is_some() {
                        follow_up = Some(FollowUp::ProbeCostSupport);
                    }
                }
                (
                    Frame::call_result(message_id, handled.payload),
                    handled.note,
                    follow_up,
                )
            }
            Err(error) => {
                tracing::warn!(%error, "CALL failed");
                let reply = Frame::call_error_reply(
                    message_id,
                    error.code(),
                    VERSION,
                    &error.description(),
                );
                (reply, Some(error.to_string()), None)
            }
        }
    }

    async fn on_response(&mut self, frame: Frame, text: &str) -> Result<(), End> {
        let kind = match frame {
            Frame::CallError(_) => FrameKind::CallError,
            _ => FrameKind::CallResult,
        };
        let Some(done) = self.calls.on_response(&frame, Instant::now().into_std()) else {
            self.log(Logged {
                direction: Direction::In,
                kind,
                action: None,
                message_id: Some(frame.message_id()),
                frame: text,
                note: Some("matches no outstanding call; ignored".to_owned()),
            })
            .await;
            return Ok(());
        };
        self.log(Logged {
            direction: Direction::In,
            kind,
            action: Some(&done.action),
            message_id: Some(&done.message_id),
            frame: text,
            note: None,
        })
        .await;
        let result = match done.outcome {
            Ok(payload) => match done.action.parse::<Action16>() {
                Ok(action) => joule_ocpp::schema::validate(action, PayloadKind::Response, &payload)
                    .map(|()| payload)
                    .map_err(|v| CommandError::InvalidResponse(v.description)),
                Err(_) => Ok(payload),
            },
            Err(CallFailure::CallError(e)) => Err(CommandError::CallError {
                code: e.code,
                description: e.description,
            }),
            Err(CallFailure::Timeout) => Err(CommandError::Timeout(self.charger.clone())),
        };
        self.settle(done.reply, result);
        if let Some(next) = done.next_frame {
            self.write_call(next).await?;
        }
        Ok(())
    }

    async fn on_command(&mut self, envelope: Box<Envelope>) -> Result<(), End> {
        let Envelope {
            command,
            action,
            reply,
        } = *envelope;
        match self.calls.enqueue(
            action.as_str(),
            command.payload,
            Waiter::Command(reply),
            Instant::now().into_std(),
        ) {
            Ok(Some(text)) => self.write_call(text).await,
            Ok(None) => Ok(()),
            Err(full) => {
                let busy = CommandError::Busy(self.charger.clone());
                self.settle(full.reply, Err(busy));
                Ok(())
            }
        }
    }

    async fn write_call(&mut self, text: String) -> Result<(), End> {
        let (action, message_id) = match Frame::parse(&text) {
            Ok(Frame::Call(call)) => (Some(call.action), Some(call.message_id)),
            _ => (None, None),
        };
        self.log(Logged {
            direction: Direction::Out,
            kind: FrameKind::Call,
            action: action.as_deref(),
            message_id: message_id.as_deref(),
            frame: &text,
            note: None,
        })
        .await;
        self.send(Message::text(text)).await
    }

    /// Writes our answer to a CALL (or to a broken frame) and logs it.
    async fn reply(
        &mut self,
        frame: Frame,
        action: Option<&str>,
        note: Option<String>,
    ) -> Result<(), End> {
        let kind = match frame {
            Frame::CallResult(_) => FrameKind::CallResult,
            Frame::CallError(_) => FrameKind::CallError,
            Frame::Call(_) => FrameKind::Call,
        };
        let text = frame.to_text();
        self.log(Logged {
            direction: Direction::Out,
            kind,
            action,
            message_id: Some(frame.message_id()),
            frame: &text,
            note,
        })
        .await;
        self.send(Message::text(text)).await
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

    async fn finish(
        mut self,
        end: End,
        mailbox: &mut mpsc::Receiver<Box<Envelope>>,
        generation: u64,
    ) {
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
        let was_current = self.inner.unregister(&self.charger, generation);
        mailbox.close();
        for drained in self.calls.drain() {
            let error = if drained.was_sent {
                CommandError::ConnectionClosed
            } else {
                CommandError::Offline(self.charger.clone())
            };
            self.settle(drained.reply, Err(error));
        }
        while let Ok(envelope) = mailbox.try_recv() {
            let _ = envelope
                .reply
                .send(Err(CommandError::Offline(self.charger.clone())));
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
