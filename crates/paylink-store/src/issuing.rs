//! The Card API in SQL: its writes (partners, requests, clients, cards, card transactions,
//! OTPs, one-time links) and its reads. Every read of a partner's objects is scoped by the
//! partner, so another partner's card or client reads as missing.

use crate::rows;
use crate::sql::{Columns, Statement, Value};
use crate::{Store, StoreError};
use paylink_core::guard::Guard;
use paylink_core::id::{CardId, CardTransactionId, ClientId, PartnerId};
use paylink_core::issued::{
    CardClient, CardRequest, CardTransaction, ClientDetails, IssuedCard, Partner, Produced,
    RequestOutcome, StatementLine, TransactionKind, TransactionStatus,
};
use paylink_core::issuing::{BinRange, CardStatus, CardType, StoredOtp};
use paylink_core::money::Amount;
use paylink_core::plan::Write;
use paylink_core::time::Millis;
use serde_json::{json, Value as Json};

/// The row a Card API write updates, if any, as table and key (see `writes::locks`).
pub(crate) fn lock(write: &Write) -> Option<(&'static str, String)> {
    Some(match write {
        Write::SetPartnerKey { partner_id, .. } => ("partners", partner_id.to_string()),
        Write::UpdateCardClient(c) => ("card_clients", c.id.to_string()),
        Write::SetCardStatus { card_id, .. }
        | Write::LinkCard { card_id, .. }
        | Write::MoveCardMoney { card_id, .. } => ("cards", card_id.to_string()),
        Write::SettleAuthorization { id, .. } | Write::AddCardRefund { id, .. } => {
            ("card_transactions", id.to_string())
        }
        Write::SetCardOtp { card_id, .. }
        | Write::CountOtpAttempt { card_id, .. }
        | Write::SpendOtp { card_id, .. } => ("card_otps", card_id.to_string()),
        Write::UseCardSecret { digest, .. } => ("card_secrets", digest.clone()),
        // Every unused link of the card: sorted among the plans that lock links by the card.
        Write::SpendCardSecrets { card_id, .. } => ("card_secrets", card_id.to_string()),
        _ => return None,
    })
}

fn list<T>(items: &[T], text: impl Fn(&T) -> String) -> String {
    items.iter().map(text).collect::<Vec<_>>().join(",")
}

fn produced_json(p: &Produced) -> String {
    json!({
        "client_id": p.client_id.as_ref().map(|c| c.as_str()),
        "card_id": p.card_id.as_ref().map(|c| c.as_str()),
        "transaction_id": p.transaction_id.as_ref().map(|t| t.as_str()),
        "cards": p.cards.iter().map(|(id, mask)| json!([id.as_str(), mask])).collect::<Vec<_>>(),
    })
    .to_string()
}

