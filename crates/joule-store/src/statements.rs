//! SQL statements both dialects run word for word, written once. A
//! statement is here only when SQLite and PostgreSQL agree on its text;
//! parameters are `$1`, `$2`, … in order of first appearance, which
//! SQLite numbers the same way PostgreSQL does. Statements whose text
//! differs (timestamps bound as text, `FOR UPDATE`, `now()`, casts) stay
//! in the backend modules, where the difference shows.

// ---- accounts ----------------------------------------------------------------

pub(crate) const CREATE_ACCOUNT: &str =
    "INSERT INTO accounts (id, email, name, language, currency, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $6)";

pub(crate) const LINK_ACCOUNT_TOKEN: &str = "SELECT id_tag FROM id_tokens WHERE id_tag_key = $1";

pub(crate) const LINK_ACCOUNT_TOKEN_2: &str =
    "SELECT account_id FROM account_tokens WHERE id_tag_key = $1";

pub(crate) const UNLINK_ACCOUNT_TOKEN: &str =
    "DELETE FROM account_tokens WHERE id_tag_key = $1 AND account_id = $2";

pub(crate) const ACCOUNT_STANDING: &str = "SELECT a.id, a.card_payment_method IS NOT NULL, \
                 EXISTS (SELECT 1 FROM account_charges ch WHERE ch.account_id = a.id \
                         AND (ch.status = 'debt' OR (ch.status = 'pending' AND ch.debt_since IS NOT NULL))) \
                 FROM account_tokens t JOIN accounts a ON a.id = t.account_id WHERE t.id_tag_key = $1";

pub(crate) const ACCOUNT_FOR_SESSION: &str = "SELECT t.account_id FROM sessions s JOIN account_tokens t ON t.id_tag_key = s.id_tag_key \
                 WHERE s.id = $1 AND s.start_authorization = 'Accepted' AND s.created_at >= t.linked_at";

pub(crate) const UNCHARGED_ACCOUNT_SESSIONS: &str =
    "SELECT s.id FROM sessions s JOIN account_tokens t ON t.id_tag_key = s.id_tag_key \
                 WHERE s.state = 'ended' AND s.start_authorization = 'Accepted' \
                 AND s.created_at >= t.linked_at AND s.updated_at <= $1 \
                 AND NOT EXISTS (SELECT 1 FROM account_charges ch WHERE ch.session_id = s.id) \
                 AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.session_id = s.id) \
                 ORDER BY s.updated_at, s.id LIMIT $2";

pub(crate) const ACCOUNT_TOKENS: &str =
    "SELECT id_tag FROM account_tokens WHERE account_id = $1 ORDER BY id_tag_key";

// ---- api keys ----------------------------------------------------------------

pub(crate) const COUNT_API_KEYS: &str = "SELECT count(*) FROM api_keys";

pub(crate) const FIND_API_KEY: &str =
    "SELECT id, name, prefix, secret_hash, scopes, created_at FROM api_keys WHERE prefix = $1";

// ---- chargers ----------------------------------------------------------------

pub(crate) const LIST_CHARGERS: &str = concat!(
    "SELECT ",
    charger_cols!(),
    " FROM chargers ORDER BY id LIMIT $1 OFFSET $2"
);

pub(crate) const DELETE_CHARGER: &str = "DELETE FROM connector_states WHERE charger_id = $1";

pub(crate) const DELETE_CHARGER_2: &str = "DELETE FROM charger_groups WHERE charger_id = $1";

pub(crate) const DELETE_CHARGER_3: &str = "DELETE FROM chargers WHERE id = $1";

pub(crate) const AUTO_REGISTER_CHARGER: &str =
    "INSERT INTO chargers (id, registration, created_at, updated_at) \
                 VALUES ($1, 'pending', $2, $2) ON CONFLICT (id) DO NOTHING";

pub(crate) const RECORD_STATUS: &str =
    "INSERT INTO status_history (charger_id, connector_id, status, error_code, info, \
                 vendor_id, vendor_error_code, reported_at, received_at, effective_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

