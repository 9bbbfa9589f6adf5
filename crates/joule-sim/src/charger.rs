//! One simulated OCPP 1.6 charge point.
//!
//! Split in two, like a protocol state machine should be:
//!
//! - [`ChargerSim`] is the charger without I/O: it is fed events
//!   ([`ChargerSim::on_connected`], [`ChargerSim::on_text`],
//!   [`ChargerSim::on_tick`], [`ChargerSim::on_disconnected`]) and leaves
//!   frames to write in its outbox. Unit tests drive it directly.
//! - [`run_charger`] is the task that owns the socket: connect, feed, write,
//!   reconnect with back-off, and keep the clock running while offline.
//!
//! Behaviour (OCPP 1.6 use cases in brackets): BootNotification first and
//! nothing else until Accepted, retried after `interval` when Pending or
//! Rejected [§4.2]; StatusNotification for connector 0 and every connector
//! after boot [§4.9]; Heartbeat at the server's interval [§4.6]; RFID
//! sessions Authorize → Preparing → StartTransaction → Charging →
//! MeterValues … → StopTransaction with Transaction.Begin/End data →
//! Finishing → Available [§3.6, §4.1, §4.7, §4.8, §4.10]. Transaction
//! messages (StartTransaction, StopTransaction, transaction MeterValues) are
//! never lost: they are queued while offline or unanswered and resent after
//! the next boot, at most `TransactionMessageAttempts` times on timeout
//! [§3.16.1].

use std::collections::VecDeque;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures_util::{SinkExt, StreamExt};
use joule_ocpp::rpc::CallFailure;
use joule_ocpp::v16::{
    self, encode, AuthorizationStatus, AvailabilityStatus, AvailabilityType, CentralSystemCall,
    ChargePointErrorCode, ChargePointStatus, ConfigurationStatus, KeyValue, MessageTrigger,
    MeterValue, ReadingContext, Reason, RegistrationStatus, RemoteStartStopStatus,
    TriggerMessageStatus, UnlockStatus,
};
use joule_ocpp::{Frame, OutgoingCalls};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use crate::config_keys::{self, KEYS};
use crate::fleet_stats::FleetStats;
use crate::meter::{Meter, SignedContext};
use crate::replies::{reply_text, stateless_reply};
use crate::sim_config::SimConfig;
use crate::ws;

/// Calls that may wait behind the one in flight.
const CALL_QUEUE: usize = 128;
/// Transaction messages kept while offline (oldest MeterValues go first).
const OFFLINE_QUEUE: usize = 256;
/// `TransactionMessageAttempts`: sends of one transaction message on timeout.
const TX_ATTEMPTS: u8 = 3;
/// Wait before retrying a BootNotification that failed outright.
const BOOT_RETRY_ON_ERROR: Duration = Duration::from_secs(10);
/// Time between a Reset being accepted and the reboot.
const RESET_DELAY: Duration = Duration::from_secs(2);

/// What an outgoing call was for, so its answer reaches the right place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Boot,
    Heartbeat,
    Status,
    Authorize(usize),
    Start(usize),
    Stop(usize),
    /// MeterValues belonging to a transaction (kept while offline).
    TxMeter,
    /// MeterValues outside a transaction (triggered).
    Meter,
    DiagnosticsStatus,
    FirmwareStatus,
}

impl Kind {
    fn action(self) -> &'static str {
        match self {
            Kind::Boot => "BootNotification",
            Kind::Heartbeat => "Heartbeat",
            Kind::Status => "StatusNotification",
            Kind::Authorize(_) => "Authorize",
            Kind::Start(_) => "StartTransaction",
            Kind::Stop(_) => "StopTransaction",
            Kind::TxMeter | Kind::Meter => "MeterValues",
            Kind::DiagnosticsStatus => "DiagnosticsStatusNotification",
            Kind::FirmwareStatus => "FirmwareStatusNotification",
        }
    }

    /// Transaction-related: must reach the CSMS eventually (§3.16.1).
    fn is_transaction(self) -> bool {
        matches!(self, Kind::Start(_) | Kind::Stop(_) | Kind::TxMeter)
    }
}

/// The reply handle kept with each outgoing call.
#[derive(Debug)]
struct Pending {
    kind: Kind,
    /// The payload of a transaction message, to resend it after a drop.
    retained: Option<Value>,
    attempts: u8,
}

/// A transaction message waiting for a connection.
#[derive(Debug)]
struct Queued {
    kind: Kind,
    payload: Value,
    attempts: u8,
}

/// Where the charger is with the CSMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    Offline,
    /// BootNotification in flight.
    Booting,
    /// Pending or Rejected; boot again at this time.
    Waiting(Instant),
    Accepted,
}

#[derive(Debug)]
enum Session {
    /// No EV; the next driver arrives at `plug_at`.
    Idle {
        plug_at: Instant,
    },
    Authorizing {
        id_tag: String,
    },
    Starting {
        id_tag: String,
    },
    Charging(Box<Charging>),
    /// StopTransaction sent, waiting for its answer.
    Stopping,
    /// Cable still plugged; Available at `until`.
    Finishing {
        until: Instant,
    },
}

#[derive(Debug)]
struct Charging {
    transaction_id: i32,
    id_tag: String,
    ends_at: Instant,
    next_meter: Instant,
    /// When the meter was last advanced.
    metered_at: Instant,
    begin: MeterValue,
}

#[derive(Debug)]
struct Connector {
    id: i32,
    status: ChargePointStatus,
    operative: bool,
    /// ChangeAvailability Inoperative answered Scheduled: applies after the
    /// session ends.
    inoperative_scheduled: bool,
    meter: Meter,
    session: Session,
}

