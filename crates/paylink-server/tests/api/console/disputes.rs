//! Console tests: disputes. The queue (oldest first, the 48-hour deadline marked when past),
//! one dispute with its charge, and the operators' reply, decision and close, each emailed to
//! the payer through the outbox and audited; refunds only by admins, decided once.
#![allow(clippy::inconsistent_digit_grouping)]

use super::{admin, audited, operator, support};
use crate::harness::*;
use crate::web::{Browser, Page};
use paylink_core::audit::Role;
use paylink_core::dispute::{DisputeDecision, DisputeStatus};
use paylink_core::id::{DisputeId, PaymentId};
use serde_json::json;

const HOUR_MS: i64 = 60 * 60 * 1000;

/// A paid bill of the harness's merchant of `amount`: its payment's id.
pub(super) async fn paid(app: &TestApp, amount: &str) -> String {
    let bill = app.bill(json!({ "amount": amount })).await;
    let a = app.pay_card(&bill, CARD_OK).await;
    assert_eq!(a.ok()["status"], json!("SUCCESS"), "{}", a.text);
    a.ok()["id"].as_str().expect("a payment id").to_string()
}

/// A payer disputes `payment` through the web form, as after finding the charge; answers the
/// dispute's reference.
pub(super) async fn dispute(app: &TestApp, payment: &str, email: &str, text: &str) -> String {
    let proof = paylink_server::ops::disputes::charge_proof(&app.keys, payment);
    let form = format!("/disputes/new?payment={payment}&proof={proof}");
    let mut payer = Browser::new(app);
    let sent = payer
        .submit(
            &form,
            "/disputes/new",
            &[
                ("payment", payment),
                ("proof", &proof),
                ("email", email),
                ("text", text),
            ],
        )
        .await;
    sent.assert_html();
    sent.text_of("reference")
        .unwrap_or_else(|| panic!("no reference in {}", sent.text))
}

/// The `<tr class="dispute" ...>` rows of the queue, as HTML, in order.
fn rows(page: &Page) -> Vec<String> {
    let opening = "<tr class=\"dispute\"";
    page.text
        .match_indices(opening)
        .map(|(i, _)| {
            let rest = &page.text[i..];
            let end = rest.find("</tr>").map_or(rest.len(), |e| e + "</tr>".len());
            rest[..end].to_string()
        })
        .collect()
}

/// The emails to `to` in the outbox, their texts opened.
async fn mails_to(app: &TestApp, to: &str) -> Vec<paylink_store::MailRecord> {
    paylink_server::ops::accounts::mail_messages(&app.store, &app.keys, 50)
        .await
        .expect("the outbox reads")
        .into_iter()
        .filter(|m| m.to == to)
        .collect()
}

async fn stored(app: &TestApp, reference: &str) -> paylink_core::dispute::Dispute {
    app.store
        .dispute(&DisputeId::parse(reference).expect("a dispute id"))
        .await
        .expect("the store reads")
        .expect("the dispute exists")
}

async fn refunded(app: &TestApp, payment: &str) -> i64 {
    app.store
        .payment(&PaymentId::parse(payment).expect("a payment id"))
        .await
        .expect("the store reads")
        .expect("the payment exists")
        .refunded_amount
}

#[tokio::test]
async fn the_queue_is_oldest_first_and_marks_a_passed_deadline() {
    let app = spawn_app().await;
    let first = paid(&app, "100").await;
    let older = dispute(&app, &first, "one@mail.test", "Not me").await;
    app.advance_ms(HOUR_MS);
    let second = paid(&app, "250").await;
    let newer = dispute(&app, &second, "two@mail.test", "Not me either").await;
    let mut ops = support(&app).await;

    let queue = ops.get("/admin/disputes").await;
    queue.assert_html();
    let list = rows(&queue);
    assert_eq!(list.len(), 2, "{}", queue.text);
    assert!(list[0].contains(&older), "{}", list[0]);
    assert!(list[1].contains(&newer), "{}", list[1]);
    assert!(list[0].contains("100.00 RUB"), "{}", list[0]);
    assert!(list[1].contains("250.00 RUB"), "{}", list[1]);
    assert!(list[0].contains(&format!("/admin/merchants/{}", app.merchant.merchant_id)));
    assert!(list[0].contains("1 h"), "{}", list[0]);
    queue.assert_hides("class=\"pill bad overdue\"");

    // 49 hours after the first came in, 48 after the second (due this instant): only the
    // first is overdue.
    // (Signed in anew: a console session does not last two days.)
    app.advance_ms(48 * HOUR_MS);
    let mut ops = operator(&app, "later@ops.test", Role::Support).await;
    let queue = ops.get("/admin/disputes").await;
    let list = rows(&queue);
    assert!(
        list[0].contains(&older) && list[0].contains("overdue"),
        "{}",
        list[0]
    );
    assert!(!list[1].contains("overdue"), "{}", list[1]);
    let detail = ops.get(&format!("/admin/disputes/{older}")).await;
    detail.assert_html();
    detail.assert_shows("class=\"pill bad overdue\"");

    // The status filter: closed ones are not in the queue but under "closed".
    let closed = ops.get("/admin/disputes?status=closed").await;
    closed.assert_html();
    assert!(rows(&closed).is_empty(), "{}", closed.text);
    let open = ops.get("/admin/disputes?status=open").await;
    assert_eq!(rows(&open).len(), 2, "{}", open.text);
}

