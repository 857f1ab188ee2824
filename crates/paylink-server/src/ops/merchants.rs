//! Operator actions (the `paylink merchant|shop|token` commands): merchants, shops, tokens.

use crate::dialects::standard_webhooks::WebhookKey;
use crate::egress;
use crate::keys::{token_context, webhook_context, InstanceKeys, Sealing};
use crate::ops::OpError;
use paylink_core::audit::{Actor, Power};
use paylink_core::error::Rule;
use paylink_core::id::{BillId, MerchantId, PayoutId, ShopId};
use paylink_core::merchant::{Merchant, Shop, Subscription};
use paylink_core::money::{Currency, Rate};
use paylink_core::payout::PayoutProfile;
use paylink_core::plan::{DeliveryAttempt, Plan, Write};
use paylink_core::time::Millis;
use paylink_core::token::ApiToken;
use paylink_core::DomainError;
use paylink_store::{NoticeRecord, Store, StoreError};
use rand::Rng;

pub struct Onboarded {
    pub merchant_id: MerchantId,
    pub shop_id: ShopId,
    /// The only time the full token is shown (paylink keeps it sealed, to sign postbacks).
    pub api_token: String,
    /// The first shop's Standard Webhooks key (`whsec_...`).
    pub webhook_secret: String,
}

/// A new shop and its Standard Webhooks key.
pub struct CreatedShop {
    pub shop: Shop,
    pub webhook_secret: String,
}

/// Shop settings; `None` keeps the current value on update.
#[derive(Debug, Default, Clone)]
pub struct ShopChanges {
    pub name: Option<String>,
    pub currency: Option<Currency>,
    pub balance_currency: Option<Currency>,
    pub result_url: Option<String>,
    pub success_url: Option<String>,
    pub fail_url: Option<String>,
    /// `Some(None)`: back to the server's default commission.
    pub commission: Option<Option<Rate>>,
    pub enabled: Option<bool>,
}

impl ShopChanges {
    fn apply_to(self, shop: &mut Shop) {
        let set = |slot: &mut Option<String>, v: Option<String>| {
            if let Some(v) = v {
                *slot = (!v.is_empty()).then_some(v);
            }
        };
        if let Some(name) = self.name {
            shop.name = name;
        }
        if let Some(c) = self.currency {
            shop.currency = c;
        }
        if let Some(c) = self.balance_currency {
            shop.balance_currency = Some(c);
        }
        set(&mut shop.result_url, self.result_url);
        set(&mut shop.success_url, self.success_url);
        set(&mut shop.fail_url, self.fail_url);
        if let Some(c) = self.commission {
            shop.commission = c;
        }
        if let Some(e) = self.enabled {
            shop.enabled = e;
        }
    }
}

/// A merchant with an active subscription, one enabled RUB shop and one API token.
/// An operator makes a merchant (audited); merchants who sign up are made by
/// [`create_merchant_with`] from the sign-up.
pub async fn create_merchant(
    store: &Store,
    keys: &InstanceKeys,
    actor: &Actor,
    name: &str,
    email: Option<String>,
    verified: bool,
    now: Millis,
) -> Result<Onboarded, OpError> {
    actor.require(Power::Admin)?;
    create_merchant_with(store, keys, name, email, verified, now, |id| {
        vec![Write::Audit(actor.record(
            "merchant.create",
            id.as_str(),
            "",
            format!("name={:?} verified={verified}", name.trim()),
            now,
        ))]
    })
    .await
}

/// [`create_merchant`], with `more` writes (given the new merchant's id) in the same plan: a
/// merchant signing up gets its owner's account with it.
pub async fn create_merchant_with(
    store: &Store,
    keys: &InstanceKeys,
    name: &str,
    email: Option<String>,
    verified: bool,
    now: Millis,
    more: impl Fn(&MerchantId) -> Vec<Write>,
) -> Result<Onboarded, OpError> {
    if name.trim().is_empty() {
        return Err(DomainError::Invalid {
            field: "name",
            kind: Rule::Required,
        }
        .into());
    }
    // Ids drawn before any await: the thread's generator is not Send.
    let (merchant_id, shop_id) = {
        let mut rng = rand::thread_rng();
        (MerchantId::random(&mut rng), ShopId::random(&mut rng))
    };
    let merchant = Merchant {
        id: merchant_id,
        name: name.to_string(),
        email,
        verified,
        banned: false,
        subscription: Subscription::Active,
        created_at: now,
    };
    let shop = Shop::new(shop_id, merchant.id.clone(), name.to_string(), now);
    let (merchant_id, shop_id) = (merchant.id.clone(), shop.id.clone());
    let (webhook_secret, key_write) = webhook_key(&keys.seal, &shop.id);
    let extra = more(&merchant_id);
    let api_token = with_fresh_token(store, &keys.seal, &merchant_id, now, |token_write| {
        let mut writes = vec![
            Write::InsertMerchant(merchant.clone()),
            Write::InsertShop(shop.clone()),
            key_write.clone(),
            token_write,
        ];
        writes.extend(extra.iter().cloned());
        Plan { writes }
    })
    .await?;
    Ok(Onboarded {
        merchant_id,
        shop_id,
        api_token,
        webhook_secret,
    })
}

