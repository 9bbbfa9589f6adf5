//! The message log: every OCPP frame in and out, as operators need it to
//! debug chargers.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::kernel::ids::ChargerId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Charger to Joule.
    In,
    /// Joule to charger.
    Out,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::In => "in",
            Self::Out => "out",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "in" => Some(Self::In),
            "out" => Some(Self::Out),
            _ => None,
        }
    }
}

/// OCPP-J message type, plus `Invalid` for frames that could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FrameKind {
    Call,
    CallResult,
    CallError,
    Invalid,
}

impl FrameKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Call => "call",
            Self::CallResult => "call_result",
            Self::CallError => "call_error",
            Self::Invalid => "invalid",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "call" => Some(Self::Call),
            "call_result" => Some(Self::CallResult),
            "call_error" => Some(Self::CallError),
            "invalid" => Some(Self::Invalid),
            _ => None,
        }
    }
}

/// One logged frame.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogEntry {
    pub charger_id: ChargerId,
    pub direction: Direction,
    pub kind: FrameKind,
    /// The action of a CALL, or of the CALL a response answers.
    pub action: Option<String>,
    pub message_id: Option<String>,
    /// The frame text exactly as sent or received (truncated only when it
    /// exceeded the frame limit).
    pub frame: String,
    /// A note from Joule, e.g. why an authorization was refused.
    pub note: Option<String>,
    pub at: DateTime<Utc>,
}

/// A logged frame as read back, with its storage id for stable paging.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredLogEntry {
    pub id: i64,
    #[serde(flatten)]
    pub entry: LogEntry,
}

/// Filters for reading the log of one charger.
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    pub direction: Option<Direction>,
    pub action: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}