/// Two pages' worth of closed disputes (2 × 200), many written in the same millisecond: the
/// list goes on page after page, oldest first, each dispute on exactly one page, the newest
/// included, and the second, full page links to no empty third.
#[tokio::test]
async fn the_closed_disputes_go_on_page_after_page() {
    use paylink_core::dispute::Dispute;
    use paylink_core::plan::{Plan, Write};
    let app = spawn_app().await;
    let writes: Vec<Write> = (0..400)
        .map(|i| {
            let at = app.now() + i / 10;
            Write::InsertDispute(Dispute {
                id: DisputeId::parse(&format!("Paged{i:05}")).unwrap(),
                merchant_id: None,
                payment_id: None,
                email: format!("p{i}@mail.test"),
                status: DisputeStatus::Closed,
                decision: None,
                created_at: at,
                updated_at: at,
            })
        })
        .collect();
    app.store.apply(Plan { writes }).await.unwrap();
    let mut ops = support(&app).await;
    let mut seen = Vec::new();
    let mut page = ops.get("/admin/disputes?status=closed").await;
    let mut pages = 1;
    loop {
        page.assert_html();
        seen.extend(rows(&page).iter().map(|r| {
            let at = r.find("data-id=\"").unwrap() + "data-id=\"".len();
            r[at..at + 10].to_string()
        }));
        match page.href_of("next-page") {
            Some(next) => {
                pages += 1;
                assert!(pages <= 2, "no page after the second: {next}");
                page = ops.get(&next).await;
            }
            None => break,
        }
    }
    let expected: Vec<String> = (0..400).map(|i| format!("Paged{i:05}")).collect();
    assert_eq!(seen, expected);
    assert_eq!(pages, 2);
    // The queue (open and answered) holds none of them, and has no next page.
    let queue = ops.get("/admin/disputes").await;
    assert!(rows(&queue).is_empty());
    assert!(queue.href_of("next-page").is_none());
}

#[tokio::test]
async fn an_admins_refund_decision_refunds_closes_and_emails_the_payer() {
    let app = spawn_app().await;
    let payment = paid(&app, "1000").await;
    // Enough on the balance for the whole 1000 (the payment brought 965).
    app.fund("1000").await;
    let before = app.balance().await.available;
    let reference = dispute(&app, &payment, "payer@mail.test", "I never bought this").await;
    let mut ops = admin(&app).await;

    let detail = ops.get(&format!("/admin/disputes/{reference}")).await;
    detail.assert_html();
    assert_eq!(
        detail.text_of("charge-amount").as_deref(),
        Some("1000.00 RUB")
    );
    assert_eq!(
        detail.text_of("charge-card").as_deref(),
        Some("424242******4242")
    );
    assert_eq!(
        detail.text_of("charge-refunded").as_deref(),
        Some("0.00 RUB")
    );
    assert_eq!(
        detail.text_of("charge-payment").as_deref(),
        Some(payment.as_str())
    );
    assert_eq!(detail.text_of("dispute-status").as_deref(), Some("open"));
    detail.assert_shows("I never bought this");
    detail.assert_shows("value=\"refund\"");

    // The refund asks first, then goes.
    let decide = format!("/admin/disputes/{reference}/decide");
    let text = "We refunded the charge in full.";
    let asked = ops
        .submit(
            &format!("/admin/disputes/{reference}"),
            &decide,
            &[("decision", "refund"), ("text", text)],
        )
        .await;
    asked.assert_html();
    asked.assert_shows("id=\"confirm\"");
    assert_eq!(refunded(&app, &payment).await, 0);
    let csrf = asked.csrf();
    let done = ops
        .post(
            &decide,
            &[
                ("csrf", &csrf),
                ("decision", "refund"),
                ("text", text),
                ("confirm", "yes"),
            ],
        )
        .await;
    done.assert_redirect(&format!("/admin/disputes/{reference}?notice=done"));

    assert_eq!(refunded(&app, &payment).await, 1000_00);
    assert_eq!(app.balance().await.available, before - 1000_00);
    let d = stored(&app, &reference).await;
    assert_eq!(d.status, DisputeStatus::Closed);
    assert_eq!(d.decision, Some(DisputeDecision::Refund));
    let mails = mails_to(&app, "payer@mail.test").await;
    assert!(mails.iter().any(|m| m.text.contains(text)), "{mails:?}");
    let log = audited(&app, &reference).await;
    assert_eq!(log[0].action, "dispute.decide");
    assert_eq!(log[0].actor, "admin@ops.test");

    let after = ops
        .get(&format!("/admin/disputes/{reference}?notice=done"))
        .await;
    after.assert_shows("id=\"notice\"");
    assert_eq!(
        after.text_of("charge-refunded").as_deref(),
        Some("1000.00 RUB")
    );
    assert_eq!(after.text_of("dispute-decision").as_deref(), Some("refund"));
    after.assert_shows(text);
    // A closed dispute takes no more replies: no form, and a posted one is refused.
    after.assert_hides("id=\"reply-form\"");
    let csrf = after.csrf();
    let late = ops
        .post(
            &format!("/admin/disputes/{reference}/reply"),
            &[("csrf", &csrf), ("text", "One more thing")],
        )
        .await;
    assert_eq!(late.status, 409, "{}", late.text);
    let mails = mails_to(&app, "payer@mail.test").await;
    assert!(!mails.iter().any(|m| m.text.contains("One more thing")));
}