fn produced(text: &str) -> Result<Produced, StoreError> {
    let corrupt = || StoreError::Corrupt(format!("card_requests.produced = {text:?}"));
    let v: Json = serde_json::from_str(text).map_err(|_| corrupt())?;
    let id = |name: &str| v.get(name).and_then(Json::as_str).map(str::to_string);
    let cards = match v.get("cards").and_then(Json::as_array) {
        Some(cards) => cards
            .iter()
            .map(|c| {
                match (
                    c.get(0).and_then(Json::as_str),
                    c.get(1).and_then(Json::as_str),
                ) {
                    (Some(id), Some(mask)) => Ok((CardId::from_trusted(id.into()), mask.into())),
                    _ => Err(corrupt()),
                }
            })
            .collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    Ok(Produced {
        client_id: id("client_id").map(ClientId::from_trusted),
        card_id: id("card_id").map(CardId::from_trusted),
        transaction_id: id("transaction_id").map(CardTransactionId::from_trusted),
        cards,
    })
}

pub(crate) fn push(out: &mut Vec<Statement>, write: &Write) {
    match write {
        Write::InsertPartner(p) => out.push(Statement::new(
            "INSERT INTO partners (id, name, key_sealed, currencies, products, bin_ranges,
                 created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            vec![
                p.id.as_str().into(),
                p.name.as_str().into(),
                p.key_sealed.as_str().into(),
                list(&p.currencies, |c| c.code().to_string()).into(),
                list(&p.products, u32::to_string).into(),
                list(&p.bin_ranges, BinRange::text).into(),
                p.created_at.into(),
                p.updated_at.into(),
            ],
        )),
        Write::SetPartnerKey {
            partner_id,
            key_sealed,
            now,
        } => out.push(Statement::guarded(
            "UPDATE partners SET key_sealed = $2, updated_at = $3 WHERE id = $1",
            vec![
                partner_id.as_str().into(),
                key_sealed.as_str().into(),
                (*now).into(),
            ],
            Guard::PartnerNotFound,
        )),
        Write::RecordCardRequest(r) => {
            let (code, description) = match &r.outcome {
                RequestOutcome::Error { code, description } => {
                    (Some(code.as_str()), Some(description.as_str()))
                }
                _ => (None, None),
            };
            out.push(Statement::guarded(
                "INSERT INTO card_requests (partner_id, request_id, method, status, error_code,
                     error_description, produced, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (partner_id, request_id) DO NOTHING",
                vec![
                    r.partner_id.as_str().into(),
                    r.request_id.as_str().into(),
                    r.method.as_str().into(),
                    r.outcome.status().into(),
                    code.into(),
                    description.into(),
                    produced_json(&r.produced).into(),
                    r.created_at.into(),
                ],
                Guard::DuplicateRequestId,
            ))
        }
        Write::InsertCardClient(c) => {
            let mut args = vec![Value::from(c.id.as_str()), c.partner_id.as_str().into()];
            args.extend(client_args(c));
            args.extend([c.created_at.into(), c.updated_at.into(), c.version.into()]);
            out.push(Statement::new(
                "INSERT INTO card_clients (id, partner_id, product_id, client_type, resident,
                     first_name, last_name, middle_name, phone, birthdate, email, country,
                     created_at, updated_at, version)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
                args,
            ))
        }
        Write::UpdateCardClient(c) => {
            let mut args = vec![Value::from(c.id.as_str()), c.partner_id.as_str().into()];
            args.extend(client_args(c));
            args.extend([c.updated_at.into(), c.version.into()]);
            out.push(Statement::guarded(
                "UPDATE card_clients SET product_id = $3, client_type = $4, resident = $5,
                     first_name = $6, last_name = $7, middle_name = $8, phone = $9,
                     birthdate = $10, email = $11, country = $12, updated_at = $13,
                     version = version + 1
                 WHERE id = $1 AND partner_id = $2 AND version = $14",
                args,
                Guard::ClientMoved,
            ))
        }
        Write::InsertCard(c) => out.push(Statement::new(
            "INSERT INTO cards (id, partner_id, client_id, product_id, card_type, gift_product,
                 currency, status, version, card_token, pan_fingerprint, card_mask, holder_name,
                 holder_phone, data_sealed, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
            vec![
                c.id.as_str().into(),
                c.partner_id.as_str().into(),
                c.client_id.as_ref().map(|c| c.as_str()).into(),
                i64::from(c.product_id).into(),
                c.card_type.as_str().into(),
                c.gift_product.as_deref().into(),
                c.currency.code().into(),
                i64::from(c.status.code()).into(),
                c.version.into(),
                c.card_token.as_str().into(),
                c.pan_fingerprint.as_str().into(),
                c.card_mask.as_str().into(),
                c.holder_name.as_deref().into(),
                c.holder_phone.as_deref().into(),
                c.data_sealed.as_str().into(),
                c.created_at.into(),
                c.updated_at.into(),
            ],
        )),
        Write::SetCardStatus {
            card_id,
            from,
            to,
            version,
            now,
        } => out.push(Statement::guarded(
            "UPDATE cards SET status = $3, updated_at = $4, version = version + 1
             WHERE id = $1 AND status = $2 AND ($5 < 0 OR version = $5)",
            vec![
                card_id.as_str().into(),
                i64::from(from.code()).into(),
                i64::from(to.code()).into(),
                (*now).into(),
                version.unwrap_or(-1).into(),
            ],
            Guard::CardMoved,
        )),
        Write::MoveCardMoney { card_id, spends } => {
            out.push(Statement::guarded(
                "UPDATE cards SET version = version + 1 WHERE id = $1 AND status <> $2",
                vec![
                    card_id.as_str().into(),
                    i64::from(CardStatus::Closed.code()).into(),
                ],
                Guard::CardClosed,
            ));
            if *spends {
                out.push(Statement::guarded(
                    "UPDATE cards SET version = version WHERE id = $1 AND status = $2",
                    vec![
                        card_id.as_str().into(),
                        i64::from(CardStatus::Active.code()).into(),
                    ],
                    Guard::CardNotActive,
                ));
            }
        }
        Write::LinkCard {
            card_id,
            client_id,
            now,
        } => out.push(Statement::guarded(
            "UPDATE cards SET client_id = $2, updated_at = $3
             WHERE id = $1 AND (client_id IS NULL OR client_id = $2)",
            vec![
                card_id.as_str().into(),
                client_id.as_str().into(),
                (*now).into(),
            ],
            Guard::CardLinked,
        )),
        Write::InsertCardTransaction(t) => out.push(Statement::new(
            "INSERT INTO card_transactions (id, partner_id, card_id, kind, amount, currency,
                 status, captured, released, refunded, parent_id, description, merchant_name,
                 external_id, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
            vec![
                t.id.as_str().into(),
                t.partner_id.as_str().into(),
                t.card_id.as_str().into(),
                t.kind.as_str().into(),
                t.amount.minor().into(),
                t.currency.code().into(),
                t.status.as_str().into(),
                t.captured.into(),
                t.released.into(),
                t.refunded.into(),
                t.parent_id.as_ref().map(|p| p.as_str()).into(),
                t.description.as_str().into(),
                t.merchant_name.as_deref().into(),
                t.external_id.as_deref().into(),
                t.created_at.into(),
                t.updated_at.into(),
            ],
        )),
        Write::SettleAuthorization {
            id,
            capture,
            release,
            now,
        } => out.push(Statement::guarded(
            "UPDATE card_transactions SET captured = captured + $2, released = released + $3,
                 status = CASE WHEN captured + released + $2 + $3 < amount THEN 'process'
                               WHEN captured + $2 > 0 THEN 'success' ELSE 'reversed' END,
                 updated_at = $4
             WHERE id = $1 AND kind = 'authorization' AND status = 'process'
               AND captured + released + $2 + $3 <= amount",
            vec![
                id.as_str().into(),
                (*capture).into(),
                (*release).into(),
                (*now).into(),
            ],
            Guard::AmountExceedsAuthorized,
        )),
        Write::AddCardRefund { id, amount, now } => out.push(Statement::guarded(
            "UPDATE card_transactions SET refunded = refunded + $2,
                 status = CASE WHEN refunded + $2 =
                     (CASE WHEN kind = 'authorization' THEN captured ELSE amount END)
                     THEN 'refunded' ELSE status END,
                 updated_at = $3
             WHERE id = $1 AND kind IN ('debit', 'authorization') AND status <> 'process'
               AND refunded + $2 <= CASE WHEN kind = 'authorization' THEN captured ELSE amount END",
            vec![id.as_str().into(), (*amount).into(), (*now).into()],
            Guard::AmountExceedsAuthorized,
        )),
        Write::SetCardOtp { card_id, otp, now } => out.push(Statement::new(
            "INSERT INTO card_otps (card_id, digest, expires_at, attempts, created_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (card_id) DO UPDATE SET digest = $2, expires_at = $3, attempts = $4,
                 created_at = $5",
            vec![
                card_id.as_str().into(),
                otp.digest.as_str().into(),
                otp.expires_at.into(),
                i64::from(otp.attempts_used).into(),
                (*now).into(),
            ],
        )),
        Write::CountOtpAttempt {
            card_id,
            digest,
            max,
        } => out.push(Statement::guarded(
            "UPDATE card_otps SET attempts = attempts + 1
             WHERE card_id = $1 AND digest = $2 AND attempts < $3",
            vec![
                card_id.as_str().into(),
                digest.as_str().into(),
                i64::from(*max).into(),
            ],
            Guard::OtpSpent,
        )),
        Write::SpendOtp { card_id, digest } => out.push(Statement::guarded(
            "DELETE FROM card_otps WHERE card_id = $1 AND digest = $2",
            vec![card_id.as_str().into(), digest.as_str().into()],
            Guard::OtpSpent,
        )),
        Write::InsertCardSecret {
            digest,
            card_id,
            expires_at,
            now,
        } => out.push(Statement::new(
            "INSERT INTO card_secrets (digest, card_id, expires_at, created_at)
             VALUES ($1, $2, $3, $4)",
            vec![
                digest.as_str().into(),
                card_id.as_str().into(),
                (*expires_at).into(),
                (*now).into(),
            ],
        )),
        Write::UseCardSecret { digest, now } => out.push(Statement::guarded(
            "UPDATE card_secrets SET used_at = $2
             WHERE digest = $1 AND used_at IS NULL AND expires_at > $2",
            vec![digest.as_str().into(), (*now).into()],
            Guard::SecretGone,
        )),
        Write::SpendCardSecrets { card_id, now } => out.push(Statement::new(
            "UPDATE card_secrets SET used_at = $2 WHERE card_id = $1 AND used_at IS NULL",
            vec![card_id.as_str().into(), (*now).into()],
        )),
        other => unreachable!("not a Card API write: {other:?}"),
    }
}