/// Applies the plan built around a new token; a token id already taken is drawn again.
async fn with_fresh_token(
    store: &Store,
    seal: &Sealing,
    merchant_id: &MerchantId,
    now: Millis,
    plan: impl Fn(Write) -> Plan,
) -> Result<String, OpError> {
    let mut attempts = 0;
    loop {
        let token = ApiToken::generate(
            rand::thread_rng().gen_range(1..1_000_000_000),
            &mut rand::thread_rng(),
        );
        let write = Write::ReplaceToken {
            merchant_id: merchant_id.clone(),
            token_id: token.id,
            digest: token.digest(),
            sealed: seal.seal(
                &mut rand::thread_rng(),
                &token.reveal(),
                &token_context(token.id),
            ),
            now,
        };
        match store.apply(plan(write)).await {
            Ok(()) => return Ok(token.reveal()),
            Err(StoreError::Conflict(_)) if attempts < 5 => attempts += 1,
            Err(e) => return Err(e.into()),
        }
    }
}

pub(crate) async fn merchant(store: &Store, id: &str) -> Result<Merchant, OpError> {
    let id = MerchantId::parse(id).ok_or(DomainError::MerchantNotFound)?;
    Ok(store
        .merchant(&id)
        .await?
        .ok_or(DomainError::MerchantNotFound)?)
}

/// Revokes every token of the merchant and issues a new one.
/// A new API token for the merchant, every earlier one revoked: by the merchant (`actor`
/// `None`) or an operator (audited).
pub async fn refresh_token(
    store: &Store,
    keys: &InstanceKeys,
    actor: Option<&Actor>,
    merchant_id: &str,
    now: Millis,
) -> Result<String, OpError> {
    if let Some(a) = actor {
        a.require(Power::Admin)?;
    }
    let m = merchant(store, merchant_id).await?;
    let audit =
        actor.map(|a| Write::Audit(a.record("merchant.token_refresh", m.id.as_str(), "", "", now)));
    with_fresh_token(store, &keys.seal, &m.id, now, |w| Plan {
        writes: std::iter::once(w).chain(audit.clone()).collect(),
    })
    .await
}

/// A fresh Standard Webhooks key for `shop` and the write that stores it sealed.
fn webhook_key(seal: &Sealing, shop: &ShopId) -> (String, Write) {
    let text = WebhookKey::generate(&mut rand::thread_rng());
    let sealed = seal.seal(
        &mut rand::thread_rng(),
        &text,
        &webhook_context(shop.as_str()),
    );
    let write = Write::SetWebhookKey {
        shop_id: shop.clone(),
        sealed,
    };
    (text, write)
}

/// Replaces the shop's webhook key; the new one signs every postback sent from now on.
/// By the shop's merchant (`actor` `None`) or an operator (audited).
pub async fn rotate_webhook_key(
    store: &Store,
    keys: &InstanceKeys,
    actor: Option<&Actor>,
    shop_id: &str,
    now: Millis,
) -> Result<String, OpError> {
    if let Some(a) = actor {
        a.require(Power::Admin)?;
    }
    let id = ShopId::parse(shop_id).ok_or(DomainError::ShopNotFound)?;
    let shop = store.shop(&id).await?.ok_or(DomainError::ShopNotFound)?;
    let (text, write) = webhook_key(&keys.seal, &shop.id);
    let audit =
        actor.map(|a| Write::Audit(a.record("shop.webhook_secret", shop.id.as_str(), "", "", now)));
    store
        .apply(Plan {
            writes: std::iter::once(write).chain(audit).collect(),
        })
        .await?;
    Ok(text)
}

