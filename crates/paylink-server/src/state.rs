use crate::acquirer::{Acquirer, PayoutProvider};
use crate::config::Settings;
use crate::keys::InstanceKeys;
use crate::sandbox::acquirer::SandboxAcquirer;
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
    /// Wakes the dispatcher: a notice was just written.
    pub postbacks_due: tokio::sync::Notify,
    /// Wakes the money worker: a payout was created or approved.
    pub payouts_due: tokio::sync::Notify,
}

impl Services {
    pub fn now(&self) -> Millis {
        self.clock.now()
    }
}
