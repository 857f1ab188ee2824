//! Request ids: each partner's `request_id` is used once, whatever the outcome and however many
//! copies race; `request/status` (and `transaction/request/status`) tell the partner what the
//! original did and produced.

use super::*;

const STATUS: &str = "card-api/request/status";

/// `request/status` of `request_id` (the lookup's own `request_id` names the original).
async fn status_of(p: &Partner, request_id: &str) -> Value {
    p.ok(STATUS, json!({"request_id": request_id})).await
}

fn client_body(request_id: &str) -> Value {
    json!({"request_id": request_id, "product_id": 1000, "client": {
        "phone": "77011234567", "type": 1, "resident": 1,
        "first_name": "Ivan", "last_name": "Petrov",
    }})
}

/// How many cards `card/list` shows the partner (all of them: fewer than 100 in these tests).
async fn card_count(p: &Partner) -> usize {
    let b = p.ok("card-api/card/list", json!({"limit": 100})).await;
    b["cards"].as_array().expect("cards").len()
}

#[tokio::test]
async fn a_repeated_request_id_is_refused_and_moves_no_money_again() {
    let app = spawn_app().await;
    let p = partner(&app, 1000).await;
    let card = p.card("KZT").await;
    let rid = new_request_id();
    let credit = json!({"request_id": rid, "card_id": card, "type": "credit",
                        "amount": "100.00", "currency": "KZT", "description": "top-up"});
    let first = p.ok("card-api/transaction/create", credit.clone()).await;
    let again = p
        .refused(
            "card-api/transaction/create",
            credit.clone(),
            "duplicate_request_id",
        )
        .await;
    assert_eq!(again["status"], json!("error"), "{again}");
    // Another body under the same id is refused as well, unread.
    let mut bigger = credit.clone();
    bigger["amount"] = json!("500.00");
    p.refused(
        "card-api/transaction/create",
        bigger,
        "duplicate_request_id",
    )
    .await;
    // Even for another method.
    p.refused(
        "card-api/card/balance",
        json!({"request_id": rid, "card_id": card}),
        "duplicate_request_id",
    )
    .await;
    assert_eq!(p.balance(&card).await.0, "100.00");
    // The original's outcome stands.
    let s = status_of(&p, &rid).await;
    assert_eq!(s["request_status"], json!("success"), "{s}");
    assert_eq!(s["transaction_id"], first["transaction_id"], "{s}");
}

#[tokio::test]
async fn another_partner_may_use_the_same_request_id() {
    let app = spawn_app().await;
    let a = partner(&app, 0).await;
    let b = partner(&app, 0).await;
    let rid = new_request_id();
    let ca = a.ok("card-api/client/add", client_body(&rid)).await;
    let cb = b.ok("card-api/client/add", client_body(&rid)).await;
    assert_ne!(ca["client_id"], cb["client_id"]);
    // Each sees its own request under that id.
    assert_eq!(status_of(&a, &rid).await["client_id"], ca["client_id"]);
    assert_eq!(status_of(&b, &rid).await["client_id"], cb["client_id"]);
}

/// Sends `copies` identical signed requests to `path` at once through real HTTP; the answers.
async fn race(app: &TestApp, p: &Partner, path: &str, body: Value, copies: usize) -> Vec<Answer> {
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(copies));
    let tasks: Vec<_> = (0..copies)
        .map(|_| {
            let client = CardApiClient::new(&app.address, &p.auth_id, &p.key);
            let body = body.clone();
            let path = path.to_string();
            let start = start.clone();
            tokio::spawn(async move {
                start.wait().await;
                client
                    .call(&format!("/v5/{path}"), &body)
                    .await
                    .expect("the server answers JSON")
            })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.expect("the request task"));
    }
    answers
}

