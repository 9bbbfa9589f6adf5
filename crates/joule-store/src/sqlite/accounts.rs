//! Driver accounts (`AccountStore`): accounts, token links, card setups
//! and the charge line of each session charged to an account.

use super::outbox::insert_event;
use super::payments::{create_payment, link_session};
use super::sql::{
    collect, db, exec, get, get_opt_ts, get_ts, limit_offset, one, opt_ts, ts, unique_as_conflict,
    R,
};
use super::SqliteStore;
use crate::accounts::{self as ac, AccountRow, ChargeRow};
use crate::events;
use crate::statements;
use crate::values::corrupt;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use joule_domain::events::event::EventKind;
use joule_domain::kernel::error::StoreError;
use joule_domain::kernel::ids::{IdToken, SessionId};
use joule_domain::kernel::page::{Page, Paged};
use joule_domain::payments::account::{
    Account, AccountCharge, AccountId, AccountPatch, AccountStanding, CardSetup, ChargeStatus,
    NewAccount, NewAccountCharge, StoredCard,
};
use joule_domain::payments::gateway::ClientSecret;
use joule_domain::payments::payment::{NewPayment, PaymentId};
use joule_domain::ports::store::{AccountStore, StoreResult};
use rusqlite::{params, Connection, Row};

#[async_trait]
impl AccountStore for SqliteStore {
    async fn create_account(&self, new: NewAccount, at: DateTime<Utc>) -> StoreResult<Account> {
        self.write(move |c| {
            let new = &new;
            c.prepare_cached(statements::CREATE_ACCOUNT)
                .map_err(db)?
                .execute(params![
                    new.id.to_string(),
                    new.email,
                    new.name,
                    new.language.as_str(),
                    new.currency.code(),
                    ts(at),
                ])
                .map_err(unique_as_conflict("account"))?;
            let a = require_account(c, new.id)?;
            insert_event(c, &events::ev_account(EventKind::AccountCreated, &a, at))?;
            Ok(a)
        })
        .await
    }

    async fn get_account(&self, id: AccountId) -> StoreResult<Option<Account>> {
        self.read(move |c| get_account(c, id)).await
    }

    async fn list_accounts(&self, page: Page) -> StoreResult<Paged<Account>> {
        self.read(move |c| {
            let (limit, offset) = limit_offset(page);
            let rows = collect(
                c,
                &format!("SELECT {ACCOUNT_COLS} FROM accounts ORDER BY created_at, id LIMIT ?1 OFFSET ?2"),
                params![limit, offset],
                account_row,
            )?;
            Ok(Paged::from_overfetch(rows, page))
        })
        .await
    }