/// The shop's validation, and a result URL paylink may send postbacks to.
async fn check_shop(shop: &Shop, allow_private: bool) -> Result<(), OpError> {
    shop.validate()?;
    if let Some(url) = &shop.result_url {
        egress::check_configured_url(url, allow_private)
            .await
            .map_err(|r| DomainError::Invalid {
                field: "result_url",
                kind: Rule::Refused {
                    reason: r.to_string(),
                },
            })?;
    }
    Ok(())
}

/// A banned merchant's API calls, checkouts and payouts are refused.
pub async fn set_banned(
    store: &Store,
    actor: &Actor,
    merchant_id: &str,
    banned: bool,
    now: Millis,
) -> Result<(), OpError> {
    actor.require(Power::Admin)?;
    let m = merchant(store, merchant_id).await?;
    let audit = actor.record(
        if banned {
            "merchant.ban"
        } else {
            "merchant.unban"
        },
        m.id.as_str(),
        format!("banned={}", m.banned),
        format!("banned={banned}"),
        now,
    );
    store
        .apply(Plan {
            writes: vec![
                Write::SetMerchantBanned {
                    merchant_id: m.id,
                    banned,
                },
                Write::Audit(audit),
            ],
        })
        .await?;
    Ok(())
}

pub async fn set_subscription(
    store: &Store,
    actor: &Actor,
    merchant_id: &str,
    subscription: Subscription,
    now: Millis,
) -> Result<(), OpError> {
    actor.require(Power::Admin)?;
    let m = merchant(store, merchant_id).await?;
    let audit = actor.record(
        "merchant.subscription",
        m.id.as_str(),
        m.subscription.as_str(),
        subscription.as_str(),
        now,
    );
    store
        .apply(Plan {
            writes: vec![
                Write::SetSubscription {
                    merchant_id: m.id,
                    subscription,
                },
                Write::Audit(audit),
            ],
        })
        .await?;
    Ok(())
}

/// `allow_private`: result URLs on loopback and private addresses are accepted.
pub async fn create_shop(
    store: &Store,
    keys: &InstanceKeys,
    merchant_id: &str,
    changes: ShopChanges,
    allow_private: bool,
    now: Millis,
) -> Result<CreatedShop, OpError> {
    let m = merchant(store, merchant_id).await?;
    let mut shop = Shop::new(
        ShopId::random(&mut rand::thread_rng()),
        m.id,
        String::new(),
        now,
    );
    changes.apply_to(&mut shop);
    check_shop(&shop, allow_private).await?;
    let (webhook_secret, key_write) = webhook_key(&keys.seal, &shop.id);
    store
        .apply(Plan {
            writes: vec![Write::InsertShop(shop.clone()), key_write],
        })
        .await?;
    Ok(CreatedShop {
        shop,
        webhook_secret,
    })
}

/// The merchant's shops.
pub async fn shops(store: &Store, merchant_id: &MerchantId) -> Result<Vec<Shop>, OpError> {
    Ok(store.shops_of(merchant_id).await?)
}

/// [`update_shop`] for one of `merchant_id`'s shops; another merchant's shop reads as missing.
pub async fn update_own_shop(
    store: &Store,
    merchant_id: &MerchantId,
    shop_id: &str,
    changes: ShopChanges,
    allow_private: bool,
) -> Result<Shop, OpError> {
    own_shop(store, merchant_id, shop_id).await?;
    update_shop(store, None, shop_id, changes, allow_private, 0).await
}

/// One of `merchant_id`'s shops; another merchant's reads as missing.
pub async fn own_shop(
    store: &Store,
    merchant_id: &MerchantId,
    shop_id: &str,
) -> Result<Shop, OpError> {
    let id = ShopId::parse(shop_id).ok_or(DomainError::ShopNotFound)?;
    Ok(store
        .shop(&id)
        .await?
        .filter(|s| &s.merchant_id == merchant_id)
        .ok_or(DomainError::ShopNotFound)?)
}

/// Changes a shop: by its merchant (`actor` `None`), or by an operator (audited).
pub async fn update_shop(
    store: &Store,
    actor: Option<&Actor>,
    shop_id: &str,
    changes: ShopChanges,
    allow_private: bool,
    now: Millis,
) -> Result<Shop, OpError> {
    if let Some(a) = actor {
        a.require(Power::Admin)?;
    }
    let id = ShopId::parse(shop_id).ok_or(DomainError::ShopNotFound)?;
    let before = store.shop(&id).await?.ok_or(DomainError::ShopNotFound)?;
    let mut shop = before.clone();
    changes.apply_to(&mut shop);
    check_shop(&shop, allow_private).await?;
    let mut writes = vec![Write::UpdateShop(shop.clone())];
    if let Some(a) = actor {
        writes.push(Write::Audit(a.record(
            "shop.update",
            shop.id.as_str(),
            shop_state(&before),
            shop_state(&shop),
            now,
        )));
    }
    store.apply(Plan { writes }).await?;
    Ok(shop)
}