/// Columns 3..=12 of a client row: product_id .. country.
fn client_args(c: &CardClient) -> Vec<Value> {
    let d = &c.details;
    vec![
        i64::from(c.product_id).into(),
        i64::from(d.client_type).into(),
        i64::from(d.resident).into(),
        d.first_name.as_str().into(),
        d.last_name.as_str().into(),
        d.middle_name.as_deref().into(),
        d.phone.as_str().into(),
        d.birthdate.as_deref().into(),
        d.email.as_deref().into(),
        d.country.as_deref().into(),
    ]
}

fn corrupt(table_column: &str, value: impl std::fmt::Debug) -> StoreError {
    StoreError::Corrupt(format!("{table_column} = {value:?}"))
}

fn small<T: TryFrom<i64>>(r: &dyn Columns, column: &str) -> Result<T, StoreError> {
    let v = r.i64(column)?;
    T::try_from(v).map_err(|_| corrupt(column, v))
}

fn partner(r: &dyn Columns) -> Result<Partner, StoreError> {
    let split = |column: &str| -> Result<Vec<String>, StoreError> {
        Ok(r.text(column)?
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect())
    };
    Ok(Partner {
        id: PartnerId::from_trusted(r.text("id")?),
        name: r.text("name")?,
        key_sealed: r.text("key_sealed")?,
        currencies: split("currencies")?
            .iter()
            .map(|c| c.parse().map_err(|_| corrupt("partners.currencies", c)))
            .collect::<Result<_, _>>()?,
        products: split("products")?
            .iter()
            .map(|p| p.parse().map_err(|_| corrupt("partners.products", p)))
            .collect::<Result<_, _>>()?,
        bin_ranges: split("bin_ranges")?
            .iter()
            .map(|b| BinRange::parse(b).ok_or_else(|| corrupt("partners.bin_ranges", b)))
            .collect::<Result<_, _>>()?,
        created_at: r.i64("created_at")?,
        updated_at: r.i64("updated_at")?,
    })
}