    async fn update_account(
        &self,
        id: AccountId,
        patch: AccountPatch,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Account>> {
        self.write(move |c| {
            let patch = &patch;
            let Some(mut a) = get_account(c, id)? else {
                return Ok(None);
            };
            if let Some(v) = &patch.email {
                a.email.clone_from(v);
            }
            if let Some(v) = &patch.name {
                a.name.clone_from(v);
            }
            if let Some(v) = &patch.language {
                a.language = v.clone();
            }
            if let Some(v) = patch.currency {
                a.currency = v;
            }
            c.prepare_cached(
                "UPDATE accounts SET email = ?2, name = ?3, language = ?4, currency = ?5, \
                 updated_at = ?6 WHERE id = ?1",
            )
            .map_err(db)?
            .execute(params![
                id.to_string(),
                a.email,
                a.name,
                a.language.as_str(),
                a.currency.code(),
                ts(at),
            ])
            .map_err(unique_as_conflict("account"))?;
            let a = require_account(c, id)?;
            insert_event(c, &events::ev_account(EventKind::AccountUpdated, &a, at))?;
            Ok(Some(a))
        })
        .await
    }

    async fn set_account_customer(
        &self,
        id: AccountId,
        gateway: &str,
        customer_ref: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<Account> {
        let (gateway, customer_ref) = (gateway.to_owned(), customer_ref.to_owned());
        self.write(move |c| {
            let gateway = &gateway;
            let customer_ref = &customer_ref;
            require_account(c, id)?;
            let changed = exec(
                c,
                "UPDATE accounts SET customer_gateway = ?2, customer_ref = ?3, updated_at = ?4 \
                 WHERE id = ?1 AND (customer_ref IS NULL OR customer_gateway <> ?2)",
                params![id.to_string(), gateway, customer_ref, ts(at)],
            )?;
            let a = require_account(c, id)?;
            if changed > 0 {
                insert_event(c, &events::ev_account(EventKind::AccountUpdated, &a, at))?;
            }
            Ok(a)
        })
        .await
    }

    async fn create_card_setup(&self, setup: CardSetup) -> StoreResult<CardSetup> {
        self.write(move |c| {
            let s = &setup;
            require_account(c, s.account_id)?;
            c.prepare_cached(&format!(
                "INSERT INTO account_card_setups ({SETUP_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            ))
            .map_err(db)?
            .execute(params![
                s.token,
                s.account_id.to_string(),
                s.gateway,
                s.setup_ref,
                s.client_secret.expose(),
                ts(s.created_at),
                opt_ts(s.completed_at),
            ])
            .map_err(unique_as_conflict("card setup"))?;
            card_setup(c, &s.token)?.ok_or(StoreError::NotFound {
                entity: "card setup",
            })
        })
        .await
    }

    async fn card_setup(&self, token: &str) -> StoreResult<Option<CardSetup>> {
        let token = token.to_owned();
        self.read(move |c| card_setup(c, &token)).await
    }

    async fn card_setup_by_ref(
        &self,
        gateway: &str,
        setup_ref: &str,
    ) -> StoreResult<Option<CardSetup>> {
        let (gateway, setup_ref) = (gateway.to_owned(), setup_ref.to_owned());
        self.read(move |c| {
            let gateway = &gateway;
            let setup_ref = &setup_ref;
            one(
                c,
                &format!(
                    "SELECT {SETUP_COLS} FROM account_card_setups WHERE gateway = ?1 AND setup_ref = ?2"
                ),
                params![gateway, setup_ref],
                setup_row,
            )
        })
        .await
    }

    async fn save_account_card(
        &self,
        setup_token: &str,
        card: StoredCard,
        at: DateTime<Utc>,
    ) -> StoreResult<Account> {
        let token = setup_token.to_owned();
        self.write(move |c| {
            let token = &token;
            let card = &card;
            let setup = card_setup(c, token)?.ok_or(StoreError::NotFound {
                entity: "card setup",
            })?;
            let before = require_account(c, setup.account_id)?;
            if before.card.as_ref().map(|k| &k.payment_method_ref) == Some(&card.payment_method_ref) {
                return Ok(before);
            }
            let s = &card.summary;
            exec(
                c,
                "UPDATE accounts SET card_gateway = ?2, card_customer_ref = ?3, card_payment_method = ?4, \
                 card_brand = ?5, card_last4 = ?6, card_exp_month = ?7, card_exp_year = ?8, \
                 card_saved_at = ?9, updated_at = ?9 WHERE id = ?1",
                params![
                    setup.account_id.to_string(),
                    card.gateway,
                    card.customer_ref,
                    card.payment_method_ref,
                    s.brand,
                    s.last4,
                    s.exp_month.map(i64::from),
                    s.exp_year.map(i64::from),
                    ts(at),
                ],
            )?;
            exec(
                c,
                "UPDATE account_card_setups SET completed_at = ?2 WHERE token = ?1 AND completed_at IS NULL",
                params![token, ts(at)],
            )?;
            let a = require_account(c, setup.account_id)?;
            insert_event(c, &events::ev_account(EventKind::AccountCardSaved, &a, at))?;
            Ok(a)
        })
        .await
    }

    async fn link_account_token(
        &self,
        id: AccountId,
        id_tag: &IdToken,
        at: DateTime<Utc>,
    ) -> StoreResult<Vec<IdToken>> {
        let tag = id_tag.clone();
        self.write(move |c| {
            let tag = &tag;
            require_account(c, id)?;
            let stored_tag = one(c, statements::LINK_ACCOUNT_TOKEN, [tag.key()], |row| {
                get::<String>(row, 0)
            })?
            .ok_or(StoreError::NotFound { entity: "id token" })?;
            let owner = one(c, statements::LINK_ACCOUNT_TOKEN_2, [tag.key()], |row| {
                get::<String>(row, 0)
            })?;
            match owner {
                Some(o) if o == id.to_string() => {}
                Some(_) => {
                    return Err(StoreError::Conflict {
                        entity: "account token",
                    })
                }
                None => {
                    exec(
                        c,
                        "INSERT INTO account_tokens (id_tag_key, id_tag, account_id, linked_at) \
                         VALUES (?1, ?2, ?3, ?4)",
                        params![tag.key(), stored_tag, id.to_string(), ts(at)],
                    )?;
                    insert_event(
                        c,
                        &events::ev_token(
                            EventKind::AccountTokenLinked,
                            id,
                            &ac::id_tag(&stored_tag)?,
                            at,
                        ),
                    )?;
                }
            }
            account_tokens(c, id)
        })
        .await
    }

    async fn unlink_account_token(
        &self,
        id: AccountId,
        id_tag: &IdToken,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let tag = id_tag.clone();
        self.write(move |c| {
            let tag = &tag;
            let gone = exec(
                c,
                statements::UNLINK_ACCOUNT_TOKEN,
                params![tag.key(), id.to_string()],
            )? > 0;
            if gone {
                insert_event(
                    c,
                    &events::ev_token(EventKind::AccountTokenUnlinked, id, tag, at),
                )?;
            }
            Ok(gone)
        })
        .await
    }

    async fn account_tokens(&self, id: AccountId) -> StoreResult<Vec<IdToken>> {
        self.read(move |c| account_tokens(c, id)).await
    }

    async fn account_standing(&self, id_tag: &IdToken) -> StoreResult<Option<AccountStanding>> {
        let tag = id_tag.clone();
        self.read(move |c| {
            let tag = &tag;
            one(c, statements::ACCOUNT_STANDING, [tag.key()], |row| {
                Ok(AccountStanding {
                    account_id: account_id(&get::<String>(row, 0)?)?,
                    has_card: get(row, 1)?,
                    in_debt: get(row, 2)?,
                })
            })
        })
        .await
    }

    async fn account_for_session(&self, session: SessionId) -> StoreResult<Option<AccountId>> {
        self.read(move |c| {
            one(
                c,
                statements::ACCOUNT_FOR_SESSION,
                [session.to_string()],
                |row| account_id(&get::<String>(row, 0)?),
            )
        })
        .await
    }

    async fn begin_account_charge(
        &self,
        charge: NewAccountCharge,
        payment: Option<NewPayment>,
    ) -> StoreResult<(AccountCharge, bool)> {
        self.write(move |c| {
            let new = &charge;
            let payment = payment.as_ref();
            if let Some(existing) = account_charge(c, new.session_id)? {
                return Ok((existing, false));
            }
            require_account(c, new.account_id)?;
            let payment_id = match payment {
                Some(p) => {
                    let stored = create_payment(c, p)?;
                    link_session(c, stored.id, new.session_id, new.created_at)?;
                    Some(stored.id)
                }
                None => None,
            };
            let status = if payment_id.is_some() {
                ChargeStatus::Pending
            } else {
                ChargeStatus::Paid
            };
            exec(
                c,
                &format!(
                    "INSERT INTO account_charges ({CHARGE_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, ?7, ?7)"
                ),
                params![
                    new.session_id.to_string(),
                    new.account_id.to_string(),
                    new.amount_minor,
                    new.currency.code(),
                    status.as_str(),
                    payment_id.map(|p| p.to_string()),
                    ts(new.created_at),
                ],
            )?;
            let line = require_charge(c, new.session_id)?;
            insert_event(c, &events::ev_charge(&line, new.created_at))?;
            Ok((line, true))
        })
        .await
    }

    async fn account_charge(&self, session: SessionId) -> StoreResult<Option<AccountCharge>> {
        self.read(move |c| account_charge(c, session)).await
    }

    async fn set_account_charge_status(
        &self,
        session: SessionId,
        status: ChargeStatus,
        at: DateTime<Utc>,
    ) -> StoreResult<AccountCharge> {
        self.write(move |c| {
            let before = require_charge(c, session)?;
            if before.status == status {
                return Ok(before);
            }
            let debt_since = match (status, before.debt_since) {
                (ChargeStatus::Debt, None) => Some(at),
                (_, since) => since,
            };
            exec(
                c,
                "UPDATE account_charges SET status = ?2, debt_since = ?3, updated_at = ?4 \
                 WHERE session_id = ?1",
                params![
                    session.to_string(),
                    status.as_str(),
                    opt_ts(debt_since),
                    ts(at)
                ],
            )?;
            let line = require_charge(c, session)?;
            insert_event(c, &events::ev_charge(&line, at))?;
            Ok(line)
        })
        .await
    }

    async fn retry_account_charge(
        &self,
        session: SessionId,
        payment: NewPayment,
    ) -> StoreResult<Option<AccountCharge>> {
        self.write(move |c| {
            let payment = &payment;
            let before = require_charge(c, session)?;
            if before.status != ChargeStatus::Debt {
                return Ok(None);
            }
            let stored = create_payment(c, payment)?;
            let at = payment.created_at;
            exec(
                c,
                "UPDATE account_charges SET status = 'pending', payment_id = ?2, updated_at = ?3 \
                 WHERE session_id = ?1",
                params![session.to_string(), stored.id.to_string(), ts(at)],
            )?;
            let line = require_charge(c, session)?;
            insert_event(c, &events::ev_charge(&line, at))?;
            Ok(Some(line))
        })
        .await
    }

    async fn account_debts(&self, id: AccountId) -> StoreResult<Vec<AccountCharge>> {
        self.read(move |c| {
            collect(
                c,
                &format!(
                    "SELECT {CHARGE_COLS} FROM account_charges WHERE account_id = ?1 \
                     AND (status = 'debt' OR (status = 'pending' AND debt_since IS NOT NULL)) \
                     ORDER BY created_at, session_id"
                ),
                [id.to_string()],
                charge_row,
            )
        })
        .await
    }

    async fn pending_account_charges(&self, limit: u32) -> StoreResult<Vec<AccountCharge>> {
        self.read(move |c| {
            collect(
                c,
                &format!(
                    "SELECT {CHARGE_COLS} FROM account_charges WHERE status = 'pending' \
                     ORDER BY created_at, session_id LIMIT ?1"
                ),
                [i64::from(limit)],
                charge_row,
            )
        })
        .await
    }

    async fn uncharged_account_sessions(
        &self,
        ended_before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<SessionId>> {
        self.read(move |c| {
            collect(
                c,
                statements::UNCHARGED_ACCOUNT_SESSIONS,
                params![ts(ended_before), i64::from(limit)],
                |row| SessionId::parse(&get::<String>(row, 0)?).map_err(corrupt),
            )
        })
        .await
    }
}

pub(super) const ACCOUNT_COLS: &str =
    "id, email, name, language, currency, customer_gateway, customer_ref, \
     card_gateway, card_customer_ref, card_payment_method, card_brand, card_last4, \
     card_exp_month, card_exp_year, card_saved_at, created_at, updated_at";

pub(super) const CHARGE_COLS: &str =
    "session_id, account_id, amount_minor, currency, status, payment_id, \
     debt_since, created_at, updated_at";

pub(super) const SETUP_COLS: &str =
    "token, account_id, gateway, setup_ref, client_secret, created_at, completed_at";

pub(super) fn account_id(raw: &str) -> R<AccountId> {
    AccountId::parse(raw).map_err(corrupt)
}

pub(super) fn account_row(row: &Row<'_>) -> R<Account> {
    AccountRow {
        id: account_id(&get::<String>(row, 0)?)?,
        email: get(row, 1)?,
        name: get(row, 2)?,
        language: get(row, 3)?,
        currency: get(row, 4)?,
        customer_gateway: get(row, 5)?,
        customer_ref: get(row, 6)?,
        card_gateway: get(row, 7)?,
        card_customer_ref: get(row, 8)?,
        card_payment_method: get(row, 9)?,
        card_brand: get(row, 10)?,
        card_last4: get(row, 11)?,
        card_exp_month: get(row, 12)?,
        card_exp_year: get(row, 13)?,
        card_saved_at: get_opt_ts(row, 14)?,
        created_at: get_ts(row, 15)?,
        updated_at: get_ts(row, 16)?,
    }
    .into_account()
}

pub(super) fn charge_row(row: &Row<'_>) -> R<AccountCharge> {
    ChargeRow {
        session_id: SessionId::parse(&get::<String>(row, 0)?).map_err(corrupt)?,
        account_id: account_id(&get::<String>(row, 1)?)?,
        amount_minor: get(row, 2)?,
        currency: get(row, 3)?,
        status: get(row, 4)?,
        payment_id: get::<Option<String>>(row, 5)?
            .as_deref()
            .map(|p| PaymentId::parse(p).map_err(corrupt))
            .transpose()?,
        debt_since: get_opt_ts(row, 6)?,
        created_at: get_ts(row, 7)?,
        updated_at: get_ts(row, 8)?,
    }
    .into_charge()
}

pub(super) fn setup_row(row: &Row<'_>) -> R<CardSetup> {
    Ok(CardSetup {
        token: get(row, 0)?,
        account_id: account_id(&get::<String>(row, 1)?)?,
        gateway: get(row, 2)?,
        setup_ref: get(row, 3)?,
        client_secret: ClientSecret::new(get::<String>(row, 4)?),
        created_at: get_ts(row, 5)?,
        completed_at: get_opt_ts(row, 6)?,
    })
}

pub(crate) fn get_account(c: &Connection, id: AccountId) -> R<Option<Account>> {
    one(
        c,
        &format!("SELECT {ACCOUNT_COLS} FROM accounts WHERE id = ?1"),
        [id.to_string()],
        account_row,
    )
}

pub(super) fn require_account(c: &Connection, id: AccountId) -> R<Account> {
    get_account(c, id)?.ok_or(StoreError::NotFound { entity: "account" })
}

pub(crate) fn card_setup(c: &Connection, token: &str) -> R<Option<CardSetup>> {
    one(
        c,
        &format!("SELECT {SETUP_COLS} FROM account_card_setups WHERE token = ?1"),
        [token],
        setup_row,
    )
}

pub(crate) fn account_tokens(c: &Connection, id: AccountId) -> R<Vec<IdToken>> {
    collect(c, statements::ACCOUNT_TOKENS, [id.to_string()], |row| {
        ac::id_tag(&get::<String>(row, 0)?)
    })
}

pub(crate) fn account_charge(c: &Connection, session: SessionId) -> R<Option<AccountCharge>> {
    one(
        c,
        &format!("SELECT {CHARGE_COLS} FROM account_charges WHERE session_id = ?1"),
        [session.to_string()],
        charge_row,
    )
}

pub(super) fn require_charge(c: &Connection, session: SessionId) -> R<AccountCharge> {
    account_charge(c, session)?.ok_or(StoreError::NotFound {
        entity: "account charge",
    })
}
