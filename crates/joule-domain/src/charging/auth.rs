//! The authorization rule: may this token charge at this charger now?
//! Pure, so it is tested without a server; Authorize and StartTransaction both
//! go through it.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::charging::token::{Token, TokenStatus};
use crate::charging::user_group::{ChargerAccessRule, UserGroupId};
use crate::kernel::ids::{ChargerId, IdToken};

/// The answer a charger receives (OCPP 1.6 `AuthorizationStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AuthorizationStatus {
    Accepted,
    Blocked,
    Expired,
    Invalid,
    ConcurrentTx,
}

impl AuthorizationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "Accepted",
            Self::Blocked => "Blocked",
            Self::Expired => "Expired",
            Self::Invalid => "Invalid",
            Self::ConcurrentTx => "ConcurrentTx",
        }
    }
}

/// Why the decision was made, for the message log and for operators: a
/// driver's "it didn't work" becomes a searchable reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthorizationReason {
    Valid,
    UnknownToken,
    TokenBlocked,
    TokenExpired,
    TokenInvalid,
    NotAllowedAtCharger,
    /// The charger is private or restricted and the token is in none of
    /// its allowed groups.
    NotInAllowedGroup,
    /// The id tag of an authorized web payment at this charger.
    WebPayment,
    /// The token's account has an unpaid declined charge
    /// (`[payments] block_accounts_in_debt`).
    AccountInDebt,
    /// The token's account has no saved card
    /// (`[payments] account_requires_card`).
    AccountWithoutCard,
}

impl AuthorizationReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::UnknownToken => "unknown_token",
            Self::TokenBlocked => "token_blocked",
            Self::TokenExpired => "token_expired",
            Self::TokenInvalid => "token_invalid",
            Self::NotAllowedAtCharger => "not_allowed_at_charger",
            Self::NotInAllowedGroup => "not_in_allowed_group",
            Self::WebPayment => "web_payment",
            Self::AccountInDebt => "account_in_debt",
            Self::AccountWithoutCard => "account_without_card",
        }
    }
}

/// The outcome of an authorization, ready to be turned into `idTagInfo`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuthorizationDecision {
    pub status: AuthorizationStatus,
    pub reason: AuthorizationReason,
    pub expiry_date: Option<DateTime<Utc>>,
    pub parent_id_tag: Option<IdToken>,
}

impl AuthorizationDecision {
    pub fn is_accepted(&self) -> bool {
        self.status == AuthorizationStatus::Accepted
    }

    /// Accepted because the tag is a web payment's: the driver paid by
    /// card on the pay page, so no token, group or expiry applies.
    pub fn web_payment() -> Self {
        Self {
            status: AuthorizationStatus::Accepted,
            reason: AuthorizationReason::WebPayment,
            expiry_date: None,
            parent_id_tag: None,
        }
    }

    fn refuse(status: AuthorizationStatus, reason: AuthorizationReason) -> Self {
        Self {
            status,
            reason,
            expiry_date: None,
            parent_id_tag: None,
        }
    }
}