const PARTNER_COLUMNS: &str =
    "id, name, key_sealed, currencies, products, bin_ranges, created_at, updated_at";

fn client(r: &dyn Columns) -> Result<CardClient, StoreError> {
    Ok(CardClient {
        id: ClientId::from_trusted(r.text("id")?),
        partner_id: PartnerId::from_trusted(r.text("partner_id")?),
        product_id: small(r, "product_id")?,
        details: ClientDetails {
            phone: r.text("phone")?,
            client_type: small(r, "client_type")?,
            resident: small(r, "resident")?,
            first_name: r.text("first_name")?,
            last_name: r.text("last_name")?,
            middle_name: r.opt_text("middle_name")?,
            birthdate: r.opt_text("birthdate")?,
            email: r.opt_text("email")?,
            country: r.opt_text("country")?,
        },
        version: r.i64("version")?,
        created_at: r.i64("created_at")?,
        updated_at: r.i64("updated_at")?,
    })
}

const CLIENT_COLUMNS: &str = "id, partner_id, product_id, client_type, resident, first_name, \
     last_name, middle_name, phone, birthdate, email, country, version, created_at, updated_at";

fn card(r: &dyn Columns) -> Result<IssuedCard, StoreError> {
    let card_type = r.text("card_type")?;
    let status: u8 = small(r, "status")?;
    Ok(IssuedCard {
        id: CardId::from_trusted(r.text("id")?),
        partner_id: PartnerId::from_trusted(r.text("partner_id")?),
        client_id: r.opt_text("client_id")?.map(ClientId::from_trusted),
        product_id: small(r, "product_id")?,
        card_type: CardType::parse(&card_type)
            .ok_or_else(|| corrupt("cards.card_type", &card_type))?,
        gift_product: r.opt_text("gift_product")?,
        currency: rows::currency(r, "currency")?,
        status: CardStatus::from_code(status).ok_or_else(|| corrupt("cards.status", status))?,
        version: r.i64("version")?,
        card_token: r.text("card_token")?,
        pan_fingerprint: r.text("pan_fingerprint")?,
        card_mask: r.text("card_mask")?,
        holder_name: r.opt_text("holder_name")?,
        holder_phone: r.opt_text("holder_phone")?,
        data_sealed: r.text("data_sealed")?,
        created_at: r.i64("created_at")?,
        updated_at: r.i64("updated_at")?,
    })
}