/// What to do after a CSMS call was answered (the CALLRESULT must precede
/// the messages it causes, e.g. TriggerMessage §5.17).
#[derive(Debug)]
enum FollowUp {
    RemoteStart(usize, String),
    Stop(usize, Reason),
    Reboot(Reason),
    Trigger(MessageTrigger, Option<i32>),
    Statuses(Vec<Option<usize>>),
}

/// One charge point, without I/O. See the module docs.
#[derive(Debug)]
pub struct ChargerSim {
    id: String,
    cfg: Arc<SimConfig>,
    stats: Arc<FleetStats>,
    rng: SmallRng,
    calls: OutgoingCalls<Pending>,
    outbox: Vec<String>,
    link: Link,
    heartbeat: Duration,
    next_heartbeat: Option<Instant>,
    meter_interval: Duration,
    cp_status: ChargePointStatus,
    connectors: Vec<Connector>,
    offline: VecDeque<Queued>,
    config_overrides: Vec<(&'static str, String)>,
    local_list_version: i32,
    reboot_at: Option<Instant>,
    reboot_due: bool,
    meter_serial: String,
}

impl ChargerSim {
    /// A charger named `id`, offline, with a deterministic random stream.
    pub fn new(
        id: String,
        cfg: Arc<SimConfig>,
        stats: Arc<FleetStats>,
        seed: u64,
        now: Instant,
    ) -> Self {
        let mut rng = SmallRng::seed_from_u64(seed);
        let connectors = (1..=cfg.connectors.max(1))
            .map(|n| {
                let register = rng.random_range(0.0..5_000_000.0);
                Connector {
                    id: n as i32,
                    status: ChargePointStatus::Available,
                    operative: true,
                    inoperative_scheduled: false,
                    meter: Meter::new(register, cfg.power_w, cfg.phases),
                    session: Session::Idle { plug_at: now },
                }
            })
            .collect();
        let mut sim = ChargerSim {
            meter_serial: format!("SIM-M-{id}"),
            id,
            heartbeat: cfg.heartbeat_interval.unwrap_or(Duration::from_secs(300)),
            meter_interval: cfg.meter_interval,
            calls: OutgoingCalls::new(CALL_QUEUE, cfg.call_timeout),
            cfg,
            stats,
            rng,
            outbox: Vec::new(),
            link: Link::Offline,
            next_heartbeat: None,
            cp_status: ChargePointStatus::Available,
            connectors,
            offline: VecDeque::new(),
            config_overrides: Vec::new(),
            local_list_version: 0,
            reboot_at: None,
            reboot_due: false,
        };
        // Drivers arrive spread over the first pause, not all at once.
        for i in 0..sim.connectors.len() {
            let plug_at = now + sim.pause();
            sim.connectors[i].session = Session::Idle { plug_at };
        }
        sim
    }

    /// The charger id (the last path segment of its URL).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Frames to write, in order.
    pub fn take_outbox(&mut self) -> Vec<String> {
        std::mem::take(&mut self.outbox)
    }

    /// A Reset is due: the task closes the socket and reconnects.
    pub fn take_reboot(&mut self) -> bool {
        std::mem::take(&mut self.reboot_due)
    }

    /// Booted and accepted by the CSMS.
    pub fn is_accepted(&self) -> bool {
        self.link == Link::Accepted
    }

    /// Transaction messages waiting for a connection.
    pub fn offline_queue_len(&self) -> usize {
        self.offline.len()
    }

    /// The transaction running on connector `connector_id`, if any.
    pub fn transaction_on(&self, connector_id: i32) -> Option<i32> {
        self.connectors.iter().find_map(|c| match &c.session {
            Session::Charging(ch) if c.id == connector_id => Some(ch.transaction_id),
            _ => None,
        })
    }

    /// The last status of connector `connector_id` (0: the charge point).
    pub fn status_of(&self, connector_id: i32) -> Option<ChargePointStatus> {
        if connector_id == 0 {
            return Some(self.cp_status);
        }
        self.connectors
            .iter()
            .find(|c| c.id == connector_id)
            .map(|c| c.status)
    }

