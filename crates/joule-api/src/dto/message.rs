//! The OCPP message log of a charger.

use chrono::{DateTime, Utc};
use joule_domain::charging::message_log as domain;
use joule_domain::kernel::page::Page;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::extract::QueryErrors;
use crate::problem::ApiError;

/// Which way a frame went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Charger to Joule.
    In,
    /// Joule to charger.
    Out,
}

impl From<domain::Direction> for Direction {
    fn from(d: domain::Direction) -> Self {
        match d {
            domain::Direction::In => Self::In,
            domain::Direction::Out => Self::Out,
        }
    }
}

/// OCPP-J message type, or `invalid` for a frame that could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FrameKind {
    Call,
    CallResult,
    CallError,
    Invalid,
}

impl From<domain::FrameKind> for FrameKind {
    fn from(k: domain::FrameKind) -> Self {
        match k {
            domain::FrameKind::Call => Self::Call,
            domain::FrameKind::CallResult => Self::CallResult,
            domain::FrameKind::CallError => Self::CallError,
            domain::FrameKind::Invalid => Self::Invalid,
        }
    }
}

/// One logged frame.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LogEntry {
    /// Storage id; increases with time of logging.
    pub id: i64,
    pub charger_id: String,
    pub direction: Direction,
    pub kind: FrameKind,
    /// The action of a CALL, or of the CALL a response answers.
    pub action: Option<String>,
    pub message_id: Option<String>,
    /// The frame text exactly as sent or received.
    pub frame: String,
    /// A note from Joule, e.g. why an authorization was refused.
    pub note: Option<String>,
    pub at: DateTime<Utc>,
}

impl From<domain::StoredLogEntry> for LogEntry {
    fn from(s: domain::StoredLogEntry) -> Self {
        let e = s.entry;
        Self {
            id: s.id,
            charger_id: e.charger_id.to_string(),
            direction: e.direction.into(),
            kind: e.kind.into(),
            action: e.action,
            message_id: e.message_id,
            frame: e.frame,
            note: e.note,
            at: e.at,
        }
    }
}

/// Query of `GET /chargers/{id}/messages`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessageQuery {
    #[param(value_type = Option<Direction>)]
    pub direction: Option<String>,
    /// OCPP action, e.g. `BootNotification`.
    pub action: Option<String>,
    /// Frames logged at or after this instant (RFC 3339).
    #[param(value_type = Option<DateTime<Utc>>)]
    pub from: Option<String>,
    /// Frames logged before this instant (RFC 3339).
    #[param(value_type = Option<DateTime<Utc>>)]
    pub to: Option<String>,
    /// Page size, 1 to 500 (default 50).
    #[param(value_type = Option<u32>)]
    pub limit: Option<String>,
    /// Items to skip (default 0).
    #[param(value_type = Option<u64>)]
    pub offset: Option<String>,
}

/// Longest action name accepted as a filter (OCPP actions are short).
const MAX_ACTION_CHARS: usize = 64;

impl MessageQuery {
    pub fn parse(self) -> Result<(domain::LogFilter, Page), ApiError> {
        let mut errors = QueryErrors::new();
        let direction = errors.opt("direction", self.direction.as_deref(), |raw| {
            domain::Direction::parse(raw).ok_or("must be in or out")
        });
        let action = errors.opt("action", self.action.as_deref(), |raw| {
            if raw.is_empty()
                || raw.len() > MAX_ACTION_CHARS
                || !raw.chars().all(|c| c.is_ascii_alphanumeric())
            {
                Err("must be an OCPP action name, e.g. BootNotification")
            } else {
                Ok(raw.to_owned())
            }
        });
        let from = errors.time("from", self.from.as_deref());
        let to = errors.time("to", self.to.as_deref());
        let page = errors.page(self.limit.as_deref(), self.offset.as_deref());
        errors.finish()?;
        Ok((
            domain::LogFilter {
                direction,
                action,
                from,
                to,
            },
            page,
        ))
    }
}