pub(crate) const RECORD_STATUS_2: &str = concat!(
    "SELECT ",
    state_cols!(),
    " FROM connector_states WHERE charger_id = $1 AND connector_id = $2"
);

pub(crate) const RECORD_STATUS_3: &str = "INSERT INTO connector_states (charger_id, connector_id, status, error_code, info, \
                 vendor_id, vendor_error_code, since) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (charger_id, connector_id) DO UPDATE SET status = excluded.status, \
                 error_code = excluded.error_code, info = excluded.info, vendor_id = excluded.vendor_id, \
                 vendor_error_code = excluded.vendor_error_code, since = excluded.since";

pub(crate) const CONNECTOR_STATUS_RANGE: &str = concat!(
    "SELECT ",
    status_cols!(),
    " FROM status_history WHERE charger_id = $1 AND connector_id = $2 \
                 AND effective_at >= $3 AND effective_at <= $4 \
                 ORDER BY effective_at, id LIMIT $5"
);

pub(crate) const GET_CHARGER: &str =
    concat!("SELECT ", charger_cols!(), " FROM chargers WHERE id = $1");

pub(crate) const CREATE_CHARGER: &str =
    "INSERT INTO chargers (id, label, location, registration, password_hash, created_at, \
                 updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)";

pub(crate) const CHARGER_CREDENTIALS: &str =
    "SELECT registration, password_hash FROM chargers WHERE id = $1";

pub(crate) const CONNECTOR_STATES: &str = concat!(
    "SELECT ",
    state_cols!(),
    " FROM connector_states WHERE charger_id = $1 ORDER BY connector_id"
);

// ---- holds -------------------------------------------------------------------

pub(crate) const HELD_ACTIVE_SESSIONS: &str = concat!(
    "SELECT ",
    payment_cols!(),
    " FROM payments WHERE state = 'authorized' AND session_id IS NOT NULL \
                 AND EXISTS (SELECT 1 FROM sessions s WHERE s.id = payments.session_id \
                             AND s.state = 'active') \
                 ORDER BY created_at, id LIMIT $1"
);

pub(crate) const CLAIM_HOLD_STOP: &str = "SELECT 1 FROM payments WHERE id = $1";

// ---- idempotency -------------------------------------------------------------

pub(crate) const BEGIN_IDEMPOTENT: &str =
    "INSERT INTO api_idempotency (scope, key, request_hash, created_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (scope, key) DO NOTHING";

pub(crate) const RELEASE_IDEMPOTENT: &str =
    "DELETE FROM api_idempotency WHERE scope = $1 AND key = $2 AND response_status IS NULL";

pub(crate) const IDEMPOTENCY_RECORD: &str =
    "SELECT scope, key, request_hash, response_status, response_body, created_at, \
         completed_at FROM api_idempotency WHERE scope = $1 AND key = $2";

// ---- message log -------------------------------------------------------------

pub(crate) const PURGE_LOG_BEFORE: &str = "DELETE FROM message_log WHERE id < coalesce(\
                   (SELECT id FROM message_log WHERE at >= $1 ORDER BY id LIMIT 1),\
                   (SELECT max(id) + 1 FROM message_log))";

// ---- outbox ------------------------------------------------------------------

pub(crate) const EVENTS_AFTER: &str =
    "SELECT id, kind, charger_id, session_id, payload, occurred_at, recorded_at \
                 FROM events WHERE id > $1 ORDER BY id LIMIT $2";

// ---- payments ----------------------------------------------------------------

pub(crate) const PAYMENT_BY_GATEWAY_REF: &str = concat!(
    "SELECT ",
    payment_cols!(),
    " FROM payments WHERE gateway = $1 AND gateway_payment_ref = $2"
);

pub(crate) const PAYMENT_BY_RECEIPT_TOKEN: &str = concat!(
    "SELECT ",
    payment_cols!(),
    " FROM payments WHERE receipt_token = $1"
);

