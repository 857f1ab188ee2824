use crate::acquirer::{Acquirer, PayoutProvider};
use crate::config::Settings;
use crate::keys::InstanceKeys;
use crate::sandbox::acquirer::SandboxAcquirer;
use paylink_core::rules::MoneyRules;
use paylink_core::time::Millis;
use paylink_store::Store;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// Where `now` comes from: the system clock in production, a hand-driven one in tests.
pub trait Clock: Send + Sync {
    fn now(&self) -> Millis;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Millis {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as Millis)
            .unwrap_or(0)
    }
}

/// A clock that moves only when told to.
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(start: Millis) -> ManualClock {
        ManualClock(AtomicI64::new(start))
    }
    pub fn advance(&self, ms: Millis) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Millis {
        self.0.load(Ordering::SeqCst)
    }
}

/// What every handler shares, behind one `Arc` so that a request clones a pointer, not the set.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    pub fn new(services: Services) -> AppState {
        AppState(Arc::new(services))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.0
    }
}

pub struct Services {
    pub store: Store,
    pub settings: Settings,
    pub clock: Arc<dyn Clock>,
    pub acquirer: Arc<dyn Acquirer>,
    pub payout_provider: Arc<dyn PayoutProvider>,
    /// The sandbox issuer behind `/sandbox/acs`, whatever the acquirer.
    pub sandbox: Arc<SandboxAcquirer>,
    pub keys: Arc<InstanceKeys>,
    pub postback_client: reqwest::Client,
    /// Wakes the money worker: a payout was created or approved.
    pub payouts_due: tokio::sync::Notify,
    /// The money rules in force: the configuration's, or the ones an operator saved (read
    /// again every few seconds, so every process follows a change).
    pub money_rules: std::sync::RwLock<MoneyRules>,
}

impl Services {
    pub fn now(&self) -> Millis {
        self.clock.now()
    }

    /// The money rules in force now.
    pub fn money_rules(&self) -> MoneyRules {
        match self.money_rules.read() {
            Ok(r) => r.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Reads the saved money rules again (the configuration's when none are saved, or when
    /// the saved text does not parse: then the rules in force stay and the error is logged).
    pub async fn reload_money_rules(&self) {
        let saved = match self.store.instance_setting(MONEY_RULES).await {
            Ok(saved) => saved,
            Err(e) => {
                tracing::warn!(error = %e, "reading the money rules failed; the rules in force stay");
                return;
            }
        };
        let rules = match saved {
            None => self.settings.money.rules(),
            Some(text) => match MoneyRules::from_text(&text) {
                Some(r) => r,
                None => {
                    tracing::error!("the saved money rules do not parse; the rules in force stay");
                    return;
                }
            },
        };
        match self.money_rules.write() {
            Ok(mut r) => *r = rules,
            Err(poisoned) => *poisoned.into_inner() = rules,
        }
    }
}

/// The `instance_settings` row the saved money rules are kept in.
pub const MONEY_RULES: &str = "money_rules";

/// Follows the saved money rules until `stopped`: another process may change them.
pub async fn watch_money_rules(st: AppState, mut stopped: tokio::sync::watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(5)) => st.reload_money_rules().await,
            _ = stopped.changed() => return,
        }
    }
}
