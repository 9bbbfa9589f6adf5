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
use crate::server::{Envelope, Inner, Mail};
use crate::v16::tariff_and_cost::running::{self, DisplayState, Followed};
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
    /// `GetConfiguration(CustomDisplayCostAndPrice, …)`: the support probe.
    CostSupport,
    /// An OCA cost message (`SetUserPrice`, `RunningCost`, `FinalCost`):
    /// answer only logged.
    CostMessage,
    /// `ChangeConfiguration` of a price display key: answer logged, and a
    /// refusal of `CustomIdleFeeAfterStop` remembered.
    Config { key: String, value: String },
}

/// Where the price display support probe stands on this connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Probe {
    NotAsked,
    /// No tariff was in force when looked at: asked when that changes.
    NoTariff,
    Asked,
    /// Answered: the charger does not display prices (until it reboots).
    Declined,
    /// Answered: it does (`Connection::display` is set).
    Supported,
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
    let (tx, mut mailbox) = mpsc::channel::<Mail>(settings.command_queue.max(1));
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
        probe: Probe::NotAsked,
        display: None,
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
    probe: Probe,
    /// Set once the charger declared `CustomDisplayCostAndPrice=true` on
    /// this connection (see `v16::tariff_and_cost`).
    display: Option<Box<DisplayState>>,
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
                () = crate::server::stopped(&mut shutdown) => Event::Shutdown,
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
        let display = self
            .display
            .as_ref()
            .and_then(|d| d.next_deadline(self.inner.service.now(), Instant::now()));
        display.map_or(wake, |d| wake.min(d))
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
            let _ = self.settle(done.reply, Err(timeout));
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
        if self.display.is_some() {
            Box::pin(self.display_tick()).await?;
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
        match follow_up {
            FollowUp::ProbeCostSupport => self.probe_cost_support().await,
            FollowUp::Cost(message) => self.on_cost_message(message).await,
        }
    }

    /// Asks a charger with a tariff in force whether it displays prices.
    /// Only a charger with a price to show is asked: the probe is one more
    /// round trip, which a reconnect storm of thousands of chargers pays
    /// for. A charger whose tariff is set later is asked then.
    async fn probe_cost_support(&mut self) -> Result<(), End> {
        let Some(display) = self.inner.price_display.get() else {
            return Ok(());
        };
        let now = self.inner.service.now();
        if tariff_and_cost::in_force(display, &self.charger, None, now)
            .await
            .is_none()
        {
            self.probe = Probe::NoTariff;
            return Ok(());
        }
        self.probe = Probe::Asked;
        self.send_own(
            "GetConfiguration",
            tariff_and_cost::support_probe(),
            OwnCall::CostSupport,
        )
        .await
    }

    /// The tariff in force may have changed (see `price_watch`).
    async fn on_price_changed(&mut self) -> Result<(), End> {
        match self.probe {
            Probe::Supported => self.push_price_config().await,
            Probe::NotAsked | Probe::NoTariff if self.accepted => self.probe_cost_support().await,
            Probe::NotAsked | Probe::NoTariff | Probe::Asked | Probe::Declined => Ok(()),
        }
    }

    /// Sets `DefaultPrice` and the related keys for the tariff in force
    /// now, unless they are what was last sent.
    async fn push_price_config(&mut self) -> Result<(), End> {
        let (Some(display), Some(state)) = (self.inner.price_display.get(), self.display.as_mut())
        else {
            return Ok(());
        };
        let now = self.inner.service.now();
        let Some((tariff, audience)) =
            tariff_and_cost::in_force(display, &self.charger, None, now).await
        else {
            tracing::info!("no tariff in force: DefaultPrice left as it is");
            state.config_boundary = None;
            return Ok(());
        };
        state.config_boundary =
            joule_domain::pricing::ValidTariff::new(tariff.tariff.clone(), tariff.extensions)
                .ok()
                .and_then(|valid| {
                    joule_domain::price_display::next_price_boundary(
                        &valid,
                        audience.time_zone,
                        now,
                    )
                });
        let Some(keys) = tariff_and_cost::configuration(&tariff, &state.support, audience, now)
        else {
            return Ok(());
        };
        // Only what changed since the last push goes out.
        let previous = state.last_config.replace(keys.clone()).unwrap_or_default();
        let changed: Vec<(String, String)> = keys
            .into_iter()
            .filter(|kv| !previous.contains(kv))
            .collect();
        for (key, value) in changed {
            let payload = serde_json::json!({ "key": key, "value": value });
            self.send_own(
                "ChangeConfiguration",
                payload,
                OwnCall::Config { key, value },
            )
            .await?;
        }
        Ok(())
    }

    /// Acts on what a handled CALL told the price display.
    async fn on_cost_message(&mut self, message: CostMessage) -> Result<(), End> {
        let Some(display) = self.inner.price_display.get() else {
            return Ok(());
        };
        let now_utc = self.inner.service.now();
        let now = Instant::now();
        let Some(state) = self.display.as_mut() else {
            return Ok(());
        };
        let mut out: Vec<serde_json::Value> = Vec::new();
        match message {
            CostMessage::SetUserPrice { id_tag } => {
                out.extend(
                    tariff_and_cost::set_user_price(display, &self.charger, now_utc, &id_tag).await,
                );
            }
            CostMessage::SessionStarted { session } => {
                let tx = session.transaction_id.get();
                if state
                    .sessions
                    .iter()
                    .any(|s| s.session.transaction_id.get() == tx)
                {
                    return Ok(());
                }
                let Some(tariff) = tariff_and_cost::frozen_tariff(display, &session).await else {
                    return Ok(());
                };
                let audience = tariff_and_cost::session_audience(display, &session).await;
                if let Some(mut followed) = Followed::new(*session, tariff, audience, now) {
                    out.extend(running::running_cost(display, &mut followed, now_utc, now).await);
                    state.sessions.push(followed);
                }
            }
            CostMessage::SessionStopped { session } => {
                let followed = state.take(session.transaction_id.get());
                let (tariff, audience) = match followed {
                    Some(f) => (Some(f.tariff), Some(f.audience)),
                    None => (
                        tariff_and_cost::frozen_tariff(display, &session).await,
                        None,
                    ),
                };
                let Some(tariff) = tariff else {
                    return Ok(());
                };
                let audience = match audience {
                    Some(audience) => audience,
                    None => tariff_and_cost::session_audience(display, &session).await,
                };
                let idle = state.idle_after_stop
                    && joule_domain::session_cost::bills_idle_after_stop(&tariff);
                match Followed::new((*session).clone(), tariff.clone(), audience, now) {
                    Some(mut followed) if idle => {
                        // FinalCost waits for the connector to be free.
                        followed.idle_after_stop = true;
                        out.extend(
                            running::running_cost(display, &mut followed, now_utc, now).await,
                        );
                        state.sessions.push(followed);
                    }
                    _ => out.extend(
                        tariff_and_cost::final_cost(
                            display,
                            &session,
                            Some(&tariff),
                            None,
                            now_utc,
                        )
                        .await,
                    ),
                }
            }
            CostMessage::MeterValues { transaction_id } => {
                let followed = state
                    .sessions
                    .iter_mut()
                    .find(|s| s.session.transaction_id.get() == transaction_id);
                if let Some(followed) = followed {
                    // The interval restarts from this RunningCost.
                    out.extend(running::running_cost(display, followed, now_utc, now).await);
                }
            }
            CostMessage::ConnectorAvailable { connector_id, at } => {
                let waiting = state.sessions.iter().find(|s| {
                    s.idle_after_stop
                        && i64::from(s.session.connector_id.get()) == i64::from(connector_id)
                });
                if let Some(tx) = waiting.map(|s| s.session.transaction_id.get()) {
                    if let Some(f) = state.take(tx) {
                        out.extend(unplugged(display, f, at, now_utc).await);
                    }
                }
            }
            CostMessage::Unplugged { transaction_id, at } => {
                let waiting = state
                    .sessions
                    .iter()
                    .any(|s| s.idle_after_stop && s.session.transaction_id.get() == transaction_id);
                if waiting {
                    if let Some(f) = state.take(transaction_id) {
                        out.extend(unplugged(display, f, at, now_utc).await);
                    }
                }
            }
        }
        for payload in out {
            self.send_own("DataTransfer", payload, OwnCall::CostMessage)
                .await?;
        }
        Ok(())
    }

    /// Sends the `RunningCost` of every followed session that is due, and
    /// re-sends `DefaultPrice` when the anonymous price changes.
    async fn display_tick(&mut self) -> Result<(), End> {
        let Some(display) = self.inner.price_display.get() else {
            return Ok(());
        };
        let now_utc = self.inner.service.now();
        let now = Instant::now();
        let Some(state) = self.display.as_mut() else {
            return Ok(());
        };
        let config_due = state.config_boundary.is_some_and(|b| b <= now_utc);
        let mut out = Vec::new();
        for followed in state.sessions.iter_mut().filter(|f| f.due(now_utc, now)) {
            let span = tracing::debug_span!("running_cost", session_id = %followed.session.id);
            out.extend(
                running::running_cost(display, followed, now_utc, now)
                    .instrument(span)
                    .await,
            );
        }
        for payload in out {
            self.send_own("DataTransfer", payload, OwnCall::CostMessage)
                .await?;
        }
        if config_due {
            self.push_price_config().await?;
        }
        Ok(())
    }

    /// Queues one of the connection's own calls (written now if nothing is
    /// in flight); a full queue drops it, logged.
    async fn send_own(&mut self, action: &str, payload: Value, own: OwnCall) -> Result<(), End> {
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

    /// Hands the answer (or failure) of one of our CALLs to whoever waits;
    /// returns whether the price display configuration is now due.
    fn settle(&mut self, waiter: Waiter, result: Result<Value, CommandError>) -> bool {
        match waiter {
            Waiter::Command(reply) => {
                let _ = reply.send(result);
            }
            Waiter::Own(OwnCall::CostSupport) => {
                let support = match &result {
                    Ok(answer) => tariff_and_cost::declared_support(answer),
                    Err(_) => None,
                };
                match result {
                    Ok(_) => tracing::info!(supported = support.is_some(), "price display support"),
                    Err(error) => tracing::info!(%error, "price display support unknown: off"),
                }
                match support {
                    Some(support) => {
                        self.probe = Probe::Supported;
                        self.display = Some(Box::new(DisplayState::new(support)));
                        return true;
                    }
                    None => {
                        self.probe = Probe::Declined;
                        self.display = None;
                    }
                }
            }
            Waiter::Own(OwnCall::CostMessage) => match result {
                Ok(answer) => {
                    let status = answer.get("status").and_then(Value::as_str).unwrap_or("?");
                    tracing::info!(status, "cost message answered");
                }
                Err(error) => tracing::warn!(%error, "cost message failed"),
            },
            Waiter::Own(OwnCall::Config { key, value }) => {
                let status = match &result {
                    Ok(answer) => answer.get("status").and_then(Value::as_str).unwrap_or("?"),
                    Err(_) => "failed",
                };
                if status == "Accepted" {
                    tracing::info!(%key, "price display key set");
                } else {
                    match &result {
                        Err(error) => tracing::warn!(%key, %error, "price display key not set"),
                        Ok(_) => tracing::warn!(%key, status, "price display key refused"),
                    }
                }
                if key == "CustomIdleFeeAfterStop" {
                    if let Some(state) = self.display.as_mut() {
                        state.idle_after_stop = status == "Accepted" && value == "true";
                    }
                }
            }
        }
        false
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
            cost_display: self.display.is_some(),
        };
        match dispatch(&ctx, decoded).await {
            Ok(handled) => {
                let mut follow_up = handled.cost.map(FollowUp::Cost);
                if handled.boot.is_none()
                    && self.probe == Probe::NotAsked
                    && self.inner.price_display.get().is_some()
                {
                    // An Accepted charger reconnecting without a boot: its
                    // first CALL (not a boot, which probes itself) sets up
                    // the price display, once per connection.
                    follow_up = follow_up.or(Some(FollowUp::ProbeCostSupport));
                }
                if let Some(registration) = handled.boot {
                    self.accepted = registration == RegistrationStatus::Accepted;
                    // A (re)boot may come with new firmware: ask again.
                    self.display = None;
                    self.probe = Probe::NotAsked;
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
        let configure = self.settle(done.reply, result);
        if let Some(next) = done.next_frame {
            self.write_call(next).await?;
        }
        if configure {
            self.push_price_config().await?;
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
                let _ = self.settle(full.reply, Err(busy));
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
        let was_current = self.inner.unregister(&self.charger, generation);
        mailbox.close();
        for drained in self.calls.drain() {
            let error = if drained.was_sent {
                CommandError::ConnectionClosed
            } else {
                CommandError::Offline(self.charger.clone())
            };
            let _ = self.settle(drained.reply, Err(error));
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

/// `FinalCost` of a session whose connector became free at `at` after an
/// idle-after-stop extension.
async fn unplugged(
    display: &tariff_and_cost::PriceDisplay,
    followed: Followed,
    at: chrono::DateTime<chrono::Utc>,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<Value> {
    let stop = followed.session.stopped_at.unwrap_or(at);
    tariff_and_cost::final_cost(
        display,
        &followed.session,
        Some(&followed.tariff),
        Some(at.max(stop).min(now.max(stop))),
        now,
    )
    .await
}