/// A shop's settings as the audit log shows them.
fn shop_state(s: &Shop) -> String {
    format!(
        "name={:?} enabled={} currency={} commission={} result_url={}",
        s.name,
        s.enabled,
        s.currency.code(),
        s.commission
            .map_or_else(|| "default".to_string(), |c| format!("{}bps", c.bps())),
        s.result_url.as_deref().unwrap_or("-"),
    )
}

/// A postback with its delivery attempts.
pub struct PostbackHistory {
    pub record: NoticeRecord,
    pub attempts: Vec<DeliveryAttempt>,
}

/// The postbacks about bill `bill_id`, oldest first.
/// The webhook of a payout (sent once it is final) with its attempts; empty before.
pub async fn payout_postbacks(
    store: &Store,
    payout_id: &str,
) -> Result<Vec<PostbackHistory>, OpError> {
    let id = PayoutId::parse(payout_id).ok_or(DomainError::PayoutNotFound)?;
    store
        .payout(&id)
        .await?
        .ok_or(DomainError::PayoutNotFound)?;
    let mut out = Vec::new();
    if let Some(record) = store.notice(&format!("msg_{id}")).await? {
        let attempts = store.notice_attempts(&record.notice.id).await?;
        out.push(PostbackHistory { record, attempts });
    }
    Ok(out)
}

pub async fn postbacks(store: &Store, bill_id: &str) -> Result<Vec<PostbackHistory>, OpError> {
    let id = BillId::parse(bill_id).ok_or(DomainError::BillNotFound)?;
    store.bill(&id).await?.ok_or(DomainError::BillNotFound)?;
    let mut out = Vec::new();
    for record in store.notices_for_bill(&id).await? {
        let attempts = store.notice_attempts(&record.notice.id).await?;
        out.push(PostbackHistory { record, attempts });
    }
    Ok(out)
}

/// Makes postback `id` due now, in a fresh round of the retry schedule.
/// Sends a sample payment postback (`SUCCESS`, 100.00 in the shop's currency, ids starting
/// with `TEST`) to the shop's result URL, rendered and signed as real ones are, once, without
/// recording it; answers the receiver's status and the start of its answer, or why none came.
pub async fn test_postback(
    st: &crate::state::AppState,
    merchant: &MerchantId,
    shop_id: &str,
) -> Result<Result<(u16, String), String>, OpError> {
    use paylink_core::event::{Dialect, Event, EventKind, NoticeState, PaymentFinished};
    use paylink_core::id::PaymentId;
    use paylink_store::{Claimed, NoticeContent, NoticeRecord, StoredNotice};
    let shop = own_shop(&st.store, merchant, shop_id).await?;
    let Some(url) = shop.result_url.clone() else {
        return Err(DomainError::Invalid {
            field: "result_url",
            kind: Rule::Required,
        }
        .into());
    };
    let (token, webhook_key_sealed) = st
        .store
        .shop_signing(&shop.id)
        .await?
        .ok_or(DomainError::ShopNotFound)?;
    let now = st.now();
    let event = Event::PaymentFinished(PaymentFinished {
        payment_id: PaymentId::from_trusted("TESTPAY000".into()),
        bill_id: BillId::from_trusted("TESTBILL00".into()),
        order_id: Some("test".into()),
        status: "SUCCESS".into(),
        amount: 10_000,
        commission: 0,
        currency: shop.currency,
        custom: None,
    });
    let claimed = Claimed {
        record: NoticeRecord {
            notice: StoredNotice {
                id: format!(
                    "msg_test_{}",
                    paylink_core::id::random_base62(&mut rand::thread_rng(), 10)
                ),
                kind: EventKind::Payment,
                dialect: Dialect::Cardlink,
                merchant_id: Some(merchant.clone()),
                partner_id: None,
                shop_id: Some(shop.id.clone()),
                bill_id: None,
                subject_id: "TESTPAY000".into(),
                url,
                content: NoticeContent::Event(event),
                created_at: now,
            },
            state: NoticeState::Pending,
            attempts: 0,
            total_attempts: 0,
            next_at: now,
            last_status: None,
            delivered_at: None,
        },
        token,
        webhook_key_sealed,
        procard: None,
        operation_id: None,
    };
    Ok(crate::workers::dispatcher::send(st, &claimed, now).await)
}