const CARD_COLUMNS: &str = "id, partner_id, client_id, product_id, card_type, gift_product, \
     currency, status, version, card_token, pan_fingerprint, card_mask, holder_name, holder_phone, \
     data_sealed, created_at, updated_at";

fn transaction(r: &dyn Columns) -> Result<CardTransaction, StoreError> {
    let kind = r.text("kind")?;
    let status = r.text("status")?;
    let amount = r.i64("amount")?;
    Ok(CardTransaction {
        id: CardTransactionId::from_trusted(r.text("id")?),
        partner_id: PartnerId::from_trusted(r.text("partner_id")?),
        card_id: CardId::from_trusted(r.text("card_id")?),
        kind: TransactionKind::parse(&kind)
            .ok_or_else(|| corrupt("card_transactions.kind", &kind))?,
        amount: Amount::from_minor(amount)
            .ok_or_else(|| corrupt("card_transactions.amount", amount))?,
        currency: rows::currency(r, "currency")?,
        status: TransactionStatus::parse(&status)
            .ok_or_else(|| corrupt("card_transactions.status", &status))?,
        captured: r.i64("captured")?,
        released: r.i64("released")?,
        refunded: r.i64("refunded")?,
        parent_id: r
            .opt_text("parent_id")?
            .map(CardTransactionId::from_trusted),
        description: r.text("description")?,
        merchant_name: r.opt_text("merchant_name")?,
        external_id: r.opt_text("external_id")?,
        created_at: r.i64("created_at")?,
        updated_at: r.i64("updated_at")?,
    })
}

const TRANSACTION_COLUMNS: &str = "id, partner_id, card_id, kind, amount, currency, status, \
     captured, released, refunded, parent_id, description, merchant_name, external_id, \
     created_at, updated_at";

fn request(r: &dyn Columns) -> Result<CardRequest, StoreError> {
    let status = r.text("status")?;
    let outcome = match status.as_str() {
        "success" => RequestOutcome::Success,
        "process" => RequestOutcome::Process,
        "error" => RequestOutcome::Error {
            code: r.opt_text("error_code")?.unwrap_or_default(),
            description: r.opt_text("error_description")?.unwrap_or_default(),
        },
        other => return Err(corrupt("card_requests.status", other)),
    };
    Ok(CardRequest {
        partner_id: PartnerId::from_trusted(r.text("partner_id")?),
        request_id: r.text("request_id")?,
        method: r.text("method")?,
        outcome,
        produced: produced(&r.text("produced")?)?,
        created_at: r.i64("created_at")?,
    })
}

/// A text message as `paylink sms list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsRecord {
    pub id: String,
    pub partner_id: Option<PartnerId>,
    pub phone: String,
    /// Sealed: `ops::issuing::sms_messages` opens it.
    pub text: String,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    pub created_at: Millis,
}

/// A one-time card data link as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardSecretLink {
    pub card_id: CardId,
    pub expires_at: Millis,
    pub used_at: Option<Millis>,
}

impl Store {
    pub async fn partner(&self, id: &PartnerId) -> Result<Option<Partner>, StoreError> {
        let sql = sql_once!("SELECT {PARTNER_COLUMNS} FROM partners WHERE id = $1");
        self.fetch_one(sql, &[id.as_str().into()], partner).await
    }

    /// Every partner, oldest first.
    pub async fn partners(&self) -> Result<Vec<Partner>, StoreError> {
        let sql = sql_once!("SELECT {PARTNER_COLUMNS} FROM partners ORDER BY created_at, id");
        self.fetch(sql, &[], partner).await
    }

