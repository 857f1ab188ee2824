//! The operator console (issue 14) driven as a browser does, over real HTTP, with the web
//! app's [`Browser`]: its own cookie jar, forms posted with their `csrf` field, redirects seen
//! rather than followed.

mod access;
mod audit;
mod disputes;
mod merchants;
mod money;
mod overview;
mod payouts;
mod postbacks;
mod roles;

use crate::harness::*;
use crate::web::{Browser, Page, PASSWORD};
use paylink_core::audit::{Actor, Role};
use paylink_server::ops::operators;

/// The CLI as the tests run it: may do everything.
pub fn cli() -> Actor {
    Actor::cli("test")
}

/// Makes an operator as `paylink operator create` does; answers the path of their one-time
/// link (`/admin/password/...`).
pub async fn invite(app: &TestApp, email: &str, role: Role) -> String {
    let mailer = paylink_server::ops::accounts::Mailer {
        gateway: None,
        public_url: &app.address,
        seal: &app.keys.seal,
    };
    let made = operators::create(&app.store, &mailer, &cli(), email, role, app.now())
        .await
        .expect("the CLI makes an operator");
    let at = made.link.find("/admin/password/").expect("a console link");
    made.link[at..].to_string()
}

/// A browser signed in to the console as a new operator with `role` (password set through
/// the invitation link, as the person would).
pub async fn operator(app: &TestApp, email: &str, role: Role) -> Browser {
    let link = invite(app, email, role).await;
    let mut b = Browser::new(app);
    let set = b.submit(&link, &link, &[("password", PASSWORD)]).await;
    set.assert_redirect("/admin/account");
    b
}

/// An admin's browser.
pub async fn admin(app: &TestApp) -> Browser {
    operator(app, "admin@ops.test", Role::Admin).await
}

/// A support operator's browser.
pub async fn support(app: &TestApp) -> Browser {
    operator(app, "support@ops.test", Role::Support).await
}

/// Signs in to the console in a new browser.
pub async fn sign_in(app: &TestApp, email: &str, password: &str, code: &str) -> (Browser, Page) {
    let mut b = Browser::new(app);
    let page = b
        .submit(
            "/admin/sign-in",
            "/admin/sign-in",
            &[("email", email), ("password", password), ("code", code)],
        )
        .await;
    (b, page)
}

/// The audit log's entries for `target`, newest first.
pub async fn audited(app: &TestApp, target: &str) -> Vec<paylink_core::audit::AuditEntry> {
    app.store
        .audit_entries(
            &paylink_store::AuditFilter {
                target: Some(target.to_string()),
                ..Default::default()
            },
            100,
        )
        .await
        .expect("the audit log reads")
}
