//! # joule-csms — the charger-facing adapter
//!
//! **Role.** Accepts OCPP-J WebSocket connections from chargers (OCPP 1.6,
//! security profiles 0 and 1), runs one task per charger, translates each
//! charger CALL into a [`joule_domain::services::charging::ChargingService`] use case
//! and back, logs every frame, and implements the domain's
//! [`joule_domain::ports::command::CommandRouter`] for this node.
//!
//! **May depend on** `joule-domain` and `joule-ocpp` (never on another
//! adapter or on the store crate), tokio, tungstenite, httparse, argon2.
//!
//! **Concurrency model.** One accept loop; one task per charger that alone
//! owns the socket and `select!`s over: the next frame, its command mailbox
//! (bounded mpsc), the next deadline (RPC timeout or keep-alive), a
//! replacement notice and shutdown. Incoming CALLs are handled one at a time
//! in order; one outgoing CALL is in flight per charger. The registry
//! (`registry.rs`: `charger id → generation, mailbox, replacement notice`) is
//! a mutex-guarded map never held across an await. Message-log writes go through a bounded
//! queue to one writer task and are never awaited by a connection.
//!
//! ## Behaviours decided here
//! - **Handshake**: `ws://host:port/ocpp/{chargeBoxId}`; other paths → 404,
//!   bad identity → 400; the client must offer subprotocol `ocpp1.6` (else
//!   400, logged with the offered list); unknown charger → 404 (OCPP-J 1.6
//!   §3.1.1) or auto-registered as Pending; a charger with a password must
//!   send `Authorization: Basic` with its id as username (else 401). A
//!   charger **without** a stored password is accepted without auth
//!   (security profile 0, for legacy chargers on a trusted network).
//! - **Not accepted yet**: a charger may use every CALL once its stored
//!   registration is Accepted (reconnects without a boot are common), or once
//!   a BootNotification on this connection was answered Accepted. While
//!   Pending/Rejected, anything but BootNotification gets CALLERROR
//!   `SecurityError` (OCPP-J 1.6 §4.2.3; 2.0.1 B02.FR.09).
//! - **Bad input never closes the connection**: unparseable frames and
//!   schema violations get the CALLERROR of `joule-ocpp`; binary frames get
//!   `FormationViolation` with id `-1`; responses matching no call are logged
//!   and ignored. The exception is a message above `max_frame_bytes`:
//!   tungstenite cannot skip it, so the connection is closed with 1009.
//! - **Rate limit** (see `rate.rs`): token bucket per connection; an empty
//!   bucket delays reading (back-pressure); a charger still flooding after
//!   `rate_burst` delayed frames in a row gets CALLERROR `GenericError`
//!   "rate limit exceeded" for its CALLs until it pauses.
//! - **Keep-alive**: after `ping_interval` without any frame Joule pings; no
//!   frame within `pong_timeout` → closed and marked offline.
//! - **Price display** (when [`Csms::enable_price_display`] was called):
//!   after an accepted boot, on a reconnect of an accepted charger, and when
//!   its tariff may have changed, the connection of a charger with a tariff
//!   in force asks `GetConfiguration` for `CustomDisplayCostAndPrice`
//!   through its own outgoing queue; chargers answering `true` get the OCA
//!   configuration keys and cost messages, answers only logged. What to show
//!   and when is the domain's `services::cost_display::CostDisplay`; the connection
//!   carries it as an extension (`connection/extension.rs`) that encodes its
//!   notices (`v16::tariff_and_cost`). One task follows the outbox for
//!   tariff changes (`price_watch`) and tells the affected connections
//!   through their mailboxes.
//! - **Reconnects** replace the old connection (closed with 1000); only the
//!   current connection records the charger offline when it ends.

//!
//! ## Memory per idle charger
//! 4 KiB tungstenite read buffer, eager writes (`write_buffer_size` 0),
//! boxed mailbox slots, per-message futures boxed. Measured with
//! `examples/idle_memory.rs` (release, client in a separate process, server
//! `VmRSS` delta incl. the SQLite store): ~11.0 KB/connection at N=1,000 and
//! ~8.5 KB at N=5,000.

mod connection;
mod handshake;
mod msglog;
mod password;
mod price_watch;
mod rate;
mod registry;
mod router;
mod server;
mod settings;
mod shutdown;
mod state;
pub mod v16;

pub use password::{Argon2Passwords, PasswordError};
pub use server::Csms;
pub use settings::{CsmsSettings, UnknownChargerPolicy};
pub use v16::data_transfer::{DataTransferHandler, DataTransferReply};