/// [`redeliver`] for one of `merchant`'s notices; another's (or a partner's) reads as missing.
pub async fn redeliver_own(
    store: &Store,
    merchant: &MerchantId,
    id: &str,
    now: Millis,
) -> Result<(), OpError> {
    let own = store
        .notice(id)
        .await?
        .is_some_and(|n| n.notice.merchant_id.as_ref() == Some(merchant));
    if !own {
        return Err(DomainError::PaymentNotFound.into());
    }
    redeliver(store, None, id, now).await
}

/// Sends a postback again: by its merchant (`actor` `None`: [`redeliver_own`] checked it is
/// theirs), or by an operator (audited).
pub async fn redeliver(
    store: &Store,
    actor: Option<&Actor>,
    id: &str,
    now: Millis,
) -> Result<(), OpError> {
    let mut writes = vec![Write::Redeliver {
        notice_id: id.to_string(),
        now,
    }];
    if let Some(a) = actor {
        a.require(Power::Support)?;
        writes.push(Write::Audit(a.record(
            "postback.redeliver",
            id,
            "",
            "",
            now,
        )));
    }
    store.apply(Plan { writes }).await?;
    Ok(())
}

/// Only verified merchants may pay out.
pub async fn set_verified(
    store: &Store,
    actor: &Actor,
    merchant_id: &str,
    verified: bool,
    now: Millis,
) -> Result<(), OpError> {
    actor.require(Power::Admin)?;
    let m = merchant(store, merchant_id).await?;
    let audit = actor.record(
        if verified {
            "merchant.verify"
        } else {
            "merchant.unverify"
        },
        m.id.as_str(),
        format!("verified={}", m.verified),
        format!("verified={verified}"),
        now,
    );
    store
        .apply(Plan {
            writes: vec![
                Write::SetMerchantVerified {
                    merchant_id: m.id,
                    verified,
                },
                Write::Audit(audit),
            ],
        })
        .await
        .map_err(|e| not_found_on_guard(e, DomainError::MerchantNotFound))
}

/// Changes the merchant's payout settings by `change` (moderation, regular payouts, limits,
/// webhook URL); a new webhook URL must be http(s).
pub async fn update_payout_profile(
    store: &Store,
    actor: &Actor,
    merchant_id: &str,
    change: impl FnOnce(&mut PayoutProfile),
    now: Millis,
) -> Result<(MerchantId, PayoutProfile), OpError> {
    actor.require(Power::Admin)?;
    let id = MerchantId::parse(merchant_id).ok_or(DomainError::MerchantNotFound)?;
    let before = store
        .payout_profile(&id)
        .await?
        .ok_or(DomainError::MerchantNotFound)?;
    let mut profile = before.clone();
    change(&mut profile);
    if profile.webhook_url.is_some() && profile.webhook_url != before.webhook_url {
        paylink_core::text::check_url("payout_webhook_url", &profile.webhook_url)?;
    }
    store
        .apply(Plan {
            writes: vec![
                Write::SetPayoutProfile {
                    merchant_id: id.clone(),
                    profile: profile.clone(),
                },
                Write::Audit(actor.record(
                    "merchant.payout_settings",
                    id.as_str(),
                    profile_state(&before),
                    profile_state(&profile),
                    now,
                )),
            ],
        })
        .await
        .map_err(|e| not_found_on_guard(e, DomainError::MerchantNotFound))?;
    Ok((id, profile))
}

/// Payout settings as the audit log shows them (amounts in minor units).
fn profile_state(p: &PayoutProfile) -> String {
    let limit = |l: Option<i64>| l.map_or_else(|| "default".to_string(), |v| v.to_string());
    format!(
        "moderation={} regular_payouts={} daily_limit={} monthly_limit={} webhook_url={}",
        p.moderation,
        p.regular_payouts,
        limit(p.daily_limit),
        limit(p.monthly_limit),
        p.webhook_url.as_deref().unwrap_or("-"),
    )
}

/// A write whose only guard is that its row exists: a refusal means the row is gone.
pub(crate) fn not_found_on_guard(e: StoreError, missing: DomainError) -> OpError {
    match e {
        StoreError::GuardFailed(_) => missing.into(),
        other => other.into(),
    }
}
