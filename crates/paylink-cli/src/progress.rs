//! What long commands show at a terminal (indicatif draws nothing when stderr is not one):
//! bars for work of known size, a counter for the rest.

use indicatif::{ProgressBar, ProgressStyle};

/// A bar on stderr at a terminal (hidden otherwise), for work of known size (pages copied).
pub fn bar(what: &'static str) -> ProgressBar {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {percent}% ({pos}/{len} pages)")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_message(what);
    bar
}

/// A spinner with a running count on stderr at a terminal (hidden otherwise), for work whose
/// total is not known up front (re-sealing).
pub fn counter(what: &'static str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg}: {pos} values ({elapsed})")
            .expect("a valid template"),
    );
    bar.set_message(what);
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

/// Migrations applied as a command opens the database, shown as a bar at a terminal (a
/// migration that rewrites a big table takes a while).
pub struct MigrationBar(ProgressBar);

impl MigrationBar {
    pub fn new() -> MigrationBar {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("migrating [{bar:40}] {pos}/{len} ({elapsed})")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        MigrationBar(bar)
    }
}

impl paylink_store::StoreObserver for MigrationBar {
    fn committed(&self, _plans: usize, _failed: usize, _took: std::time::Duration) {}

    fn migrated(&self, done: usize, total: usize) {
        self.0.set_length(total as u64);
        self.0.set_position(done as u64);
        if done == total {
            self.0.finish_and_clear();
        }
    }
}