#[tokio::test]
async fn of_two_admins_deciding_at_once_one_wins_and_the_charge_is_refunded_once() {
    let app = spawn_app().await;
    let payment = paid(&app, "1000").await;
    app.fund("3000").await;
    let before = app.balance().await.available;
    let reference = dispute(&app, &payment, "payer@mail.test", "Not me").await;
    let mut one = admin(&app).await;
    let mut two = operator(&app, "second@ops.test", Role::Admin).await;
    let path = format!("/admin/disputes/{reference}");
    let decide = format!("{path}/decide");
    let (c1, c2) = (one.get(&path).await.csrf(), two.get(&path).await.csrf());
    let r1 = [
        ("csrf", c1.as_str()),
        ("decision", "refund"),
        ("text", "Refunded by one"),
        ("confirm", "yes"),
    ];
    let r2 = [
        ("csrf", c2.as_str()),
        ("decision", "refund"),
        ("text", "Refunded by two"),
        ("confirm", "yes"),
    ];
    let (a, b) = tokio::join!(one.post(&decide, &r1), two.post(&decide, &r2));
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [303, 409], "{a:?} {b:?}");

    assert_eq!(refunded(&app, &payment).await, 1000_00);
    assert_eq!(app.balance().await.available, before - 1000_00);
    let d = stored(&app, &reference).await;
    assert_eq!(d.decision, Some(DisputeDecision::Refund));
    let decided: Vec<_> = audited(&app, &reference)
        .await
        .into_iter()
        .filter(|e| e.action == "dispute.decide")
        .collect();
    assert_eq!(decided.len(), 1, "{decided:?}");
    let mails = mails_to(&app, "payer@mail.test").await;
    let told = mails
        .iter()
        .filter(|m| m.text.contains("Refunded by"))
        .count();
    assert_eq!(told, 1, "{mails:?}");
}

