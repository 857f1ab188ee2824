//! One merchant never sees another's objects in the web app: every page and form that takes an
//! id, given another merchant's id, answers exactly as for an id that does not exist, changes
//! nothing, and no list or export of one merchant shows the other's ids.

use super::*;
use serde_json::json;

/// An object of merchant A's: its ids, through the web app and the API as A would make them.
struct Objects {
    shop: String,
    bill: String,
    payment: String,
    notice: String,
    dispute: String,
}

async fn objects_of_a(app: &TestApp, a: &mut SignedUp) -> Objects {
    // A postback URL, so that the payment has a notice in A's log.
    let saved = a
        .browser
        .submit(
            "/integration",
            &format!("/integration/shops/{}", a.shop_id),
            &[
                ("result_url", "https://a.example/postback"),
                ("success_url", ""),
                ("fail_url", ""),
            ],
        )
        .await;
    assert_eq!(saved.status, 200, "{}", saved.text);
    let bill = app
        .send(
            reqwest::Method::POST,
            "/api/v1/bill/create",
            Some(&a.token),
            Body::Form(vec![
                ("amount".into(), "321.00".into()),
                ("shop_id".into(), a.shop_id.clone()),
            ]),
        )
        .await;
    let bill = bill.json["bill_id"].as_str().expect("a bill").to_string();
    let paid = app
        .send(
            reqwest::Method::POST,
            "/sandbox/pay",
            Some(&a.token),
            Body::Json(json!({"bill_id": bill, "method": "BANK_CARD",
                              "card_number": "4111111111111111"})),
        )
        .await;
    let payment = paid.json["id"].as_str().expect("a payment").to_string();
    let mut payer = Browser::new(app);
    let proof = paylink_server::ops::disputes::charge_proof(&app.keys, &payment);
    let sent = payer
        .submit(
            &format!("/disputes/new?payment={payment}&proof={proof}"),
            "/disputes/new",
            &[
                ("payment", payment.as_str()),
                ("proof", proof.as_str()),
                ("email", "payer@example.com"),
                ("text", "I did not buy this"),
            ],
        )
        .await;
    let dispute = sent.text_of("reference").expect("a reference");
    Objects {
        shop: a.shop_id.clone(),
        bill,
        notice: format!("msg_{payment}"),
        payment,
        dispute,
    }
}

/// A way into an object by id: method, path and form fields (the csrf added).
type Door = (&'static str, String, Vec<(&'static str, &'static str)>);

/// Every way into one of the objects by id.
fn doors(o: &Objects) -> Vec<Door> {
    vec![
        ("GET", format!("/payments/{}", o.payment), vec![]),
        (
            "POST",
            format!("/payments/{}/refund", o.payment),
            vec![("amount", "1.00")],
        ),
        (
            "POST",
            format!("/bills/{}/active", o.bill),
            vec![("active", "0")],
        ),
        ("POST", format!("/postbacks/{}/redeliver", o.notice), vec![]),
        ("GET", format!("/disputes/{}", o.dispute), vec![]),
        (
            "POST",
            format!("/disputes/{}/reply", o.dispute),
            vec![("text", "hi")],
        ),
        (
            "POST",
            format!("/integration/shops/{}", o.shop),
            vec![("result_url", "https://b.example/steal")],
        ),
        (
            "GET",
            format!("/integration/shops/{}/webhook-secret", o.shop),
            vec![],
        ),
        (
            "POST",
            format!("/integration/shops/{}/webhook-secret", o.shop),
            vec![("confirm", "yes")],
        ),
    ]
}

async fn knock(b: &mut Browser, method: &str, path: &str, fields: &[(&str, &str)]) -> Page {
    if method == "GET" {
        return b.get(path).await;
    }
    let csrf = b.get("/dashboard").await.csrf();
    // A form's one-time token too (a refund's form has one; the others ignore it).
    let once = fresh_form_token();
    let mut all = vec![("csrf", csrf.as_str()), ("form", once.as_str())];
    all.extend_from_slice(fields);
    b.post(path, &all).await
}

#[tokio::test]
async fn another_merchants_ids_answer_like_missing_ones_on_every_page_and_form() {
    let app = spawn_app().await;
    let mut a = signed_up(&app, "a@merchant.test").await;
    let mut b = signed_up(&app, "b@merchant.test").await;
    let o = objects_of_a(&app, &mut a).await;
    let missing = Objects {
        shop: "ZZZZZZZZZZ".into(),
        bill: "ZZZZZZZZZZ".into(),
        payment: "ZZZZZZZZZZ".into(),
        notice: "msg_ZZZZZZZZZZ".into(),
        dispute: "ZZZZZZZZZZ".into(),
    };
    for ((method, path, fields), (_, unknown, _)) in doors(&o).into_iter().zip(doors(&missing)) {
        let foreign = knock(&mut b.browser, method, &path, &fields).await;
        let absent = knock(&mut b.browser, method, &unknown, &fields).await;
        assert_eq!(foreign.status, 404, "{method} {path}: {}", foreign.text);
        assert_eq!(
            (foreign.status, &foreign.text),
            (absent.status, &absent.text),
            "{method} {path} answers otherwise than a missing id"
        );
    }
    // Nothing of A's changed: no refund, the dispute unanswered, the shop's URL as it was.
    let pay = a.browser.get(&format!("/payments/{}", o.payment)).await;
    assert_eq!(
        pay.text_of("refunded").as_deref(),
        Some("0.00"),
        "{}",
        pay.text
    );
    let dispute = a.browser.get(&format!("/disputes/{}", o.dispute)).await;
    assert_eq!(dispute.text_of("status").as_deref(), Some("Open"));
    let integration = a.browser.get("/integration").await;
    assert!(integration.text.contains("https://a.example/postback"));
    assert!(!integration.text.contains("b.example"));
    let bills = a.browser.get("/bills").await;
    assert!(bills.text.contains(&o.bill), "{}", bills.text);
    // No page or export of B's names A's objects.
    for path in [
        "/dashboard",
        "/integration",
        "/bills",
        "/payments",
        "/postbacks",
        "/disputes",
        "/bills.csv",
        "/payments.csv",
        "/postbacks.csv",
        "/disputes.csv",
    ] {
        let page = b.browser.get(path).await;
        assert_eq!(page.status, 200, "{path}");
        for id in [&o.shop, &o.bill, &o.payment, &o.notice, &o.dispute] {
            assert!(!page.text.contains(id.as_str()), "{path} shows A's {id}");
        }
    }
    // A sees its own.
    let csv = a.browser.get("/payments.csv").await;
    assert!(csv.text.contains(&o.payment), "{}", csv.text);
    assert!(
        csv.content_type.starts_with("text/csv"),
        "{}",
        csv.content_type
    );
}
