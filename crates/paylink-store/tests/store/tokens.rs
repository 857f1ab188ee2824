//! API tokens: a replacement revokes every live token of the merchant, and only the new one
//! resolves.

use crate::support::{is_conflict, open, seed, NOW};
use paylink_core::id::MerchantId;
use paylink_core::plan::{Plan, Write};
use paylink_core::token::ApiToken;
use paylink_store::Store;

async fn replace(store: &Store, merchant: &MerchantId, token: &ApiToken, now: i64) {
    store
        .apply(Plan::one(Write::ReplaceToken {
            merchant_id: merchant.clone(),
            token_id: token.id,
            digest: token.digest(),
            sealed: "sealed".into(),
            now,
        }))
        .await
        .expect("replace the token");
}

#[tokio::test]
async fn replacing_a_token_revokes_the_old_one() {
    let (_db, store) = open().await;
    let (m, _) = seed(&store, "tokens").await;
    let (other, _) = seed(&store, "neighbour").await;
    let mut rng = rand::thread_rng();
    assert!(store.token_owner(1).await.unwrap().is_none());

    let first = ApiToken::generate(1, &mut rng);
    replace(&store, &m.id, &first, NOW).await;
    let owner = store
        .token_owner(1)
        .await
        .unwrap()
        .expect("first token resolves");
    assert_eq!(owner.merchant, m);
    assert_eq!(owner.secret_sha256, first.digest());
    assert!(first.matches(&owner.secret_sha256));

    let neighbour = ApiToken::generate(2, &mut rng);
    replace(&store, &other.id, &neighbour, NOW).await;

    let second = ApiToken::generate(3, &mut rng);
    replace(&store, &m.id, &second, NOW + 1).await;
    assert!(
        store.token_owner(1).await.unwrap().is_none(),
        "the replaced token still resolves"
    );
    let owner = store
        .token_owner(3)
        .await
        .unwrap()
        .expect("new token resolves");
    assert_eq!(owner.merchant, m);
    assert_eq!(owner.secret_sha256, second.digest());
    assert!(!first.matches(&owner.secret_sha256));

    // Another merchant's token is not revoked.
    let owner = store
        .token_owner(2)
        .await
        .unwrap()
        .expect("neighbour's token");
    assert_eq!(owner.merchant, other);
    assert_eq!(owner.secret_sha256, neighbour.digest());

    // A token reflects the merchant's current state (a ban is seen through it).
    store
        .apply(Plan::one(Write::SetMerchantBanned {
            merchant_id: m.id.clone(),
            banned: true,
        }))
        .await
        .unwrap();
    assert!(store.token_owner(3).await.unwrap().unwrap().merchant.banned);
}

#[tokio::test]
async fn a_replacement_that_fails_keeps_the_old_token() {
    let (_db, store) = open().await;
    let (m, _) = seed(&store, "keep").await;
    let (other, _) = seed(&store, "taken").await;
    let mut rng = rand::thread_rng();
    let current = ApiToken::generate(10, &mut rng);
    replace(&store, &m.id, &current, NOW).await;
    let taken = ApiToken::generate(11, &mut rng);
    replace(&store, &other.id, &taken, NOW).await;

    // The new token's id is taken: the revocation in the same write must roll back with it.
    let clash = ApiToken::generate(11, &mut rng);
    let r = store
        .apply(Plan::one(Write::ReplaceToken {
            merchant_id: m.id.clone(),
            token_id: clash.id,
            digest: clash.digest(),
            sealed: "sealed".into(),
            now: NOW + 1,
        }))
        .await;
    assert!(is_conflict(&r), "{r:?}");
    let owner = store
        .token_owner(10)
        .await
        .unwrap()
        .expect("old token kept");
    assert_eq!(
        (owner.merchant.id, owner.secret_sha256),
        (m.id, current.digest())
    );
    let owner = store
        .token_owner(11)
        .await
        .unwrap()
        .expect("other token kept");
    assert_eq!(
        (owner.merchant.id, owner.secret_sha256),
        (other.id, taken.digest())
    );
}