/// Exactly one success among `answers`, every other one `duplicate_request_id`; the success.
#[track_caller]
fn exactly_one_success(answers: &[Answer]) -> Value {
    let mut wins = Vec::new();
    for a in answers {
        if a.is_ok() {
            wins.push(a.body.clone());
        } else {
            assert_eq!(a.http_status, 200, "{}", a.body);
            assert_eq!(a.error_code(), Some("duplicate_request_id"), "{}", a.body);
        }
    }
    assert_eq!(wins.len(), 1, "exactly one success: {wins:?}");
    wins.remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_identical_client_adds_at_once_create_one_client() {
    let app = spawn_app().await;
    let p = partner(&app, 0).await;
    let rid = new_request_id();
    let answers = race(&app, &p, "card-api/client/add", client_body(&rid), 16).await;
    let won = exactly_one_success(&answers);
    let s = status_of(&p, &rid).await;
    assert_eq!(s["request_status"], json!("success"), "{s}");
    assert_eq!(s["client_id"], won["client_id"], "{s}");
    // The one client exists and takes a card; none of the losers made another.
    let card = p
        .ok(
            "card-api/card/issue",
            json!({"product_id": 1000, "client_id": won["client_id"], "currency": "KZT"}),
        )
        .await;
    assert!(card["card_id"].is_string());
    let listed = p
        .ok("card-api/card/list", json!({"client_id": won["client_id"]}))
        .await;
    assert_eq!(listed["cards"].as_array().unwrap().len(), 1, "{listed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_identical_credits_at_once_move_the_money_once() {
    let app = spawn_app().await;
    let p = partner(&app, 1000).await;
    let card = p.card("KZT").await;
    let rid = new_request_id();
    let credit = json!({"request_id": rid, "card_id": card, "type": "credit",
                        "amount": "25.50", "currency": "KZT", "description": "top-up"});
    let answers = race(&app, &p, "card-api/transaction/create", credit, 16).await;
    let won = exactly_one_success(&answers);
    assert_eq!(
        p.balance(&card).await,
        ("25.50".into(), "0.00".into(), "25.50".into())
    );
    let s = status_of(&p, &rid).await;
    assert_eq!(s["transaction_id"], won["transaction_id"], "{s}");
    let statement = p
        .ok(
            "card-api/card/statement",
            json!({"card_id": card, "date_from": "2024-01-01", "date_to": "2030-12-31"}),
        )
        .await;
    let ops = statement["operations"].as_array().unwrap();
    assert_eq!(ops.len(), 1, "{statement}");
    assert_eq!(ops[0]["transaction_id"], won["transaction_id"]);
}

#[tokio::test]
async fn request_status_reports_what_a_successful_request_produced() {
    let app = spawn_app().await;
    let p = partner(&app, 1000).await;

    let add = new_request_id();
    let client = p.ok("card-api/client/add", client_body(&add)).await;
    let s = status_of(&p, &add).await;
    assert_eq!(s["status"], json!("ok"), "{s}");
    assert_eq!(s["request_status"], json!("success"), "{s}");
    let mut methods = vec![s["method"].clone()];
    assert_eq!(s["client_id"], client["client_id"], "{s}");

    let issue = new_request_id();
    let card = p
        .ok(
            "card-api/card/issue",
            json!({"request_id": issue, "product_id": 1000,
                   "client_id": client["client_id"], "currency": "KZT"}),
        )
        .await;
    let s = status_of(&p, &issue).await;
    assert_eq!(s["request_status"], json!("success"), "{s}");
    methods.push(s["method"].clone());
    assert_eq!(s["card_id"], card["card_id"], "{s}");

    let create = new_request_id();
    let t = p
        .ok(
            "card-api/transaction/create",
            json!({"request_id": create, "card_id": card["card_id"], "type": "credit",
                   "amount": "10", "currency": "KZT", "description": "top-up"}),
        )
        .await;
    let s = status_of(&p, &create).await;
    assert_eq!(s["request_status"], json!("success"), "{s}");
    methods.push(s["method"].clone());
    assert_eq!(s["transaction_id"], t["transaction_id"], "{s}");
    assert!(s.get("error_code").is_none(), "{s}");

    // Asking again is allowed: a lookup consumes no request id.
    assert_eq!(status_of(&p, &create).await, s);
    // Checked last so that a wrong name does not hide the rest: the method as documented.
    assert_eq!(
        methods,
        [
            json!("client/add"),
            json!("card/issue"),
            json!("transaction/create")
        ]
    );
}

#[tokio::test]
async fn request_status_reports_a_refused_request_with_its_error() {
    let app = spawn_app().await;
    let p = partner(&app, 1000).await;
    let card = p.funded_card("10.00").await;
    let rid = new_request_id();
    let debit = json!({"request_id": rid, "card_id": card, "type": "debit",
                       "amount": "10.01", "currency": "KZT", "description": "too much"});
    let refused = p
        .refused(
            "card-api/transaction/create",
            debit.clone(),
            "insufficient_funds",
        )
        .await;
    let s = status_of(&p, &rid).await;
    assert_eq!(s["status"], json!("ok"), "{s}");
    assert_eq!(s["request_status"], json!("error"), "{s}");
    assert_eq!(s["error_code"], json!("insufficient_funds"), "{s}");
    assert_eq!(s["error_description"], refused["error_description"], "{s}");
    assert!(s.get("transaction_id").is_none(), "{s}");

    // The refused request's id is spent: once the card could pay, the same id still does not.
    p.ok(
        "card-api/transaction/create",
        json!({"card_id": card, "type": "credit", "amount": "5.00", "currency": "KZT",
               "description": "top-up"}),
    )
    .await;
    p.refused("card-api/transaction/create", debit, "duplicate_request_id")
        .await;
    assert_eq!(p.balance(&card).await.0, "15.00");
    // And the record still tells the first outcome.
    assert_eq!(status_of(&p, &rid).await, s);
    // Checked last so that a wrong name does not hide the rest: the method as documented.
    assert_eq!(s["method"], json!("transaction/create"), "{s}");
}

#[tokio::test]
async fn transaction_request_status_answers_the_transaction_id() {
    let app = spawn_app().await;
    let p = partner(&app, 1000).await;
    let card = p.card("KZT").await;
    let rid = new_request_id();
    let t = p
        .ok(
            "card-api/transaction/create",
            json!({"request_id": rid, "card_id": card, "type": "credit",
                   "amount": "1.00", "currency": "KZT", "description": "top-up"}),
        )
        .await;
    let s = p
        .ok(
            "card-api/transaction/request/status",
            json!({"request_id": rid}),
        )
        .await;
    assert_eq!(s["request_status"], json!("success"), "{s}");
    assert_eq!(s["transaction_id"], t["transaction_id"], "{s}");
    let unknown = p
        .refused(
            "card-api/transaction/request/status",
            json!({"request_id": new_request_id()}),
            "request_not_found",
        )
        .await;
    assert_eq!(unknown["request_status"], json!("error"), "{unknown}");
}

#[tokio::test]
async fn request_status_of_an_unknown_request_id_is_request_not_found() {
    let app = spawn_app().await;
    let p = partner(&app, 0).await;
    let b = p
        .refused(
            STATUS,
            json!({"request_id": new_request_id()}),
            "request_not_found",
        )
        .await;
    assert_eq!(b["request_status"], json!("error"), "{b}");
    assert!(b["error_description"].is_string(), "{b}");
    // Another partner's request is unknown too.
    let other = partner(&app, 0).await;
    let rid = new_request_id();
    other.ok("card-api/client/add", client_body(&rid)).await;
    p.refused(STATUS, json!({"request_id": rid}), "request_not_found")
        .await;
}

#[tokio::test]
async fn bulk_issue_answers_process_and_request_status_lists_the_inactive_cards() {
    let app = spawn_app().await;
    let p = partner(&app, 0).await;
    let rid = new_request_id();
    let b = p
        .ok(
            "card-api/card/bulk_issue",
            json!({"request_id": rid, "product_id": 2000, "quantity": 3, "currency": "USD"}),
        )
        .await;
    assert_eq!(b["status"], json!("ok"), "{b}");
    assert_eq!(b["request_status"], json!("process"), "{b}");
    let s = status_of(&p, &rid).await;
    let cards = s["cards"].as_array().expect("cards").clone();
    assert_eq!(cards.len(), 3, "{s}");
    let mut ids = std::collections::HashSet::new();
    for c in &cards {
        let id = c["card_id"].as_str().expect("card_id");
        assert!(ids.insert(id.to_string()), "{s}");
        let mask = c["card_mask"].as_str().expect("card_mask");
        assert!(mask.contains('*'), "{mask}");
        let info = p.ok("card-api/card/info", json!({"card_id": id})).await;
        let card = &info["card"];
        assert_eq!(card["card_id"], json!(id), "{info}");
        assert_eq!(card["card_status"], json!(0), "{info}");
        assert_eq!(card["client_id"], Value::Null, "{info}");
        assert_eq!(card["card_mask"], json!(mask), "{info}");
        assert_eq!(card["currency"], json!("USD"), "{info}");
        assert_eq!(card["product_id"], json!(2000), "{info}");
    }
    assert_eq!(card_count(&p).await, 3);
    // Checked last so that a wrong name does not hide the rest: the method as documented.
    assert_eq!(s["method"], json!("card/bulk_issue"), "{s}");
}

#[tokio::test]
async fn a_malformed_request_id_is_refused_and_nothing_is_recorded() {
    let app = spawn_app().await;
    let p = partner(&app, 0).await;
    let long = "a".repeat(65);
    let bulk = json!({"product_id": 1000, "quantity": 1, "currency": "KZT"});
    let bad_ids = [
        Value::Null,
        json!(""),
        json!("   "),
        json!(long),
        json!("with spaces"),
        json!("slash/id"),
        json!("кириллица"),
        json!(12345),
        json!(["x"]),
    ];
    for id in bad_ids {
        let mut body = bulk.clone();
        if !id.is_null() {
            body["request_id"] = id.clone();
        }
        // Sent as given: `Partner::call` would add a fresh id to a body without one.
        let a = p
            .client
            .call("/v5/card-api/card/bulk_issue", &body)
            .await
            .expect("the server answers");
        assert_eq!(a.http_status, 200, "{id}: {}", a.body);
        assert_eq!(a.error_code(), Some("validation_error"), "{id}: {}", a.body);
        assert_eq!(a.body["request_status"], json!("error"), "{id}: {}", a.body);
    }
    assert_eq!(card_count(&p).await, 0, "no card was issued");
    // 64 characters is the longest id, and it works once.
    let longest = "b".repeat(64);
    let mut body = bulk.clone();
    body["request_id"] = json!(longest);
    p.ok("card-api/card/bulk_issue", body.clone()).await;
    p.refused("card-api/card/bulk_issue", body, "duplicate_request_id")
        .await;
    assert_eq!(card_count(&p).await, 1);
}

/// The documented form is 1 to 64 of `[A-Za-z0-9._:-]`: spaces around an id are not part of
/// any id, so the request is refused rather than recorded under a trimmed id the partner never
/// sent.
#[tokio::test]
async fn a_request_id_with_surrounding_spaces_is_refused_not_trimmed() {
    let app = spawn_app().await;
    let p = partner(&app, 0).await;
    for id in [" padded-id", "padded-id ", "\tpadded-id"] {
        let body = json!({"request_id": id, "product_id": 1000, "quantity": 1, "currency": "KZT"});
        let a = p
            .client
            .call("/v5/card-api/card/bulk_issue", &body)
            .await
            .expect("the server answers");
        assert_eq!(
            a.error_code(),
            Some("validation_error"),
            "{id:?}: {}",
            a.body
        );
    }
    assert_eq!(card_count(&p).await, 0, "no card was issued");
}