#[tokio::test]
async fn support_replies_and_rejects_but_may_not_refund() {
    let app = spawn_app().await;
    let payment = paid(&app, "500").await;
    app.fund("1000").await;
    let reference = dispute(&app, &payment, "payer@mail.test", "Not me").await;
    let mut ops = support(&app).await;
    let path = format!("/admin/disputes/{reference}");

    let page = ops.get(&path).await;
    page.assert_html();
    // No refund choice for support.
    page.assert_hides("value=\"refund\"");

    let replied = ops
        .submit(
            &path,
            &format!("{path}/reply"),
            &[("text", "We are looking into it.")],
        )
        .await;
    replied.assert_redirect(&format!("{path}?notice=done"));
    assert_eq!(
        stored(&app, &reference).await.status,
        DisputeStatus::Answered
    );
    let log = audited(&app, &reference).await;
    assert_eq!(log[0].action, "dispute.reply");
    assert_eq!(log[0].actor, "support@ops.test");

    // A refund posted anyway (with the confirmation) is refused, and nothing moves.
    let csrf = ops.get(&path).await.csrf();
    let refused = ops
        .post(
            &format!("{path}/decide"),
            &[
                ("csrf", &csrf),
                ("decision", "refund"),
                ("text", "Refunded"),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert_eq!(refunded(&app, &payment).await, 0);
    assert_eq!(stored(&app, &reference).await.decision, None);

    let rejected = ops
        .submit(
            &path,
            &format!("{path}/decide"),
            &[("decision", "reject"), ("text", "The charge was yours.")],
        )
        .await;
    rejected.assert_redirect(&format!("{path}?notice=done"));
    let d = stored(&app, &reference).await;
    assert_eq!(d.status, DisputeStatus::Closed);
    assert_eq!(d.decision, Some(DisputeDecision::Reject));
    assert_eq!(refunded(&app, &payment).await, 0);
    let mails = mails_to(&app, "payer@mail.test").await;
    for text in ["We are looking into it.", "The charge was yours."] {
        assert!(
            mails.iter().any(|m| m.text.contains(text)),
            "{text}: {mails:?}"
        );
    }
    assert_eq!(audited(&app, &reference).await[0].action, "dispute.decide");
}

#[tokio::test]
async fn closing_a_dispute_ends_it_and_unknown_ones_are_404() {
    let app = spawn_app().await;
    let payment = paid(&app, "100").await;
    let reference = dispute(&app, &payment, "payer@mail.test", "Not me").await;
    let mut ops = support(&app).await;
    let path = format!("/admin/disputes/{reference}");
    let closed = ops
        .submit(
            &path,
            &format!("{path}/close"),
            &[("text", "Closing: no answer from you.")],
        )
        .await;
    closed.assert_redirect(&format!("{path}?notice=done"));
    let d = stored(&app, &reference).await;
    assert_eq!(d.status, DisputeStatus::Closed);
    assert_eq!(d.decision, None);
    assert_eq!(audited(&app, &reference).await[0].action, "dispute.close");
    let page = ops.get(&path).await;
    page.assert_shows("id=\"closed\"");
    page.assert_hides("id=\"decide-form\"");
    let csrf = page.csrf();
    let again = ops
        .post(
            &format!("{path}/decide"),
            &[("csrf", &csrf), ("decision", "reject"), ("text", "No")],
        )
        .await;
    assert_eq!(again.status, 409, "{}", again.text);

    // Not in the queue any more, but under "closed".
    assert!(rows(&ops.get("/admin/disputes").await).is_empty());
    let list = ops.get("/admin/disputes?status=closed").await;
    assert_eq!(rows(&list).len(), 1, "{}", list.text);

    for missing in ["/admin/disputes/0000000000", "/admin/disputes/not-an-id"] {
        let page = ops.get(missing).await;
        assert_eq!(page.status, 404, "{missing}: {}", page.text);
    }
    let csrf = ops.get("/admin/disputes").await.csrf();
    let page = ops
        .post(
            "/admin/disputes/0000000000/reply",
            &[("csrf", &csrf), ("text", "Hello")],
        )
        .await;
    assert_eq!(page.status, 404, "{}", page.text);
}

/// The acquirer refuses the refund (the sandbox refuses refunds of cards ending 0259): the
/// money is back, the dispute is open again without a decision (the operator is told and may
/// decide anew), the payer was not told of a refund, and the log says what happened.
#[tokio::test]
async fn a_refund_the_acquirer_refuses_opens_the_dispute_again() {
    let app = spawn_app().await;
    let paid = app.pay_as(&app.merchant, "1000", "4000000000000259").await;
    let payment = id_of(&paid);
    // Enough on the balance for the whole 1000 (the payment brought 965).
    app.fund("1000").await;
    let before = app.balance().await.available;
    let reference = dispute(&app, &payment, "payer@mail.test", "Not me").await;
    let mut ops = admin(&app).await;
    let page = format!("/admin/disputes/{reference}");
    let csrf = ops.get(&page).await.csrf();
    let refused = ops
        .post(
            &format!("{page}/decide"),
            &[
                ("csrf", &csrf),
                ("decision", "refund"),
                ("text", "Refunded in full."),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    refused.assert_shows("refused the refund");
    assert_eq!(app.balance().await.available, before);
    assert_eq!(refunded(&app, &payment).await, 0);
    let d = stored(&app, &reference).await;
    assert_eq!(d.status, DisputeStatus::Answered);
    assert_eq!(d.decision, None);
    assert!(
        mails_to(&app, "payer@mail.test")
            .await
            .iter()
            .all(|m| !m.text.contains("Refunded in full.")),
        "the payer is not told of a refund that did not happen"
    );
    let log: Vec<String> = audited(&app, &reference)
        .await
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(log, ["dispute.refund_failed", "dispute.decide"]);
    // Decided anew: rejected.
    let again = ops
        .post(
            &format!("{page}/decide"),
            &[
                ("csrf", &csrf),
                ("decision", "reject"),
                ("text", "The charge stands."),
            ],
        )
        .await;
    again.assert_redirect(&format!("{page}?notice=done"));
    assert_eq!(
        stored(&app, &reference).await.decision,
        Some(DisputeDecision::Reject)
    );
}

/// What an admin's refund decision leaves when its process dies after the refund took the
/// money and before the acquirer answered: the decision with its refund, the closing message,
/// the refund in PROCESS leased for a minute. Answers the refund's id.
async fn decided_then_crashed(app: &TestApp, reference: &str, payment: &str, text: &str) -> String {
    use paylink_core::dispute::{Author, DisputeMessage};
    use paylink_core::plan::Write;
    let payment = app
        .store
        .payment(&PaymentId::parse(payment).unwrap())
        .await
        .unwrap()
        .unwrap();
    let d = stored(app, reference).await;
    let balance = app
        .store
        .balance(&payment.merchant_id, payment.account_currency)
        .await
        .unwrap();
    let now = app.now();
    let (refund, mut plan) = paylink_core::decide::refund::create(
        &payment,
        None,
        balance,
        0,
        paylink_core::id::RefundId::parse("Crashed002").unwrap(),
        now + 60_000,
        now,
    )
    .unwrap();
    plan.writes.extend([
        Write::DecideDispute {
            dispute_id: d.id.clone(),
            decision: DisputeDecision::Refund,
            refund_id: Some(refund.id.clone()),
            now,
        },
        Write::AddDisputeMessage {
            message: DisputeMessage {
                dispute_id: d.id.clone(),
                author: Author::Operator,
                text: text.to_string(),
                created_at: now,
            },
            from: d.status,
            to: DisputeStatus::Closed,
        },
    ]);
    app.store.apply(plan).await.unwrap();
    refund.id.to_string()
}

/// An admin's refund decision whose process died before the acquirer answered: once the
/// refund's lease ends the money worker asks again, and the payer is told of the refund with
/// the decision's text, once; a refund the acquirer refuses (card 0259) opens the dispute
/// again instead, the money back, the log saying the worker found it so.
#[tokio::test]
async fn a_dispute_refund_whose_process_died_is_answered_to_the_payer_by_the_worker() {
    for (card, refused) in [(CARD_OK, false), ("4000000000000259", true)] {
        let app = spawn_app().await;
        let payment = id_of(&app.pay_as(&app.merchant, "1000", card).await);
        app.fund("1000").await;
        let before = app.balance().await.available;
        let reference = dispute(&app, &payment, "payer@mail.test", "Not me").await;
        let text = "We refund the charge in full.";
        let refund = decided_then_crashed(&app, &reference, &payment, text).await;
        let told = || async {
            mails_to(&app, "payer@mail.test")
                .await
                .into_iter()
                .filter(|m| m.text.contains(text))
                .count()
        };
        assert_eq!(app.balance().await.available, before - 1000_00, "{card}");
        assert_eq!(told().await, 0, "{card}: not before the acquirer answers");

        app.advance_ms(60_001);
        let status = app.refund_answered(&refund).await;
        let d = stored(&app, &reference).await;
        if refused {
            assert_eq!(status, json!("FAIL"));
            assert_eq!(app.balance().await.available, before);
            assert_eq!(refunded(&app, &payment).await, 0);
            assert_eq!(
                (d.status, d.decision),
                (DisputeStatus::Answered, None),
                "open again for a new decision"
            );
            assert_eq!(told().await, 0, "no refund to tell of");
            let failed: Vec<_> = audited(&app, &reference)
                .await
                .into_iter()
                .filter(|e| e.action == "dispute.refund_failed")
                .collect();
            assert_eq!(failed.len(), 1, "{failed:?}");
            assert_eq!(
                (failed[0].actor.as_str(), failed[0].role.as_str()),
                ("paylink@money-worker", "system")
            );
        } else {
            assert_eq!(status, json!("SUCCESS"));
            assert_eq!(refunded(&app, &payment).await, 1000_00);
            assert_eq!(
                (d.status, d.decision),
                (DisputeStatus::Closed, Some(DisputeDecision::Refund))
            );
            // In the outbox with the refund's answer, in one plan.
            assert_eq!(told().await, 1, "the payer is told once");
        }
        app.assert_ledger_ok().await;
    }
}