pub(crate) const PAYMENT_FOR_SESSION: &str = concat!(
    "SELECT ",
    payment_cols!(),
    " FROM payments WHERE session_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1"
);

pub(crate) const CLAIM_PAYMENT: &str =
    "INSERT INTO payment_claims (payment_id, owner, token, claimed_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (payment_id) DO UPDATE SET \
                 owner = excluded.owner, token = excluded.token, claimed_at = excluded.claimed_at, \
                 expires_at = excluded.expires_at";

pub(crate) const FLAG_PAYMENT: &str =
    "INSERT INTO payment_flags (payment_id, reason, detail, flagged_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (payment_id) DO NOTHING";

pub(crate) const RELEASE_PAYMENT_CLAIM: &str =
    "DELETE FROM payment_claims WHERE payment_id = $1 AND token = $2";

pub(crate) const RECORD_REMOTE_START: &str = "INSERT INTO payment_starts (payment_id, status, attempts, may_have_started, first_at, \
                 updated_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (payment_id) DO UPDATE SET \
                 status = excluded.status, attempts = excluded.attempts, \
                 may_have_started = excluded.may_have_started, updated_at = excluded.updated_at";

pub(crate) const PAYMENTS_AWAITING_START: &str = concat!(
    "SELECT ",
    payment_cols!(),
    " FROM payments WHERE state = 'authorized' AND id_tag IS NOT NULL \
                 AND session_id IS NULL AND updated_at > $1 \
                 AND NOT EXISTS (SELECT 1 FROM payment_steps st \
                                 WHERE st.payment_id = payments.id AND st.status = 'intended') \
                 AND NOT EXISTS (SELECT 1 FROM payment_starts ps WHERE ps.payment_id = payments.id \
                                 AND ps.status IN ('accepted', 'refused')) \
                 ORDER BY updated_at, id LIMIT $2"
);

pub(crate) const PAYMENTS_WITH_UNFINISHED_STEPS: &str =
    "SELECT payment_id FROM payment_steps WHERE status = 'intended' AND intended_at < $1 \
                 ORDER BY intended_at, payment_id LIMIT $2";

pub(crate) const AUTHORIZED_HOLDS_OLDER_THAN: &str = concat!(
    "SELECT ",
    payment_cols!(),
    ", h.never_started FROM payments JOIN ( \
                   SELECT p.id AS hold_id, p.session_id IS NULL AS never_started \
                   FROM payments p LEFT JOIN sessions s ON s.id = p.session_id \
                   WHERE p.state = 'authorized' \
                   AND NOT EXISTS (SELECT 1 FROM payment_steps st \
                                   WHERE st.payment_id = p.id AND st.status = 'intended') \
                   AND NOT EXISTS (SELECT 1 FROM payment_flags f WHERE f.payment_id = p.id) \
                   AND ((p.session_id IS NULL AND p.updated_at < $1) \
                        OR (s.state = 'ended' AND s.updated_at < $1)) \
                 ) h ON h.hold_id = payments.id \
                 ORDER BY updated_at, id LIMIT $2"
);

pub(crate) const OPEN_PAYMENT_FOR_ID_TAG: &str = concat!(
                "SELECT ",
                payment_cols!(),
                " FROM payments WHERE id_tag = $1 AND charger_id = $2 AND state = 'authorized' \
                 AND session_id IS NULL AND NOT EXISTS (SELECT 1 FROM payment_steps st \
                 WHERE st.payment_id = payments.id AND st.status = 'intended' AND st.kind = 'void')"
            );

pub(crate) const PAYMENT_KPIS: &str =
    "SELECT p.channel, st.kind, st.status, COUNT(*) FROM payment_steps st \
                 JOIN payments p ON p.id = st.payment_id \
                 WHERE st.intended_at >= $1 AND st.intended_at < $2 \
                 GROUP BY p.channel, st.kind, st.status";

pub(crate) const PAYMENT_ONLY: &str =
    concat!("SELECT ", payment_cols!(), " FROM payments WHERE id = $1");