    pub async fn card_request(
        &self,
        partner: &PartnerId,
        request_id: &str,
    ) -> Result<Option<CardRequest>, StoreError> {
        self.fetch_one(
            "SELECT partner_id, request_id, method, status, error_code, error_description,
                 produced, created_at
             FROM card_requests WHERE partner_id = $1 AND request_id = $2",
            &[partner.as_str().into(), request_id.into()],
            request,
        )
        .await
    }

    pub async fn card_client(
        &self,
        partner: &PartnerId,
        id: &ClientId,
    ) -> Result<Option<CardClient>, StoreError> {
        let sql = sql_once!(
            "SELECT {CLIENT_COLUMNS} FROM card_clients WHERE id = $1 AND partner_id = $2"
        );
        self.fetch_one(sql, &[id.as_str().into(), partner.as_str().into()], client)
            .await
    }

    pub async fn card(
        &self,
        partner: &PartnerId,
        id: &CardId,
    ) -> Result<Option<IssuedCard>, StoreError> {
        let sql = sql_once!("SELECT {CARD_COLUMNS} FROM cards WHERE id = $1 AND partner_id = $2");
        self.fetch_one(sql, &[id.as_str().into(), partner.as_str().into()], card)
            .await
    }

    pub async fn card_by_token(
        &self,
        partner: &PartnerId,
        token: &str,
    ) -> Result<Option<IssuedCard>, StoreError> {
        let sql =
            sql_once!("SELECT {CARD_COLUMNS} FROM cards WHERE card_token = $1 AND partner_id = $2");
        self.fetch_one(sql, &[token.into(), partner.as_str().into()], card)
            .await
    }

