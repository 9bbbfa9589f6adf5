//! Driver accounts (`AccountStore`): accounts, token links, card setups
//! and the charge line of each session charged to an account.

use super::outbox::insert_event;
use super::payments::{create_payment, link_session};
use super::sql::{get, limit_offset, map_rows, pg, unique_as_conflict, R};
use super::PgStore;
use crate::accounts::{self as ac, AccountRow, ChargeRow};
use crate::events;
use crate::statements;
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
use sqlx::postgres::PgRow;
use sqlx::PgConnection;
use uuid::Uuid;

#[async_trait]
impl AccountStore for PgStore {
    async fn create_account(&self, new: NewAccount, at: DateTime<Utc>) -> StoreResult<Account> {
        in_tx!(self, c => async {
            let new = &new;
            sqlx::query(
                statements::CREATE_ACCOUNT,
            )
            .bind(new.id.as_uuid())
            .bind(&new.email)
            .bind(&new.name)
            .bind(new.language.as_str())
            .bind(new.currency.code())
            .bind(at)
            .execute(&mut *c)
            .await
            .map_err(unique_as_conflict("account"))?;
            let a = require_account(c, new.id, false).await?;
            insert_event(c, &events::ev_account(EventKind::AccountCreated, &a, at)).await?;
            Ok(a)
        })
    }

    async fn get_account(&self, id: AccountId) -> StoreResult<Option<Account>> {
        on_conn!(self, c => async {
            account_only(c, id, false).await
        })
    }