pub(crate) const STEPS_OF: &str = concat!(
    "SELECT ",
    step_cols!(),
    " FROM payment_steps WHERE payment_id = $1 ORDER BY seq"
);

pub(crate) const FLAG_OF: &str =
    "SELECT reason, detail, flagged_at FROM payment_flags WHERE payment_id = $1";

pub(crate) const CREATE_PAYMENT: &str = concat!(
    "INSERT INTO payments (",
    payment_cols!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
         $18, $19, $20, $21, $22, $22, $23)"
);

pub(crate) const CONSUMER_CURSOR: &str =
    "SELECT last_event_id FROM consumer_cursors WHERE name = $1";

pub(crate) const LINK_SESSION: &str = "SELECT charger_id, connector_id FROM sessions WHERE id = $1";

pub(crate) const INSERT_STEP: &str = concat!(
    "INSERT INTO payment_steps (",
    step_cols!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
);

pub(crate) const CLAIM_OF: &str =
    "SELECT payment_id, owner, token, claimed_at, expires_at FROM payment_claims \
         WHERE payment_id = $1";

pub(crate) const REMOTE_START: &str =
    "SELECT payment_id, status, attempts, may_have_started, first_at, updated_at \
         FROM payment_starts WHERE payment_id = $1";

// ---- receipt emails ----------------------------------------------------------

pub(crate) const SET_RECEIPT_EMAIL: &str =
    "INSERT INTO receipt_emails (payment_id, address, state, created_at, updated_at) \
                 VALUES ($1, $2, 'waiting', $3, $3) \
                 ON CONFLICT (payment_id) DO UPDATE SET address = excluded.address, \
                 updated_at = excluded.updated_at WHERE receipt_emails.state = 'waiting'";

// ---- sessions ----------------------------------------------------------------

pub(crate) const START_SESSION: &str = "INSERT INTO sessions (id, charger_id, connector_id, id_tag, id_tag_key, \
                 start_authorization, state, reservation_id, started_at, meter_start_wh, created_at, \
                 updated_at, tariff_id, tariff_version) \
                 VALUES ($1, $2, $3, $4, $5, $6, 'active', $7, $8, $9, $10, $10, $11, $12) \
                 ON CONFLICT (charger_id, connector_id, id_tag_key, started_at, meter_start_wh) \
                 DO NOTHING";

pub(crate) const START_SESSION_2: &str = concat!(
    "SELECT ",
    session_cols!(),
    " FROM sessions WHERE charger_id = $1 AND connector_id = $2 AND id_tag_key = $3 \
                 AND started_at = $4 AND meter_start_wh = $5"
);

pub(crate) const GET_SESSION: &str =
    concat!("SELECT ", session_cols!(), " FROM sessions WHERE id = $1");

pub(crate) const GET_SESSION_BY_TRANSACTION: &str = concat!(
    "SELECT ",
    session_cols!(),
    " FROM sessions WHERE transaction_id = $1"
);

// ---- sites -------------------------------------------------------------------

pub(crate) const DELETE_SITE: &str = "DELETE FROM sites WHERE id = $1";

pub(crate) const DELETE_SITE_2: &str = "DELETE FROM site_groups WHERE site_id = $1";

pub(crate) const WRITE_SITE_GROUPS: &str = "DELETE FROM site_groups WHERE site_id = $1";

pub(crate) const WRITE_SITE_GROUPS_2: &str =
    "INSERT INTO site_groups (site_id, group_id) VALUES ($1, $2)";

// ---- tariff assignments ------------------------------------------------------

pub(crate) const CREATE_TARIFF_ASSIGNMENT: &str =
    "INSERT INTO tariff_assignments (id, tariff_id, scope, site_id, charger_id, \
                 connector_id, group_id, id_tag, id_tag_key, valid_from, valid_until, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";

pub(crate) const DELETE_TARIFF_ASSIGNMENT: &str = "DELETE FROM tariff_assignments WHERE id = $1";

pub(crate) const TARIFF_CANDIDATES: &str = "SELECT site_id, tariff_id FROM chargers WHERE id = $1";