    /// A page of the partner's cards (of one client, if given), oldest first.
    pub async fn cards(
        &self,
        partner: &PartnerId,
        client: Option<&ClientId>,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<IssuedCard>, StoreError> {
        match client {
            Some(client) => {
                let sql = sql_once!(
                    "SELECT {CARD_COLUMNS} FROM cards WHERE client_id = $1 AND partner_id = $2
                     ORDER BY created_at, id LIMIT $3 OFFSET $4"
                );
                let args = [
                    client.as_str().into(),
                    partner.as_str().into(),
                    limit.into(),
                    offset.into(),
                ];
                self.fetch(sql, &args, card).await
            }
            None => {
                let sql = sql_once!(
                    "SELECT {CARD_COLUMNS} FROM cards WHERE partner_id = $1
                     ORDER BY created_at, id LIMIT $2 OFFSET $3"
                );
                let args = [partner.as_str().into(), limit.into(), offset.into()];
                self.fetch(sql, &args, card).await
            }
        }
    }

    pub async fn card_transaction(
        &self,
        partner: &PartnerId,
        id: &CardTransactionId,
    ) -> Result<Option<CardTransaction>, StoreError> {
        let sql = sql_once!(
            "SELECT {TRANSACTION_COLUMNS} FROM card_transactions WHERE id = $1 AND partner_id = $2"
        );
        self.fetch_one(
            sql,
            &[id.as_str().into(), partner.as_str().into()],
            transaction,
        )
        .await
    }

    /// A page of the card's statement over `[from, to]`, oldest first: every ledger entry on
    /// the card's accounts booked in the period, as one line, or two for a settlement that
    /// both captured and released (see [`StatementLine::of_entry`]). Read from the ledger, so
    /// the lines sum to what the card's balance did.
    pub async fn card_statement(
        &self,
        card: &CardId,
        currency: paylink_core::money::Currency,
        from: Millis,
        to: Millis,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<StatementLine>, StoreError> {
        // The entries of the card are found by their subject: its transactions (made before
        // the period ends) and the card itself (its close). Each row is one line: part 0 the
        // entry's first line, part 1 a settlement's release.
        let sql = sql_once!(
            "SELECT m.entry_id, m.moved_at, m.line_currency, m.available, m.hold, parts.part,
                 ct.id, ct.partner_id, ct.card_id, ct.kind, ct.amount, ct.currency, ct.status,
                 ct.captured, ct.released, ct.refunded, ct.parent_id, ct.description,
                 ct.merchant_name, ct.external_id, ct.created_at, ct.updated_at
             FROM (SELECT t.id AS entry_id, t.created_at AS moved_at, t.subject_id AS subject,
                       p.currency AS line_currency,
                       CAST(SUM(CASE WHEN p.bucket = 'available' THEN p.amount ELSE 0 END)
                           AS BIGINT) AS available,
                       CAST(SUM(CASE WHEN p.bucket = 'hold' THEN p.amount ELSE 0 END)
                           AS BIGINT) AS hold
                   FROM ledger_transactions t JOIN ledger_postings p ON p.tx_id = t.id
                   WHERE t.subject_id IN (
                           SELECT id FROM card_transactions WHERE card_id = $1 AND created_at <= $3
                           UNION ALL SELECT id FROM cards WHERE id = $1)
                     AND t.created_at >= $2 AND t.created_at <= $3
                     AND p.owner_kind = 'card' AND p.owner_id = $1 AND p.currency = $6
                   GROUP BY t.id, t.created_at, t.subject_id, p.currency) m
             CROSS JOIN (SELECT CAST(0 AS BIGINT) AS part
                         UNION ALL SELECT CAST(1 AS BIGINT) AS part) parts
             LEFT JOIN card_transactions ct ON ct.id = m.subject AND ct.card_id = $1
             WHERE (parts.part = 0 AND (m.hold > 0 OR (m.hold = 0 AND m.available <> 0)
                                        OR (m.hold < 0 AND m.available < -m.hold)))
                OR (parts.part = 1 AND m.hold < 0 AND m.available > 0)
             ORDER BY m.moved_at, m.entry_id, parts.part LIMIT $4 OFFSET $5"
        );
        let args = [
            card.as_str().into(),
            from.into(),
            to.into(),
            limit.into(),
            offset.into(),
            currency.code().into(),
        ];
        let rows = self
            .fetch(sql, &args, |r| {
                let t = match r.opt_text("id")? {
                    Some(_) => Some(transaction(r)?),
                    None => None,
                };
                let lines = StatementLine::of_entry(
                    t,
                    rows::currency(r, "line_currency")?,
                    r.i64("available")?,
                    r.i64("hold")?,
                    r.i64("moved_at")?,
                );
                let line = match r.i64("part")? {
                    0 => lines.first(),
                    _ => lines.last(),
                };
                Ok(line.cloned())
            })
            .await?;
        Ok(rows.into_iter().flatten().collect())
    }

    pub async fn card_otp(&self, card: &CardId) -> Result<Option<StoredOtp>, StoreError> {
        self.fetch_one(
            "SELECT digest, expires_at, attempts FROM card_otps WHERE card_id = $1",
            &[card.as_str().into()],
            |r| {
                Ok(StoredOtp {
                    digest: r.text("digest")?,
                    expires_at: r.i64("expires_at")?,
                    attempts_used: small(r, "attempts")?,
                })
            },
        )
        .await
    }

    pub async fn card_secret(&self, digest: &str) -> Result<Option<CardSecretLink>, StoreError> {
        self.fetch_one(
            "SELECT card_id, expires_at, used_at FROM card_secrets WHERE digest = $1",
            &[digest.into()],
            |r| {
                Ok(CardSecretLink {
                    card_id: CardId::from_trusted(r.text("card_id")?),
                    expires_at: r.i64("expires_at")?,
                    used_at: r.opt_i64("used_at")?,
                })
            },
        )
        .await
    }

    /// The card whatever its partner (the one-time page, which has no partner).
    pub async fn card_anywhere(&self, id: &CardId) -> Result<Option<IssuedCard>, StoreError> {
        let sql = sql_once!("SELECT {CARD_COLUMNS} FROM cards WHERE id = $1");
        self.fetch_one(sql, &[id.as_str().into()], card).await
    }

    /// The newest text messages, newest first.
    pub async fn sms_messages(&self, limit: i64) -> Result<Vec<SmsRecord>, StoreError> {
        self.fetch(
            "SELECT id, partner_id, event, state, created_at FROM outbox
             WHERE kind = 'sms' ORDER BY created_at DESC, id DESC LIMIT $1",
            &[limit.into()],
            |r| {
                let event = r.text("event")?;
                let (phone, text) = match crate::events::decode(&event)? {
                    paylink_core::event::Event::Sms(s) => (s.phone, s.text_sealed),
                    _ => return Err(corrupt("outbox.event", &event)),
                };
                Ok(SmsRecord {
                    id: r.text("id")?,
                    partner_id: r.opt_text("partner_id")?.map(PartnerId::from_trusted),
                    phone,
                    text,
                    state: r.text("state")?,
                    created_at: r.i64("created_at")?,
                })
            },
        )
        .await
    }
}