/// Decides whether `token` (None when unknown) may charge at `charger` at `now`.
///
/// Order matters and is deliberate: an unknown token is `Invalid`; an operator
/// block beats everything else; an expiry date in the past turns an accepted
/// token into `Expired`; a token limited to other chargers is `Invalid` here
/// (OCPP 1.6 has no "not here" status, and `Blocked` would wrongly tell the
/// driver the card is blocked everywhere); last, a private or restricted
/// charger admits only tokens in one of its allowed groups (`token_groups`),
/// others are `Invalid` with [`AuthorizationReason::NotInAllowedGroup`], for
/// the same reason as above: the card is fine, just not here.
pub fn authorize(
    token: Option<&Token>,
    charger: &ChargerId,
    access: &ChargerAccessRule,
    token_groups: &[UserGroupId],
    now: DateTime<Utc>,
) -> AuthorizationDecision {
    use AuthorizationReason as R;
    use AuthorizationStatus as S;
    let Some(token) = token else {
        return AuthorizationDecision::refuse(S::Invalid, R::UnknownToken);
    };
    let refused = match token.status {
        TokenStatus::Blocked => Some((S::Blocked, R::TokenBlocked)),
        TokenStatus::Expired => Some((S::Expired, R::TokenExpired)),
        TokenStatus::Invalid => Some((S::Invalid, R::TokenInvalid)),
        TokenStatus::Accepted => None,
    };
    let refused = refused
        .or_else(|| {
            token
                .expires_at
                .filter(|at| *at <= now)
                .map(|_| (S::Expired, R::TokenExpired))
        })
        .or_else(|| {
            (!token.allowed_chargers.is_empty() && !token.allowed_chargers.contains(charger))
                .then_some((S::Invalid, R::NotAllowedAtCharger))
        })
        .or_else(|| (!access.admits(token_groups)).then_some((S::Invalid, R::NotInAllowedGroup)));
    match refused {
        Some((status, reason)) => AuthorizationDecision {
            status,
            reason,
            expiry_date: token.expires_at,
            parent_id_tag: token.parent_id_tag.clone(),
        },
        None => AuthorizationDecision {
            status: S::Accepted,
            reason: R::Valid,
            expiry_date: token.expires_at,
            parent_id_tag: token.parent_id_tag.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charging::token::TokenKind;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
    }

    fn token(status: TokenStatus) -> Token {
        Token {
            id_tag: IdToken::parse("AABBCCDD").unwrap(),
            token_type: crate::charging::token::IdTokenType::Iso14443,
            kind: TokenKind::Rfid,
            status,
            expires_at: None,
            parent_id_tag: Some(IdToken::parse("FLEET1").unwrap()),
            allowed_chargers: vec![],
            label: None,
            language: None,
            created_at: now(),
            updated_at: now(),
        }
    }

    fn public() -> ChargerAccessRule {
        ChargerAccessRule::default()
    }

    fn group(id: &str) -> UserGroupId {
        UserGroupId::parse(id).unwrap()
    }

    fn cp(id: &str) -> ChargerId {
        ChargerId::parse(id).unwrap()
    }

    #[test]
    fn unknown_token_is_invalid() {
        let d = authorize(None, &cp("CP1"), &public(), &[], now());
        assert_eq!(d.status, AuthorizationStatus::Invalid);
        assert_eq!(d.reason, AuthorizationReason::UnknownToken);
    }

    #[test]
    fn accepted_token_carries_its_parent() {
        let d = authorize(
            Some(&token(TokenStatus::Accepted)),
            &cp("CP1"),
            &public(),
            &[],
            now(),
        );
        assert!(d.is_accepted());
        assert_eq!(d.parent_id_tag.unwrap().as_str(), "FLEET1");
    }

    #[test]
    fn operator_statuses_map_one_to_one() {
        for (status, expected) in [
            (TokenStatus::Blocked, AuthorizationStatus::Blocked),
            (TokenStatus::Expired, AuthorizationStatus::Expired),
            (TokenStatus::Invalid, AuthorizationStatus::Invalid),
        ] {
            assert_eq!(
                authorize(Some(&token(status)), &cp("CP1"), &public(), &[], now()).status,
                expected
            );
        }
    }

    #[test]
    fn expiry_in_the_past_or_now_means_expired() {
        let mut t = token(TokenStatus::Accepted);
        t.expires_at = Some(now());
        assert_eq!(
            authorize(Some(&t), &cp("CP1"), &public(), &[], now()).status,
            AuthorizationStatus::Expired
        );
        t.expires_at = Some(now() + chrono::Duration::seconds(1));
        assert!(authorize(Some(&t), &cp("CP1"), &public(), &[], now()).is_accepted());
    }

    #[test]
    fn block_beats_expiry() {
        let mut t = token(TokenStatus::Blocked);
        t.expires_at = Some(now() - chrono::Duration::days(1));
        assert_eq!(
            authorize(Some(&t), &cp("CP1"), &public(), &[], now()).status,
            AuthorizationStatus::Blocked
        );
    }

    #[test]
    fn token_limited_to_other_chargers_is_invalid_here_only() {
        let mut t = token(TokenStatus::Accepted);
        t.allowed_chargers = vec![cp("CP2")];
        let here = authorize(Some(&t), &cp("CP1"), &public(), &[], now());
        assert_eq!(here.status, AuthorizationStatus::Invalid);
        assert_eq!(here.reason, AuthorizationReason::NotAllowedAtCharger);
        assert!(authorize(Some(&t), &cp("CP2"), &public(), &[], now()).is_accepted());
    }

    #[test]
    fn private_charger_admits_members_and_refuses_others_as_invalid() {
        use crate::charging::user_group::ChargerAccess;
        let t = token(TokenStatus::Accepted);
        for access in [ChargerAccess::Private, ChargerAccess::Restricted] {
            let rule = ChargerAccessRule {
                access,
                allowed_groups: vec![group("staff")],
            };
            assert!(authorize(Some(&t), &cp("CP1"), &rule, &[group("staff")], now()).is_accepted());
            let d = authorize(Some(&t), &cp("CP1"), &rule, &[group("guests")], now());
            assert_eq!(d.status, AuthorizationStatus::Invalid);
            assert_eq!(d.reason, AuthorizationReason::NotInAllowedGroup);
            assert_eq!(d.reason.as_str(), "not_in_allowed_group");
            assert_eq!(
                authorize(Some(&t), &cp("CP1"), &rule, &[], now()).reason,
                AuthorizationReason::NotInAllowedGroup
            );
        }
    }

    #[test]
    fn token_status_beats_group_membership() {
        let rule = ChargerAccessRule {
            access: crate::charging::user_group::ChargerAccess::Private,
            allowed_groups: vec![group("staff")],
        };
        let d = authorize(
            Some(&token(TokenStatus::Blocked)),
            &cp("CP1"),
            &rule,
            &[],
            now(),
        );
        assert_eq!(d.status, AuthorizationStatus::Blocked);
        assert_eq!(d.reason, AuthorizationReason::TokenBlocked);
    }

    #[test]
    fn public_charger_ignores_groups() {
        let t = token(TokenStatus::Accepted);
        assert!(authorize(Some(&t), &cp("CP1"), &public(), &[], now()).is_accepted());
    }
}
