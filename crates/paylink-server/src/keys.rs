//! The instance's keys, each derived from its own random secret kept in the database (created
//! on first start): sealing, card fingerprints, payment form ids, the sandbox issuer.

use paylink_core::seal::SealKey;
use paylink_store::{Store, StoreError};

pub struct InstanceKeys {
    /// Seals API tokens and webhook keys at rest, and the 3-D Secure state the payer carries.
    pub seal: SealKey,
    /// Card fingerprints.
    pub fingerprint: Vec<u8>,
    /// Payment ids derived from one-time form tokens.
    pub forms: Vec<u8>,
    /// The sandbox issuer's signature on its 3-D Secure answers.
    pub sandbox: Vec<u8>,
}

impl InstanceKeys {
    pub async fn load(store: &Store) -> Result<InstanceKeys, StoreError> {
        Ok(InstanceKeys {
            seal: SealKey::derive(&store.instance_secret("seal_key").await?),
            fingerprint: store
                .instance_secret("card_fingerprint_key")
                .await?
                .into_bytes(),
            forms: store.instance_secret("form_key").await?.into_bytes(),
            sandbox: store.instance_secret("sandbox_acs_key").await?.into_bytes(),
        })
    }

    /// Only the sealing key: what admin commands need.
    pub async fn seal_key(store: &Store) -> Result<SealKey, StoreError> {
        Ok(SealKey::derive(&store.instance_secret("seal_key").await?))
    }
}

/// What a sealed API token is bound to.
pub fn token_context(token_id: i64) -> String {
    format!("api_token:{token_id}")
}

/// What a sealed webhook key is bound to.
pub fn webhook_context(shop_id: &str) -> String {
    format!("webhook_key:{shop_id}")
}