    /// When [`ChargerSim::on_tick`] must run next.
    pub fn next_wakeup(&self) -> Option<Instant> {
        let mut wake = self
            .calls
            .next_deadline()
            .map(Instant::from_std)
            .into_iter()
            .chain(self.next_heartbeat)
            .chain(self.reboot_at)
            .chain(match self.link {
                Link::Waiting(at) => Some(at),
                _ => None,
            })
            .min();
        for c in &self.connectors {
            let at = match &c.session {
                Session::Idle { plug_at } => Some(*plug_at),
                Session::Charging(ch) => Some(ch.next_meter.min(ch.ends_at)),
                Session::Finishing { until } => Some(*until),
                Session::Authorizing { .. } | Session::Starting { .. } | Session::Stopping => None,
            };
            wake = match (wake, at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        wake
    }

    /// A random delay in `[min, max]` (secs as f64, so equal bounds work).
    fn between(&mut self, min: Duration, max: Duration) -> Duration {
        let (lo, hi) = (min.as_secs_f64(), max.as_secs_f64().max(min.as_secs_f64()));
        Duration::from_secs_f64(lo + (hi - lo) * self.rng.random::<f64>())
    }

    fn pause(&mut self) -> Duration {
        self.between(self.cfg.pause_min, self.cfg.pause_max)
    }

    /// Up to one second of jitter, for reconnects.
    pub fn jitter(&mut self) -> Duration {
        Duration::from_millis(self.rng.random_range(0..1_000))
    }

    // ---------------------------------------------------------------- events

    /// The socket is open: boot.
    pub fn on_connected(&mut self, now: Instant) {
        self.calls = OutgoingCalls::new(CALL_QUEUE, self.cfg.call_timeout);
        self.link = Link::Booting;
        self.send_boot(now);
    }

    /// The socket closed: unanswered transaction messages go back to the
    /// offline queue, in order, ahead of those queued since.
    pub fn on_disconnected(&mut self, _now: Instant) {
        let drained = self.calls.drain();
        let mut resend = Vec::new();
        for d in drained {
            let p = d.reply;
            if let Some(payload) = p.retained {
                resend.push(Queued {
                    kind: p.kind,
                    payload,
                    attempts: p.attempts,
                });
            } else if let Kind::Authorize(i) = p.kind {
                // The driver walks away; they will come back.
                let plug_at = _now + self.pause();
                self.connectors[i].session = Session::Idle { plug_at };
            }
        }
        for q in resend.into_iter().rev() {
            self.offline.push_front(q);
        }
        self.link = Link::Offline;
        self.next_heartbeat = None;
        self.outbox.clear();
    }

    /// A websocket text message arrived.
    pub fn on_text(&mut self, text: &str, now: Instant) {
        match Frame::parse(text) {
            Ok(Frame::Call(call)) => {
                let mut follow_up = None;
                let reply = reply_text(call, |decoded| {
                    let (payload, next) = self.answer(decoded);
                    follow_up = next;
                    payload
                });
                self.outbox.push(reply);
                self.stats.calls_answered.fetch_add(1, Relaxed);
                if let Some(next) = follow_up {
                    self.follow_up(next, now);
                }
            }
            Ok(response) => {
                if let Some(done) = self.calls.on_response(&response, now.into_std()) {
                    if let Some(next) = done.next_frame {
                        self.push_call_frame(next);
                    }
                    self.on_completed(done.reply, done.outcome, now);
                }
            }
            Err(broken) => {
                if let Some(reply) = broken.reply(joule_ocpp::OcppVersion::V16) {
                    self.outbox.push(reply.to_text());
                }
            }
        }
    }

    /// Time passed: timeouts, heartbeats, boots, sessions.
    pub fn on_tick(&mut self, now: Instant) {
        while let Some(done) = self.calls.on_tick(now.into_std()) {
            if let Some(next) = done.next_frame {
                self.push_call_frame(next);
            }
            self.on_completed(done.reply, done.outcome, now);
        }
        if let Link::Waiting(at) = self.link {
            if now >= at {
                self.link = Link::Booting;
                self.send_boot(now);
            }
        }
        if self.next_heartbeat.is_some_and(|at| now >= at) {
            self.next_heartbeat = Some(now + self.heartbeat);
            self.call(Kind::Heartbeat, encode(&v16::HeartbeatRequest {}), now);
        }
        if self.reboot_at.is_some_and(|at| now >= at) {
            self.reboot_at = None;
            self.reboot_due = true;
        }
        for i in 0..self.connectors.len() {
            self.tick_connector(i, now);
        }
    }

    fn tick_connector(&mut self, i: usize, now: Instant) {
        match &mut self.connectors[i].session {
            Session::Idle { plug_at } if now >= *plug_at => {
                let c = &self.connectors[i];
                let can_start = self.link == Link::Accepted
                    && c.operative
                    && c.status == ChargePointStatus::Available
                    && self.cp_status != ChargePointStatus::Unavailable
                    && !self.cfg.id_tags.is_empty();
                if can_start {
                    let tag =
                        self.cfg.id_tags[self.rng.random_range(0..self.cfg.id_tags.len())].clone();
                    self.connectors[i].session = Session::Authorizing {
                        id_tag: tag.clone(),
                    };
                    self.call(
                        Kind::Authorize(i),
                        encode(&v16::AuthorizeRequest { id_tag: tag }),
                        now,
                    );
                } else {
                    let plug_at = now + self.pause();
                    self.connectors[i].session = Session::Idle { plug_at };
                }
            }
            Session::Charging(ch) => {
                let (meter_due, end_due) = (now >= ch.next_meter, now >= ch.ends_at);
                if meter_due {
                    // Catch up without a burst after a long stall.
                    ch.next_meter = (ch.next_meter + self.meter_interval).max(now);
                    self.send_meter_values(i, ReadingContext::SamplePeriodic, now);
                }
                if end_due {
                    self.stop_transaction(i, Reason::EvDisconnected, now);
                }
            }
            Session::Finishing { until } if now >= *until => {
                let plug_at = now + self.pause();
                self.connectors[i].session = Session::Idle { plug_at };
                let c = &mut self.connectors[i];
                let status = if c.inoperative_scheduled || !c.operative {
                    c.inoperative_scheduled = false;
                    c.operative = false;
                    ChargePointStatus::Unavailable
                } else {
                    ChargePointStatus::Available
                };
                self.set_status(Some(i), status, now);
            }
            _ => {}
        }
    }

    // --------------------------------------------------------- outgoing calls

    fn push_call_frame(&mut self, text: String) {
        self.stats.calls_sent.fetch_add(1, Relaxed);
        self.outbox.push(text);
    }

    fn call(&mut self, kind: Kind, payload: Value, now: Instant) {
        self.call_attempt(kind, payload, 0, now);
    }

    fn call_attempt(&mut self, kind: Kind, payload: Value, attempts: u8, now: Instant) {
        let ready = match self.link {
            Link::Accepted => true,
            Link::Booting | Link::Waiting(_) => kind == Kind::Boot,
            Link::Offline => false,
        };
        if !ready {
            if kind.is_transaction() {
                self.queue_offline(Queued {
                    kind,
                    payload,
                    attempts,
                });
            }
            return;
        }
        let retained = kind.is_transaction().then(|| payload.clone());
        let pending = Pending {
            kind,
            retained,
            attempts,
        };
        match self
            .calls
            .enqueue(kind.action(), payload, pending, now.into_std())
        {
            Ok(Some(text)) => self.push_call_frame(text),
            Ok(None) => {}
            Err(full) => {
                if kind.is_transaction() {
                    self.queue_offline(Queued {
                        kind,
                        payload: full.payload,
                        attempts,
                    });
                } else {
                    self.stats.dropped.fetch_add(1, Relaxed);
                }
            }
        }
    }

    fn queue_offline(&mut self, q: Queued) {
        if self.offline.len() >= OFFLINE_QUEUE {
            // Periodic meter values are the least precious (§3.16.1 allows
            // dropping intermediate ones); Start/Stop are kept.
            match self.offline.iter().position(|o| o.kind == Kind::TxMeter) {
                Some(pos) => {
                    self.offline.remove(pos);
                }
                None => {
                    self.stats.dropped.fetch_add(1, Relaxed);
                    return;
                }
            }
            self.stats.dropped.fetch_add(1, Relaxed);
        }
        self.offline.push_back(q);
    }

    fn send_boot(&mut self, now: Instant) {
        let req = v16::BootNotificationRequest {
            charge_point_vendor: self.cfg.vendor.clone(),
            charge_point_model: self.cfg.model.clone(),
            charge_point_serial_number: Some(format!("SIM-{}", self.id).chars().take(25).collect()),
            charge_box_serial_number: None,
            firmware_version: Some(concat!("joule-sim-", env!("CARGO_PKG_VERSION")).to_owned()),
            iccid: None,
            imsi: None,
            meter_type: Some("SIM-METER".to_owned()),
            meter_serial_number: Some(self.meter_serial.chars().take(25).collect()),
        };
        self.call(Kind::Boot, encode(&req), now);
    }

    fn set_status(&mut self, connector: Option<usize>, status: ChargePointStatus, now: Instant) {
        let connector_id = match connector {
            Some(i) => {
                self.connectors[i].status = status;
                self.connectors[i].id
            }
            None => {
                self.cp_status = status;
                0
            }
        };
        self.send_status(connector_id, status, now);
    }

    fn send_status(&mut self, connector_id: i32, status: ChargePointStatus, now: Instant) {
        let req = v16::StatusNotificationRequest {
            connector_id,
            error_code: ChargePointErrorCode::NoError,
            info: None,
            status,
            timestamp: Some(Utc::now()),
            vendor_id: None,
            vendor_error_code: None,
        };
        self.call(Kind::Status, encode(&req), now);
    }

    fn send_all_statuses(&mut self, now: Instant) {
        self.send_status(0, self.cp_status, now);
        for i in 0..self.connectors.len() {
            let (id, status) = (self.connectors[i].id, self.connectors[i].status);
            self.send_status(id, status, now);
        }
    }

    /// Advances connector `i`'s meter to `now` if it is charging.
    fn accrue(&mut self, i: usize, now: Instant) {
        let c = &mut self.connectors[i];
        if let Session::Charging(ch) = &mut c.session {
            let secs = now.saturating_duration_since(ch.metered_at).as_secs_f64();
            ch.metered_at = now;
            c.meter.charge_for(secs);
        }
    }

    fn signed_sample(&mut self) -> bool {
        self.cfg.signed_share > 0.0 && self.rng.random::<f64>() < self.cfg.signed_share
    }

    fn send_meter_values(&mut self, i: usize, context: ReadingContext, now: Instant) {
        self.accrue(i, now);
        let signed = self.signed_sample();
        let c = &self.connectors[i];
        let transaction_id = match &c.session {
            Session::Charging(ch) => Some(ch.transaction_id),
            _ => None,
        };
        let signer = SignedContext {
            meter_serial: &self.meter_serial,
            transaction_id,
        };
        let sample = c.meter.sample(
            Utc::now(),
            context,
            transaction_id.is_some(),
            signed.then_some(&signer),
        );
        let req = v16::MeterValuesRequest {
            connector_id: c.id,
            transaction_id,
            meter_value: vec![sample],
        };
        let kind = if transaction_id.is_some() {
            Kind::TxMeter
        } else {
            Kind::Meter
        };
        self.stats.meter_values.fetch_add(1, Relaxed);
        self.call(kind, encode(&req), now);
    }

    fn start_transaction(&mut self, i: usize, id_tag: String, now: Instant) {
        let soc = self.rng.random_range(10.0..60.0);
        let battery = self.rng.random_range(40_000.0..90_000.0);
        let c = &mut self.connectors[i];
        c.meter.plug_in(soc, battery);
        let req = v16::StartTransactionRequest {
            connector_id: c.id,
            id_tag: id_tag.clone(),
            meter_start: c.meter.register_wh(),
            reservation_id: None,
            timestamp: Utc::now(),
        };
        c.session = Session::Starting { id_tag };
        self.call(Kind::Start(i), encode(&req), now);
    }

    fn stop_transaction(&mut self, i: usize, reason: Reason, now: Instant) {
        self.accrue(i, now);
        let signed = self.cfg.signed_share > 0.0;
        let c = &mut self.connectors[i];
        let Session::Charging(ch) = std::mem::replace(&mut c.session, Session::Stopping) else {
            return;
        };
        let signer = SignedContext {
            meter_serial: &self.meter_serial,
            transaction_id: Some(ch.transaction_id),
        };
        let end = c.meter.register_sample(
            Utc::now(),
            ReadingContext::TransactionEnd,
            signed.then_some(&signer),
        );
        let req = v16::StopTransactionRequest {
            id_tag: Some(ch.id_tag),
            meter_stop: c.meter.register_wh(),
            timestamp: Utc::now(),
            transaction_id: ch.transaction_id,
            reason: Some(reason),
            transaction_data: Some(vec![ch.begin, end]),
        };
        self.call(Kind::Stop(i), encode(&req), now);
    }

    // -------------------------------------------------------------- answers

    fn on_completed(&mut self, p: Pending, outcome: Result<Value, CallFailure>, now: Instant) {
        let payload = match outcome {
            Ok(payload) => payload,
            Err(CallFailure::Timeout) => {
                self.stats.timeouts.fetch_add(1, Relaxed);
                if let Some(retained) = p.retained {
                    if p.attempts + 1 < TX_ATTEMPTS {
                        self.call_attempt(p.kind, retained, p.attempts + 1, now);
                        return;
                    }
                }
                self.on_failed(p.kind, now);
                return;
            }
            Err(CallFailure::CallError(e)) => {
                self.stats.call_errors.fetch_add(1, Relaxed);
                tracing::debug!(charger_id = %self.id, action = p.kind.action(), code = %e.code, "CALLERROR");
                self.on_failed(p.kind, now);
                return;
            }
        };
        match p.kind {
            Kind::Boot => match v16::decode_response::<v16::BootNotificationResponse>(
                v16::Action16::BootNotification,
                payload,
            ) {
                Ok(resp) => self.on_boot(resp, now),
                Err(_) => self.on_failed(Kind::Boot, now),
            },
            Kind::Authorize(i) => {
                let accepted = v16::decode_response::<v16::AuthorizeResponse>(
                    v16::Action16::Authorize,
                    payload,
                )
                .is_ok_and(|r| r.id_tag_info.status == AuthorizationStatus::Accepted);
                let Session::Authorizing { id_tag } =
                    std::mem::replace(&mut self.connectors[i].session, Session::Stopping)
                else {
                    return;
                };
                if accepted {
                    self.set_status(Some(i), ChargePointStatus::Preparing, now);
                    self.start_transaction(i, id_tag, now);
                } else {
                    self.stats.authorize_rejected.fetch_add(1, Relaxed);
                    let plug_at = now + self.pause();
                    self.connectors[i].session = Session::Idle { plug_at };
                }
            }
            Kind::Start(i) => {
                match v16::decode_response::<v16::StartTransactionResponse>(
                    v16::Action16::StartTransaction,
                    payload,
                ) {
                    Ok(resp) => self.on_started(i, resp, now),
                    Err(_) => self.on_failed(Kind::Start(i), now),
                }
            }
            Kind::Stop(i) => self.on_stopped(i, now),
            Kind::Heartbeat
            | Kind::Status
            | Kind::TxMeter
            | Kind::Meter
            | Kind::DiagnosticsStatus
            | Kind::FirmwareStatus => {}
        }
    }

    fn on_failed(&mut self, kind: Kind, now: Instant) {
        match kind {
            Kind::Boot => {
                if self.link != Link::Accepted {
                    self.link = Link::Waiting(now + BOOT_RETRY_ON_ERROR);
                }
            }
            Kind::Authorize(i) => {
                if matches!(self.connectors[i].session, Session::Authorizing { .. }) {
                    let plug_at = now + self.pause();
                    self.connectors[i].session = Session::Idle { plug_at };
                }
            }
            Kind::Start(i) => {
                if matches!(self.connectors[i].session, Session::Starting { .. }) {
                    let plug_at = now + self.pause();
                    self.connectors[i].session = Session::Idle { plug_at };
                    self.set_status(Some(i), ChargePointStatus::Available, now);
                }
            }
            // Given up after the attempts: the session is over locally.
            Kind::Stop(i) => self.on_stopped(i, now),
            Kind::Heartbeat
            | Kind::Status
            | Kind::TxMeter
            | Kind::Meter
            | Kind::DiagnosticsStatus
            | Kind::FirmwareStatus => {}
        }
    }

    fn on_boot(&mut self, resp: v16::BootNotificationResponse, now: Instant) {
        let interval = Duration::from_secs(u64::try_from(resp.interval).unwrap_or(0));
        match resp.status {
            RegistrationStatus::Accepted => {
                self.heartbeat = self
                    .cfg
                    .heartbeat_interval
                    .unwrap_or(if interval.is_zero() {
                        Duration::from_secs(300)
                    } else {
                        interval
                    });
                self.next_heartbeat = Some(now + self.heartbeat);
                if self.link == Link::Accepted {
                    // A triggered BootNotification: nothing else changes.
                    return;
                }
                self.link = Link::Accepted;
                self.stats.boots_accepted.fetch_add(1, Relaxed);
                self.send_all_statuses(now);
                while let Some(q) = self.offline.pop_front() {
                    self.call_attempt(q.kind, q.payload, q.attempts, now);
                }
            }
            RegistrationStatus::Pending | RegistrationStatus::Rejected => {
                self.stats.boots_not_accepted.fetch_add(1, Relaxed);
                let retry = if interval.is_zero() {
                    BOOT_RETRY_ON_ERROR
                } else {
                    interval
                };
                if self.link != Link::Accepted {
                    self.link = Link::Waiting(now + retry);
                }
            }
        }
    }

    fn on_started(&mut self, i: usize, resp: v16::StartTransactionResponse, now: Instant) {
        let Session::Starting { id_tag } =
            std::mem::replace(&mut self.connectors[i].session, Session::Stopping)
        else {
            return;
        };
        self.stats.sessions_started.fetch_add(1, Relaxed);
        let signed = self.cfg.signed_share > 0.0;
        let signer = SignedContext {
            meter_serial: &self.meter_serial,
            transaction_id: Some(resp.transaction_id),
        };
        let begin = self.connectors[i].meter.register_sample(
            Utc::now(),
            ReadingContext::TransactionBegin,
            signed.then_some(&signer),
        );
        let length = self.between(self.cfg.session_min, self.cfg.session_max);
        self.connectors[i].session = Session::Charging(Box::new(Charging {
            transaction_id: resp.transaction_id,
            id_tag,
            ends_at: now + length,
            next_meter: now + self.meter_interval,
            metered_at: now,
            begin,
        }));
        if resp.id_tag_info.status == AuthorizationStatus::Accepted {
            self.set_status(Some(i), ChargePointStatus::Charging, now);
        } else {
            // StopTransactionOnInvalidId = true (§4.8).
            self.stop_transaction(i, Reason::DeAuthorized, now);
        }
    }

    fn on_stopped(&mut self, i: usize, now: Instant) {
        if !matches!(self.connectors[i].session, Session::Stopping) {
            return;
        }
        self.stats.sessions_stopped.fetch_add(1, Relaxed);
        let until = now + self.between(Duration::from_secs(2), Duration::from_secs(5));
        self.connectors[i].session = Session::Finishing { until };
        self.set_status(Some(i), ChargePointStatus::Finishing, now);
    }

    // ------------------------------------------------------- CSMS requests

    fn connector_index(&self, connector_id: i32) -> Option<usize> {
        usize::try_from(connector_id)
            .ok()
            .filter(|&n| n >= 1 && n <= self.connectors.len())
            .map(|n| n - 1)
    }

    fn config_value(&self, key: &'static str) -> String {
        match key {
            config_keys::HEARTBEAT_INTERVAL => self.heartbeat.as_secs().to_string(),
            config_keys::METER_VALUE_SAMPLE_INTERVAL => self.meter_interval.as_secs().to_string(),
            config_keys::NUMBER_OF_CONNECTORS => self.connectors.len().to_string(),
            _ => self
                .config_overrides
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.clone())
                .or_else(|| config_keys::lookup(key).map(|d| d.default.to_owned()))
                .unwrap_or_default(),
        }
    }

    /// The CALLRESULT payload for a decoded CSMS call, and what to do after
    /// it is sent.
    fn answer(&mut self, call: &CentralSystemCall) -> (Value, Option<FollowUp>) {
        use CentralSystemCall as C;
        match call {
            C::RemoteStartTransaction(req) => {
                let idle = |c: &Connector| {
                    c.operative
                        && c.status == ChargePointStatus::Available
                        && matches!(c.session, Session::Idle { .. })
                };
                let target = match req.connector_id {
                    Some(id) => self
                        .connector_index(id)
                        .filter(|&i| idle(&self.connectors[i])),
                    None => self.connectors.iter().position(idle),
                };
                let status = if target.is_some() && self.cp_status != ChargePointStatus::Unavailable
                {
                    RemoteStartStopStatus::Accepted
                } else {
                    RemoteStartStopStatus::Rejected
                };
                let follow = (status == RemoteStartStopStatus::Accepted)
                    .then(|| target.map(|i| FollowUp::RemoteStart(i, req.id_tag.clone())))
                    .flatten();
                (
                    encode(&v16::RemoteStartTransactionResponse { status }),
                    follow,
                )
            }
            C::RemoteStopTransaction(req) => {
                let target = self.connectors.iter().position(|c| {
                    matches!(&c.session, Session::Charging(ch) if ch.transaction_id == req.transaction_id)
                });
                let status = if target.is_some() {
                    RemoteStartStopStatus::Accepted
                } else {
                    RemoteStartStopStatus::Rejected
                };
                (
                    encode(&v16::RemoteStopTransactionResponse { status }),
                    target.map(|i| FollowUp::Stop(i, Reason::Remote)),
                )
            }
            C::Reset(req) => {
                let reason = match req.kind {
                    v16::ResetType::Hard => Reason::HardReset,
                    v16::ResetType::Soft => Reason::SoftReset,
                };
                (
                    encode(&v16::ResetResponse {
                        status: v16::ResetStatus::Accepted,
                    }),
                    Some(FollowUp::Reboot(reason)),
                )
            }
            C::UnlockConnector(req) => match self.connector_index(req.connector_id) {
                Some(i) => {
                    let follow = matches!(self.connectors[i].session, Session::Charging(_))
                        .then_some(FollowUp::Stop(i, Reason::UnlockCommand));
                    (
                        encode(&v16::UnlockConnectorResponse {
                            status: UnlockStatus::Unlocked,
                        }),
                        follow,
                    )
                }
                None => (
                    encode(&v16::UnlockConnectorResponse {
                        status: UnlockStatus::NotSupported,
                    }),
                    None,
                ),
            },
            C::ChangeAvailability(req) => self.change_availability(req.connector_id, req.kind),
            C::GetConfiguration(req) => {
                let key_value = |sim: &Self, def: &config_keys::KeyDef| KeyValue {
                    key: def.key.to_owned(),
                    readonly: def.readonly,
                    value: Some(sim.config_value(def.key)),
                };
                let resp = match &req.key {
                    None => v16::GetConfigurationResponse {
                        configuration_key: Some(KEYS.iter().map(|d| key_value(self, d)).collect()),
                        unknown_key: None,
                    },
                    Some(keys) => {
                        let (mut known, mut unknown) = (Vec::new(), Vec::new());
                        for key in keys {
                            match config_keys::lookup(key) {
                                Some(def) => known.push(key_value(self, def)),
                                None => unknown.push(key.chars().take(50).collect()),
                            }
                        }
                        v16::GetConfigurationResponse {
                            configuration_key: (!known.is_empty()).then_some(known),
                            unknown_key: (!unknown.is_empty()).then_some(unknown),
                        }
                    }
                };
                (encode(&resp), None)
            }
            C::ChangeConfiguration(req) => {
                let status = match config_keys::lookup(&req.key) {
                    None => ConfigurationStatus::NotSupported,
                    Some(def) if def.readonly => ConfigurationStatus::Rejected,
                    Some(def) if !config_keys::value_fits(def, &req.value) => {
                        ConfigurationStatus::Rejected
                    }
                    Some(def) => {
                        self.apply_config(def.key, req.value.trim());
                        ConfigurationStatus::Accepted
                    }
                };
                (encode(&v16::ChangeConfigurationResponse { status }), None)
            }
            C::TriggerMessage(req) => {
                let connector_ok = match req.connector_id {
                    None | Some(0) => true,
                    Some(id) => self.connector_index(id).is_some(),
                };
                let status = if connector_ok {
                    TriggerMessageStatus::Accepted
                } else {
                    TriggerMessageStatus::Rejected
                };
                (
                    encode(&v16::TriggerMessageResponse { status }),
                    connector_ok
                        .then_some(FollowUp::Trigger(req.requested_message, req.connector_id)),
                )
            }
            C::ClearCache(_) => (
                encode(&v16::ClearCacheResponse {
                    status: v16::ClearCacheStatus::Accepted,
                }),
                None,
            ),
            C::DataTransfer(_) => (
                encode(&v16::DataTransferResponse {
                    status: v16::DataTransferStatus::UnknownVendorId,
                    data: None,
                }),
                None,
            ),
            C::GetLocalListVersion(_) => (
                encode(&v16::GetLocalListVersionResponse {
                    list_version: self.local_list_version,
                }),
                None,
            ),
            C::SendLocalList(req) => {
                self.local_list_version = req.list_version;
                (
                    encode(&v16::SendLocalListResponse {
                        status: v16::UpdateStatus::Accepted,
                    }),
                    None,
                )
            }
            C::CancelReservation(_)
            | C::ClearChargingProfile(_)
            | C::GetCompositeSchedule(_)
            | C::GetDiagnostics(_)
            | C::ReserveNow(_)
            | C::SetChargingProfile(_)
            | C::UpdateFirmware(_) => (stateless_reply(call), None),
        }
    }

    fn apply_config(&mut self, key: &'static str, value: &str) {
        let secs = || value.parse::<u64>().ok().map(Duration::from_secs);
        match key {
            config_keys::HEARTBEAT_INTERVAL => {
                if let Some(d) = secs().filter(|d| !d.is_zero()) {
                    self.heartbeat = d;
                }
            }
            config_keys::METER_VALUE_SAMPLE_INTERVAL => {
                if let Some(d) = secs().filter(|d| !d.is_zero()) {
                    self.meter_interval = d;
                }
            }
            _ => match self.config_overrides.iter_mut().find(|(k, _)| *k == key) {
                Some((_, v)) => *v = value.to_owned(),
                None => self.config_overrides.push((key, value.to_owned())),
            },
        }
    }

    fn change_availability(
        &mut self,
        connector_id: i32,
        kind: AvailabilityType,
    ) -> (Value, Option<FollowUp>) {
        let reply = |status| encode(&v16::ChangeAvailabilityResponse { status });
        let targets: Vec<usize> = if connector_id == 0 {
            (0..self.connectors.len()).collect()
        } else {
            match self.connector_index(connector_id) {
                Some(i) => vec![i],
                None => return (reply(AvailabilityStatus::Rejected), None),
            }
        };
        let mut changed = Vec::new();
        let mut scheduled = false;
        match kind {
            AvailabilityType::Operative => {
                if connector_id == 0 && self.cp_status == ChargePointStatus::Unavailable {
                    self.cp_status = ChargePointStatus::Available;
                    changed.push(None);
                }
                for i in targets {
                    let c = &mut self.connectors[i];
                    c.operative = true;
                    c.inoperative_scheduled = false;
                    if c.status == ChargePointStatus::Unavailable {
                        c.status = ChargePointStatus::Available;
                        changed.push(Some(i));
                    }
                }
            }
            AvailabilityType::Inoperative => {
                for i in targets {
                    let c = &mut self.connectors[i];
                    if matches!(c.session, Session::Idle { .. }) {
                        c.operative = false;
                        if c.status != ChargePointStatus::Unavailable {
                            c.status = ChargePointStatus::Unavailable;
                            changed.push(Some(i));
                        }
                    } else {
                        c.inoperative_scheduled = true;
                        scheduled = true;
                    }
                }
                if connector_id == 0
                    && !scheduled
                    && self.cp_status != ChargePointStatus::Unavailable
                {
                    self.cp_status = ChargePointStatus::Unavailable;
                    changed.push(None);
                }
            }
        }
        let status = if scheduled {
            AvailabilityStatus::Scheduled
        } else {
            AvailabilityStatus::Accepted
        };
        (
            reply(status),
            (!changed.is_empty()).then_some(FollowUp::Statuses(changed)),
        )
    }

    fn follow_up(&mut self, next: FollowUp, now: Instant) {
        match next {
            FollowUp::RemoteStart(i, id_tag) => {
                // AuthorizeRemoteTxRequests = false: no Authorize (§5.11).
                self.set_status(Some(i), ChargePointStatus::Preparing, now);
                self.start_transaction(i, id_tag, now);
            }
            FollowUp::Stop(i, reason) => self.stop_transaction(i, reason, now),
            FollowUp::Reboot(reason) => {
                for i in 0..self.connectors.len() {
                    self.stop_transaction(i, reason, now);
                }
                self.reboot_at = Some(now + RESET_DELAY);
            }
            FollowUp::Statuses(which) => {
                for target in which {
                    let (id, status) = match target {
                        Some(i) => (self.connectors[i].id, self.connectors[i].status),
                        None => (0, self.cp_status),
                    };
                    self.send_status(id, status, now);
                }
            }
            FollowUp::Trigger(message, connector_id) => {
                let targets: Vec<usize> = match connector_id {
                    Some(id) if id > 0 => self.connector_index(id).into_iter().collect(),
                    _ => (0..self.connectors.len()).collect(),
                };
                match message {
                    MessageTrigger::BootNotification => self.send_boot(now),
                    MessageTrigger::Heartbeat => {
                        self.call(Kind::Heartbeat, encode(&v16::HeartbeatRequest {}), now)
                    }
                    MessageTrigger::StatusNotification => {
                        if connector_id.is_none_or(|id| id == 0) {
                            self.send_status(0, self.cp_status, now);
                        }
                        if connector_id != Some(0) {
                            for i in targets {
                                let (id, status) =
                                    (self.connectors[i].id, self.connectors[i].status);
                                self.send_status(id, status, now);
                            }
                        }
                    }
                    MessageTrigger::MeterValues => {
                        for i in targets {
                            self.send_meter_values(i, ReadingContext::Trigger, now);
                        }
                    }
                    MessageTrigger::DiagnosticsStatusNotification => self.call(
                        Kind::DiagnosticsStatus,
                        encode(&v16::DiagnosticsStatusNotificationRequest {
                            status: v16::DiagnosticsStatus::Idle,
                        }),
                        now,
                    ),
                    MessageTrigger::FirmwareStatusNotification => self.call(
                        Kind::FirmwareStatus,
                        encode(&v16::FirmwareStatusNotificationRequest {
                            status: v16::FirmwareStatus::Idle,
                        }),
                        now,
                    ),
                }
            }
        }
    }
}

/// Why a connected period ended.
enum End {
    Shutdown,
    Reboot,
    Dropped,
}

/// Runs one charger until `shutdown` fires: connect, boot, behave,
/// reconnect with exponential back-off (1 s … 60 s plus jitter).
pub async fn run_charger(mut sim: ChargerSim, shutdown: CancellationToken) {
    let cfg = Arc::clone(&sim.cfg);
    let stats = Arc::clone(&sim.stats);
    let mut failures: u32 = 0;
    loop {
        if shutdown.is_cancelled() {
            return;
        }
        let connect = ws::connect(
            &cfg.base_url,
            &sim.id,
            cfg.password.as_deref(),
            cfg.connect_timeout,
        );
        let result = tokio::select! {
            r = connect => r,
            _ = shutdown.cancelled() => return,
        };
        let wait = match result {
            Ok(socket) => {
                failures = 0;
                stats.connects.fetch_add(1, Relaxed);
                stats.connected.fetch_add(1, Relaxed);
                let end = connected(&mut sim, socket, &shutdown).await;
                stats.connected.fetch_sub(1, Relaxed);
                sim.on_disconnected(Instant::now());
                match end {
                    End::Shutdown => return,
                    End::Reboot => Duration::from_secs(1) + sim.jitter(),
                    End::Dropped => {
                        stats.disconnects.fetch_add(1, Relaxed);
                        Duration::from_secs(1) + sim.jitter()
                    }
                }
            }
            Err(e) => {
                stats.connect_failures.fetch_add(1, Relaxed);
                tracing::debug!(charger_id = %sim.id, error = %e, "connect failed");
                failures = failures.saturating_add(1);
                backoff(failures) + sim.jitter()
            }
        };
        if !offline_wait(&mut sim, wait, &shutdown).await {
            return;
        }
    }
}

/// Exponential back-off: 1, 2, 4, … 60 s.
pub(crate) fn backoff(failures: u32) -> Duration {
    Duration::from_secs(1u64 << failures.saturating_sub(1).min(6)).min(Duration::from_secs(60))
}

/// Keeps the charger's clock running while offline; `false` on shutdown.
async fn offline_wait(sim: &mut ChargerSim, wait: Duration, shutdown: &CancellationToken) -> bool {
    let until = Instant::now() + wait;
    loop {
        let now = Instant::now();
        if now >= until {
            return true;
        }
        let wake = sim.next_wakeup().map_or(until, |w| w.min(until));
        tokio::select! {
            _ = shutdown.cancelled() => return false,
            _ = tokio::time::sleep_until(wake) => {
                sim.on_tick(Instant::now());
                sim.outbox.clear();
            }
        }
    }
}

async fn connected(sim: &mut ChargerSim, mut socket: ws::Ws, shutdown: &CancellationToken) -> End {
    sim.on_connected(Instant::now());
    loop {
        let out = sim.take_outbox();
        if !out.is_empty() {
            for text in out {
                if socket.feed(Message::text(text)).await.is_err() {
                    return End::Dropped;
                }
            }
            if socket.flush().await.is_err() {
                return End::Dropped;
            }
        }
        if sim.take_reboot() {
            let _ = tokio::time::timeout(Duration::from_secs(1), socket.close(None)).await;
            return End::Reboot;
        }
        let wake = sim
            .next_wakeup()
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => {
                let _ = tokio::time::timeout(Duration::from_secs(1), socket.close(None)).await;
                return End::Shutdown;
            }
            msg = socket.next() => match msg {
                Some(Ok(Message::Text(text))) => sim.on_text(text.as_str(), Instant::now()),
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return End::Dropped,
                // Pings are answered by tungstenite; binary frames are not OCPP-J.
                Some(Ok(_)) => {}
            },
            _ = tokio::time::sleep_until(wake) => sim.on_tick(Instant::now()),
        }
    }
}

#[cfg(test)]
mod tests;