pub(crate) const DELETE_ASSIGNMENTS_WHERE: &str = "DELETE FROM tariff_assignments WHERE id = $1";

// ---- tariffs -----------------------------------------------------------------

pub(crate) const CREATE_TARIFF: &str = "UPDATE tariffs SET version = 1 + COALESCE( \
                 (SELECT MAX(version) FROM tariff_versions WHERE tariff_id = $1), 0) WHERE id = $1";

pub(crate) const DELETE_TARIFF: &str = "DELETE FROM tariffs WHERE id = $1";

pub(crate) const DEFAULT_TARIFF_ID: &str =
    "SELECT default_tariff_id FROM tariff_settings WHERE singleton = 1";

pub(crate) const WRITE_DEFAULT: &str =
    "UPDATE tariff_settings SET default_tariff_id = $1, updated_at = $2 WHERE singleton = 1";

pub(crate) const CURRENT_VERSION: &str = "SELECT id, version FROM tariffs WHERE id = $1";

pub(crate) const CHARGER_TARIFF: &str = "SELECT tariff_id FROM chargers WHERE id = $1";

// ---- tokens ------------------------------------------------------------------

pub(crate) const CREATE_TOKEN: &str =
    "INSERT INTO id_tokens (id_tag_key, id_tag, kind, status, expires_at, parent_id_tag, \
                 allowed_chargers, label, created_at, updated_at, language, token_type) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11)";

pub(crate) const UPDATE_TOKEN: &str =
    "UPDATE id_tokens SET kind = $1, status = $2, expires_at = $3, parent_id_tag = $4, \
                 allowed_chargers = $5, label = $6, updated_at = $7, language = $8, token_type = $9 \
                 WHERE id_tag_key = $10";

pub(crate) const DELETE_TOKEN: &str = "DELETE FROM token_groups WHERE id_tag_key = $1";

pub(crate) const DELETE_TOKEN_2: &str = "DELETE FROM id_tokens WHERE id_tag_key = $1";

pub(crate) const GET_TOKEN: &str = concat!(
    "SELECT ",
    token_cols!(),
    " FROM id_tokens WHERE id_tag_key = $1"
);

// ---- user groups -------------------------------------------------------------

pub(crate) const CREATE_USER_GROUP: &str =
    "INSERT INTO user_groups (id, name, created_at, updated_at) VALUES ($1, $2, $3, $3)";

pub(crate) const DELETE_USER_GROUP: &str = "DELETE FROM user_groups WHERE id = $1";

pub(crate) const DELETE_USER_GROUP_2: &str = "DELETE FROM token_groups WHERE group_id = $1";

pub(crate) const DELETE_USER_GROUP_3: &str = "DELETE FROM charger_groups WHERE group_id = $1";

pub(crate) const DELETE_USER_GROUP_4: &str = "DELETE FROM site_groups WHERE group_id = $1";

pub(crate) const SET_TOKEN_GROUPS: &str = "DELETE FROM token_groups WHERE id_tag_key = $1";

pub(crate) const SET_TOKEN_GROUPS_2: &str =
    "INSERT INTO token_groups (id_tag_key, group_id) VALUES ($1, $2)";

pub(crate) const SET_CHARGER_ACCESS: &str = "DELETE FROM charger_groups WHERE charger_id = $1";

pub(crate) const SET_CHARGER_ACCESS_2: &str =
    "INSERT INTO charger_groups (charger_id, group_id) VALUES ($1, $2)";

pub(crate) const GET_USER_GROUP: &str =
    "SELECT id, name, created_at, updated_at FROM user_groups WHERE id = $1";

pub(crate) const CHARGER_ACCESS: &str =
    "SELECT access, access_set, site_id FROM chargers WHERE id = $1";

#[cfg(test)]
mod tests {
    use super::*;