    async fn list_accounts(&self, page: Page) -> StoreResult<Paged<Account>> {
        on_conn!(self, c => async {
            let (limit, offset) = limit_offset(page);
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {ACCOUNT_COLS} FROM accounts ORDER BY created_at, id LIMIT $1 OFFSET $2"
            )))
            .bind(limit)
            .bind(offset)
            .fetch_all(&mut *c)
            .await
            .map_err(pg)?;
            Ok(Paged::from_overfetch(map_rows(rows, account_row)?, page))
        })
    }

    async fn update_account(
        &self,
        id: AccountId,
        patch: AccountPatch,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Account>> {
        in_tx!(self, c => async {
            let patch = &patch;
            let Some(mut a) = account_only(c, id, true).await? else {
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
            sqlx::query(
                "UPDATE accounts SET email = $2, name = $3, language = $4, currency = $5, \
                 updated_at = $6 WHERE id = $1",
            )
            .bind(id.as_uuid())
            .bind(&a.email)
            .bind(&a.name)
            .bind(a.language.as_str())
            .bind(a.currency.code())
            .bind(at)
            .execute(&mut *c)
            .await
            .map_err(unique_as_conflict("account"))?;
            let a = require_account(c, id, false).await?;
            insert_event(c, &events::ev_account(EventKind::AccountUpdated, &a, at)).await?;
            Ok(Some(a))
        })
    }

    async fn set_account_customer(
        &self,
        id: AccountId,
        gateway: &str,
        customer_ref: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<Account> {
        let (gateway, customer_ref) = (gateway.to_owned(), customer_ref.to_owned());
        in_tx!(self, c => async {
            let gateway = &gateway;
            let customer_ref = &customer_ref;
            require_account(c, id, true).await?;
            let changed = sqlx::query(
                "UPDATE accounts SET customer_gateway = $2, customer_ref = $3, updated_at = $4 \
                 WHERE id = $1 AND (customer_ref IS NULL OR customer_gateway <> $2)",
            )
            .bind(id.as_uuid())
            .bind(gateway)
            .bind(customer_ref)
            .bind(at)
            .execute(&mut *c)
            .await
            .map_err(pg)?
            .rows_affected();
            let a = require_account(c, id, false).await?;
            if changed > 0 {
                insert_event(c, &events::ev_account(EventKind::AccountUpdated, &a, at)).await?;
            }
            Ok(a)
        })
    }

    async fn create_card_setup(&self, setup: CardSetup) -> StoreResult<CardSetup> {
        in_tx!(self, c => async {
            let s = &setup;
            require_account(c, s.account_id, false).await?;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO account_card_setups ({SETUP_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
            )))
            .bind(&s.token)
            .bind(s.account_id.as_uuid())
            .bind(&s.gateway)
            .bind(&s.setup_ref)
            .bind(s.client_secret.expose())
            .bind(s.created_at)
            .bind(s.completed_at)
            .execute(&mut *c)
            .await
            .map_err(unique_as_conflict("card setup"))?;
            card_setup(c, &s.token).await?.ok_or(StoreError::NotFound {
                entity: "card setup",
            })
        })
    }

    async fn card_setup(&self, token: &str) -> StoreResult<Option<CardSetup>> {
        let token = token.to_owned();
        on_conn!(self, c => card_setup(c, &token))
    }

    async fn card_setup_by_ref(
        &self,
        gateway: &str,
        setup_ref: &str,
    ) -> StoreResult<Option<CardSetup>> {
        let (gateway, setup_ref) = (gateway.to_owned(), setup_ref.to_owned());
        on_conn!(self, c => async {
            let gateway = &gateway;
            let setup_ref = &setup_ref;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {SETUP_COLS} FROM account_card_setups WHERE gateway = $1 AND setup_ref = $2"
            )))
            .bind(gateway)
            .bind(setup_ref)
            .fetch_optional(&mut *c)
            .await
            .map_err(pg)?
            .as_ref()
            .map(setup_row)
            .transpose()
        })
    }

    async fn save_account_card(
        &self,
        setup_token: &str,
        card: StoredCard,
        at: DateTime<Utc>,
    ) -> StoreResult<Account> {
        let token = setup_token.to_owned();
        in_tx!(self, c => async {
            let token = &token;
            let card = &card;
            let setup = card_setup(c, token).await?.ok_or(StoreError::NotFound {
                entity: "card setup",
            })?;
            let before = require_account(c, setup.account_id, true).await?;
            if before.card.as_ref().map(|k| &k.payment_method_ref) == Some(&card.payment_method_ref) {
                return Ok(before);
            }
            let s = &card.summary;
            sqlx::query(
                "UPDATE accounts SET card_gateway = $2, card_customer_ref = $3, card_payment_method = $4, \
                 card_brand = $5, card_last4 = $6, card_exp_month = $7, card_exp_year = $8, \
                 card_saved_at = $9, updated_at = $9 WHERE id = $1",
            )
            .bind(setup.account_id.as_uuid())
            .bind(&card.gateway)
            .bind(&card.customer_ref)
            .bind(&card.payment_method_ref)
            .bind(&s.brand)
            .bind(&s.last4)
            .bind(s.exp_month.map(i32::from))
            .bind(s.exp_year.map(i32::from))
            .bind(at)
            .execute(&mut *c)
            .await
            .map_err(pg)?;
            sqlx::query(
                "UPDATE account_card_setups SET completed_at = $2 WHERE token = $1 AND completed_at IS NULL",
            )
            .bind(token)
            .bind(at)
            .execute(&mut *c)
            .await
            .map_err(pg)?;
            let a = require_account(c, setup.account_id, false).await?;
            insert_event(c, &events::ev_account(EventKind::AccountCardSaved, &a, at)).await?;
            Ok(a)
        })
    }

    async fn link_account_token(
        &self,
        id: AccountId,
        id_tag: &IdToken,
        at: DateTime<Utc>,
    ) -> StoreResult<Vec<IdToken>> {
        let tag = id_tag.clone();
        in_tx!(self, c => async {
            let tag = &tag;
            require_account(c, id, false).await?;
            let stored_tag: String = sqlx::query(statements::LINK_ACCOUNT_TOKEN)
                .bind(tag.key())
                .fetch_optional(&mut *c)
                .await
                .map_err(pg)?
                .as_ref()
                .map(|row| get::<String>(row, 0))
                .transpose()?
                .ok_or(StoreError::NotFound { entity: "id token" })?;
            let inserted = sqlx::query(
                "INSERT INTO account_tokens (id_tag_key, id_tag, account_id, linked_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (id_tag_key) DO NOTHING",
            )
            .bind(tag.key())
            .bind(&stored_tag)
            .bind(id.as_uuid())
            .bind(at)
            .execute(&mut *c)
            .await
            .map_err(pg)?
            .rows_affected();
            if inserted == 0 {
                let owner: Option<Uuid> =
                    sqlx::query(statements::LINK_ACCOUNT_TOKEN_2)
                        .bind(tag.key())
                        .fetch_optional(&mut *c)
                        .await
                        .map_err(pg)?
                        .as_ref()
                        .map(|row| get::<Uuid>(row, 0))
                        .transpose()?;
                if owner != Some(id.as_uuid()) {
                    return Err(StoreError::Conflict {
                        entity: "account token",
                    });
                }
            } else {
                insert_event(
                    c,
                    &events::ev_token(
                        EventKind::AccountTokenLinked,
                        id,
                        &ac::id_tag(&stored_tag)?,
                        at,
                    ),
                )
                .await?;
            }
            account_tokens(c, id).await
        })
    }

    async fn unlink_account_token(
        &self,
        id: AccountId,
        id_tag: &IdToken,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let tag = id_tag.clone();
        in_tx!(self, c => async {
            let tag = &tag;
            let gone = sqlx::query(statements::UNLINK_ACCOUNT_TOKEN)
                .bind(tag.key())
                .bind(id.as_uuid())
                .execute(&mut *c)
                .await
                .map_err(pg)?
                .rows_affected()
                > 0;
            if gone {
                insert_event(
                    c,
                    &events::ev_token(EventKind::AccountTokenUnlinked, id, tag, at),
                )
                .await?;
            }
            Ok(gone)
        })
    }

    async fn account_tokens(&self, id: AccountId) -> StoreResult<Vec<IdToken>> {
        on_conn!(self, c => account_tokens(c, id))
    }

    async fn account_standing(&self, id_tag: &IdToken) -> StoreResult<Option<AccountStanding>> {
        let tag = id_tag.clone();
        on_conn!(self, c => async {
            let tag = &tag;
            sqlx::query(
                statements::ACCOUNT_STANDING,
            )
            .bind(tag.key())
            .fetch_optional(&mut *c)
            .await
            .map_err(pg)?
            .as_ref()
            .map(|row| {
                Ok(AccountStanding {
                    account_id: AccountId::from_uuid(get(row, 0)?),
                    has_card: get(row, 1)?,
                    in_debt: get(row, 2)?,
                })
            })
            .transpose()
        })
    }

    async fn account_for_session(&self, session: SessionId) -> StoreResult<Option<AccountId>> {
        on_conn!(self, c => async {
            sqlx::query(
                statements::ACCOUNT_FOR_SESSION,
            )
            .bind(session.as_uuid())
            .fetch_optional(&mut *c)
            .await
            .map_err(pg)?
            .as_ref()
            .map(|row| Ok(AccountId::from_uuid(get(row, 0)?)))
            .transpose()
        })
    }

    async fn begin_account_charge(
        &self,
        charge: NewAccountCharge,
        payment: Option<NewPayment>,
    ) -> StoreResult<(AccountCharge, bool)> {
        in_tx!(self, c => async {
            let new = &charge;
            let payment = payment.as_ref();
            require_account(c, new.account_id, false).await?;
            let status = if payment.is_some() {
                ChargeStatus::Pending
            } else {
                ChargeStatus::Paid
            };
            // The line first: a concurrent charge of the same session waits here
            // (before any outbox lock) and then finds the line.
            let inserted = sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO account_charges ({CHARGE_COLS}) VALUES ($1, $2, $3, $4, $5, NULL, NULL, $6, $6) \
                 ON CONFLICT (session_id) DO NOTHING"
            )))
            .bind(new.session_id.as_uuid())
            .bind(new.account_id.as_uuid())
            .bind(new.amount_minor)
            .bind(new.currency.code())
            .bind(status.as_str())
            .bind(new.created_at)
            .execute(&mut *c)
            .await
            .map_err(pg)?
            .rows_affected();
            if inserted == 0 {
                return Ok((require_charge(c, new.session_id, false).await?, false));
            }
            if let Some(p) = payment {
                let stored = create_payment(c, p).await?;
                link_session(c, stored.id, new.session_id, new.created_at).await?;
                sqlx::query("UPDATE account_charges SET payment_id = $2 WHERE session_id = $1")
                    .bind(new.session_id.as_uuid())
                    .bind(stored.id.as_uuid())
                    .execute(&mut *c)
                    .await
                    .map_err(pg)?;
            }
            let line = require_charge(c, new.session_id, false).await?;
            insert_event(c, &events::ev_charge(&line, new.created_at)).await?;
            Ok((line, true))
        })
    }

    async fn account_charge(&self, session: SessionId) -> StoreResult<Option<AccountCharge>> {
        on_conn!(self, c => async {
            charge_only(c, session, false).await
        })
    }

    async fn set_account_charge_status(
        &self,
        session: SessionId,
        status: ChargeStatus,
        at: DateTime<Utc>,
    ) -> StoreResult<AccountCharge> {
        in_tx!(self, c => async {
            let before = require_charge(c, session, true).await?;
            if before.status == status {
                return Ok(before);
            }
            let debt_since = match (status, before.debt_since) {
                (ChargeStatus::Debt, None) => Some(at),
                (_, since) => since,
            };
            sqlx::query(
                "UPDATE account_charges SET status = $2, debt_since = $3, updated_at = $4 \
                 WHERE session_id = $1",
            )
            .bind(session.as_uuid())
            .bind(status.as_str())
            .bind(debt_since)
            .bind(at)
            .execute(&mut *c)
            .await
            .map_err(pg)?;
            let line = require_charge(c, session, false).await?;
            insert_event(c, &events::ev_charge(&line, at)).await?;
            Ok(line)
        })
    }

    async fn retry_account_charge(
        &self,
        session: SessionId,
        payment: NewPayment,
    ) -> StoreResult<Option<AccountCharge>> {
        in_tx!(self, c => async {
            let payment = &payment;
            let before = require_charge(c, session, true).await?;
            if before.status != ChargeStatus::Debt {
                return Ok(None);
            }
            let stored = create_payment(c, payment).await?;
            let at = payment.created_at;
            sqlx::query(
                "UPDATE account_charges SET status = 'pending', payment_id = $2, updated_at = $3 \
                 WHERE session_id = $1",
            )
            .bind(session.as_uuid())
            .bind(stored.id.as_uuid())
            .bind(at)
            .execute(&mut *c)
            .await
            .map_err(pg)?;
            let line = require_charge(c, session, false).await?;
            insert_event(c, &events::ev_charge(&line, at)).await?;
            Ok(Some(line))
        })
    }

    async fn account_debts(&self, id: AccountId) -> StoreResult<Vec<AccountCharge>> {
        on_conn!(self, c => async {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {CHARGE_COLS} FROM account_charges WHERE account_id = $1 \
                 AND (status = 'debt' OR (status = 'pending' AND debt_since IS NOT NULL)) \
                 ORDER BY created_at, session_id"
            )))
            .bind(id.as_uuid())
            .fetch_all(&mut *c)
            .await
            .map_err(pg)?;
            map_rows(rows, charge_row)
        })
    }

    async fn pending_account_charges(&self, limit: u32) -> StoreResult<Vec<AccountCharge>> {
        on_conn!(self, c => async {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {CHARGE_COLS} FROM account_charges WHERE status = 'pending' \
                 ORDER BY created_at, session_id LIMIT $1"
            )))
            .bind(i64::from(limit))
            .fetch_all(&mut *c)
            .await
            .map_err(pg)?;
            map_rows(rows, charge_row)
        })
    }

    async fn uncharged_account_sessions(
        &self,
        ended_before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<SessionId>> {
        on_conn!(self, c => async {
            let rows = sqlx::query(
                statements::UNCHARGED_ACCOUNT_SESSIONS,
            )
            .bind(ended_before)
            .bind(i64::from(limit))
            .fetch_all(&mut *c)
            .await
            .map_err(pg)?;
            map_rows(rows, |row| Ok(SessionId::from_uuid(get(row, 0)?)))
        })
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

pub(super) fn account_row(row: &PgRow) -> R<Account> {
    AccountRow {
        id: AccountId::from_uuid(get(row, 0)?),
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
        card_exp_month: get::<Option<i32>>(row, 12)?.map(i64::from),
        card_exp_year: get::<Option<i32>>(row, 13)?.map(i64::from),
        card_saved_at: get(row, 14)?,
        created_at: get(row, 15)?,
        updated_at: get(row, 16)?,
    }
    .into_account()
}

pub(super) fn charge_row(row: &PgRow) -> R<AccountCharge> {
    ChargeRow {
        session_id: SessionId::from_uuid(get(row, 0)?),
        account_id: AccountId::from_uuid(get(row, 1)?),
        amount_minor: get(row, 2)?,
        currency: get(row, 3)?,
        status: get(row, 4)?,
        payment_id: get::<Option<Uuid>>(row, 5)?.map(PaymentId::from_uuid),
        debt_since: get(row, 6)?,
        created_at: get(row, 7)?,
        updated_at: get(row, 8)?,
    }
    .into_charge()
}

pub(super) fn setup_row(row: &PgRow) -> R<CardSetup> {
    Ok(CardSetup {
        token: get(row, 0)?,
        account_id: AccountId::from_uuid(get(row, 1)?),
        gateway: get(row, 2)?,
        setup_ref: get(row, 3)?,
        client_secret: ClientSecret::new(get::<String>(row, 4)?),
        created_at: get(row, 5)?,
        completed_at: get(row, 6)?,
    })
}

pub(super) async fn account_only(
    c: &mut PgConnection,
    id: AccountId,
    lock: bool,
) -> R<Option<Account>> {
    let sql = format!(
        "SELECT {ACCOUNT_COLS} FROM accounts WHERE id = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.as_uuid())
        .fetch_optional(&mut *c)
        .await
        .map_err(pg)?
        .as_ref()
        .map(account_row)
        .transpose()
}

pub(super) async fn require_account(c: &mut PgConnection, id: AccountId, lock: bool) -> R<Account> {
    account_only(c, id, lock)
        .await?
        .ok_or(StoreError::NotFound { entity: "account" })
}

pub(crate) async fn card_setup(c: &mut PgConnection, token: &str) -> R<Option<CardSetup>> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {SETUP_COLS} FROM account_card_setups WHERE token = $1"
    )))
    .bind(token)
    .fetch_optional(&mut *c)
    .await
    .map_err(pg)?
    .as_ref()
    .map(setup_row)
    .transpose()
}

pub(crate) async fn account_tokens(c: &mut PgConnection, id: AccountId) -> R<Vec<IdToken>> {
    let rows = sqlx::query(statements::ACCOUNT_TOKENS)
        .bind(id.as_uuid())
        .fetch_all(&mut *c)
        .await
        .map_err(pg)?;
    map_rows(rows, |row| ac::id_tag(&get::<String>(row, 0)?))
}

pub(super) async fn charge_only(
    c: &mut PgConnection,
    session: SessionId,
    lock: bool,
) -> R<Option<AccountCharge>> {
    let sql = format!(
        "SELECT {CHARGE_COLS} FROM account_charges WHERE session_id = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(session.as_uuid())
        .fetch_optional(&mut *c)
        .await
        .map_err(pg)?
        .as_ref()
        .map(charge_row)
        .transpose()
}

pub(super) async fn require_charge(
    c: &mut PgConnection,
    session: SessionId,
    lock: bool,
) -> R<AccountCharge> {
    charge_only(c, session, lock)
        .await?
        .ok_or(StoreError::NotFound {
            entity: "account charge",
        })
}