    /// SQLite gives `$N` the index of its first appearance, not N: a shared
    /// statement must number its parameters in the order they first appear.
    #[test]
    fn parameters_are_numbered_in_order_of_first_appearance() {
        for sql in [
            CREATE_ACCOUNT,
            LINK_ACCOUNT_TOKEN,
            LINK_ACCOUNT_TOKEN_2,
            UNLINK_ACCOUNT_TOKEN,
            ACCOUNT_STANDING,
            ACCOUNT_FOR_SESSION,
            UNCHARGED_ACCOUNT_SESSIONS,
            ACCOUNT_TOKENS,
            COUNT_API_KEYS,
            FIND_API_KEY,
            LIST_CHARGERS,
            DELETE_CHARGER,
            DELETE_CHARGER_2,
            DELETE_CHARGER_3,
            AUTO_REGISTER_CHARGER,
            RECORD_STATUS,
            RECORD_STATUS_2,
            RECORD_STATUS_3,
            CONNECTOR_STATUS_RANGE,
            GET_CHARGER,
            CREATE_CHARGER,
            CHARGER_CREDENTIALS,
            CONNECTOR_STATES,
            HELD_ACTIVE_SESSIONS,
            CLAIM_HOLD_STOP,
            BEGIN_IDEMPOTENT,
            RELEASE_IDEMPOTENT,
            IDEMPOTENCY_RECORD,
            PURGE_LOG_BEFORE,
            EVENTS_AFTER,
            PAYMENT_BY_GATEWAY_REF,
            PAYMENT_BY_RECEIPT_TOKEN,
            PAYMENT_FOR_SESSION,
            CLAIM_PAYMENT,
            FLAG_PAYMENT,
            RELEASE_PAYMENT_CLAIM,
            RECORD_REMOTE_START,
            PAYMENTS_AWAITING_START,
            PAYMENTS_WITH_UNFINISHED_STEPS,
            AUTHORIZED_HOLDS_OLDER_THAN,
            OPEN_PAYMENT_FOR_ID_TAG,
            PAYMENT_KPIS,
            PAYMENT_ONLY,
            STEPS_OF,
            FLAG_OF,
            CREATE_PAYMENT,
            CONSUMER_CURSOR,
            LINK_SESSION,
            INSERT_STEP,
            CLAIM_OF,
            REMOTE_START,
            SET_RECEIPT_EMAIL,
            START_SESSION,
            START_SESSION_2,
            GET_SESSION,
            GET_SESSION_BY_TRANSACTION,
            DELETE_SITE,
            DELETE_SITE_2,
            WRITE_SITE_GROUPS,
            WRITE_SITE_GROUPS_2,
            CREATE_TARIFF_ASSIGNMENT,
            DELETE_TARIFF_ASSIGNMENT,
            TARIFF_CANDIDATES,
            DELETE_ASSIGNMENTS_WHERE,
            CREATE_TARIFF,
            DELETE_TARIFF,
            DEFAULT_TARIFF_ID,
            WRITE_DEFAULT,
            CURRENT_VERSION,
            CHARGER_TARIFF,
            CREATE_TOKEN,
            UPDATE_TOKEN,
            DELETE_TOKEN,
            DELETE_TOKEN_2,
            GET_TOKEN,
            CREATE_USER_GROUP,
            DELETE_USER_GROUP,
            DELETE_USER_GROUP_2,
            DELETE_USER_GROUP_3,
            DELETE_USER_GROUP_4,
            SET_TOKEN_GROUPS,
            SET_TOKEN_GROUPS_2,
            SET_CHARGER_ACCESS,
            SET_CHARGER_ACCESS_2,
            GET_USER_GROUP,
            CHARGER_ACCESS,
        ] {
            let mut seen: Vec<u32> = Vec::new();
            let mut rest = sql;
            while let Some(i) = rest.find('$') {
                rest = &rest[i + 1..];
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                if let Ok(n) = digits.parse::<u32>() {
                    if !seen.contains(&n) {
                        seen.push(n);
                    }
                }
            }
            let expected: Vec<u32> = (1..=seen.len() as u32).collect();
            assert_eq!(seen, expected, "{sql}");
        }
    }
}
