//! The instance's keys, kept OUTSIDE the database they protect: in a key file (`key_file`,
//! `PAYLINK_KEY_FILE`) or in the environment (`PAYLINK_KEYS`, the file's text). A dump of the
//! database alone opens nothing.
//!
//! A key file holds four kinds of key:
//! - `seal`: a ring of AES-256-GCM keys by id; the `active` one seals, every one opens what it
//!   sealed (tokens, webhook keys, payees' card numbers, the 3-D Secure state a payer carries).
//!   `paylink keys rotate` adds a key, makes it active and re-seals every value under it; an old
//!   key is then retired (`paylink keys retire`).
//! - `fingerprint`: card and phone fingerprints. Ban lists and payout limits match on them, so
//!   this key is never rotated: a new one would make every banned card look new.
//! - `forms`: payment ids derived from one-time form tokens; `sandbox`: the sandbox issuer's
//!   signature. Neither is rotated (in-flight forms would change meaning).
//!
//! The database records a check value of the three fixed keys (a keyed hash that reveals none
//! of them), so a key file that belongs to another database is refused instead of silently
//! fingerprinting cards differently.

use crate::ops::payouts::payee_context;
use hmac::{Hmac, Mac};
use paylink_core::plan::{Plan, SealedColumn, Write};
use paylink_core::seal::{
    sealed_prefix_pattern, split_sealed, valid_key_id, SealKey, SealKeys, LEGACY_KEY_ID,
};
use paylink_core::secret::Secret;
use paylink_store::{SealedValue, Store, StoreError};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use thiserror::Error;

/// The key file paylink creates beside a SQLite database that has none.
pub const DEFAULT_KEY_FILE: &str = "paylink.key";

/// Where the keys come from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// `key_file` / `PAYLINK_KEY_FILE`.
    File(PathBuf),
    /// `PAYLINK_KEYS`: the text of a key file.
    Text(Secret<String>),
    /// Nothing configured: `paylink.key` beside a SQLite database (created on its first start);
    /// PostgreSQL refuses to start. (A named file is created for a new SQLite database too.)
    Default,
}

#[derive(Debug, Error)]
pub enum KeyError {
    #[error(
        "no key file: paylink keeps the keys that seal secrets outside the database, and a \
         PostgreSQL database needs one named. Create it with `paylink keys generate --out \
         /etc/paylink/paylink.key` (keep it mode 0600 and back it up apart from the database), \
         then name it with key_file in the config file or PAYLINK_KEY_FILE in the environment \
         (or put its text in PAYLINK_KEYS){legacy}"
    )]
    Missing { legacy: &'static str },
    #[error(
        "key file {0}: no such file. Create it with `paylink keys generate --out {0}`, or \
         name the key file this database was used with"
    )]
    NotFound(PathBuf),
    #[error(
        "key file {0} is missing, but this database was used with a key file: without it the \
         sealed tokens, webhook keys and card numbers cannot be opened. Restore it from your \
         backup (or name it with key_file / PAYLINK_KEY_FILE); paylink does not make a new one"
    )]
    Lost(PathBuf),
    #[error("key file {0}: {1}")]
    Unreadable(String, String),
    #[error(
        "{0} does not belong to this database: its fingerprint, form and sandbox keys are not \
         the ones this database was used with. Name the right key file"
    )]
    WrongFile(String),
    #[error(
        "this database still holds its own keys (from a version before key files), and {0} is \
         not an export of them. Run `paylink keys migrate --out NEW_FILE` against this database \
         to move them to NEW_FILE, then name NEW_FILE with key_file / PAYLINK_KEY_FILE"
    )]
    LegacyMismatch(String),
    #[error(
        "{count} sealed value(s) in the database need seal key(s) {ids} that the key file does \
         not hold (retired too early?). Put the key(s) back in the [seal.keys] table of the key \
         file; `paylink keys status` shows what each key still seals"
    )]
    KeysMissing { count: i64, ids: String },
    #[error("{0}")]
    Refused(String),
    #[error("database: {0}")]
    Store(#[from] StoreError),
}

/// The text form of a key file (TOML).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFile {
    fingerprint: String,
    forms: String,
    sandbox: String,
    seal: SealTable,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SealTable {
    active: String,
    keys: BTreeMap<String, String>,
}

/// Never the keys themselves, should a key file reach a log.
impl std::fmt::Debug for KeyFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "KeyFile(seal keys {:?}, active {}, ***)",
            self.seal.keys.keys().collect::<Vec<_>>(),
            self.seal.active
        )
    }
}

/// The names older versions kept their keys under in `instance_secrets`.
const LEGACY_SEAL: &str = "seal_key";
const LEGACY_FINGERPRINT: &str = "card_fingerprint_key";
const LEGACY_FORMS: &str = "form_key";
const LEGACY_SANDBOX: &str = "sandbox_acs_key";
const LEGACY_NAMES: [&str; 4] = [
    LEGACY_SEAL,
    LEGACY_FINGERPRINT,
    LEGACY_FORMS,
    LEGACY_SANDBOX,
];

/// The shortest key text accepted (a generated one has 48 base62 characters, 285 bits).
const MIN_KEY_LEN: usize = 32;

fn fresh_key() -> String {
    paylink_core::id::random_base62(&mut rand::thread_rng(), 48)
}

impl KeyFile {
    /// New random keys; the seal ring holds one key, `s1`.
    pub fn generate() -> KeyFile {
        KeyFile {
            fingerprint: fresh_key(),
            forms: fresh_key(),
            sandbox: fresh_key(),
            seal: SealTable {
                active: "s1".into(),
                keys: BTreeMap::from([("s1".to_string(), fresh_key())]),
            },
        }
    }

    /// The keys a database kept before key files, by their old names; a key it never made is
    /// new (nothing was keyed by it). Its seal key becomes `s0`, the key of sealed values
    /// without an id.
    fn from_legacy(legacy: &[(String, String)]) -> KeyFile {
        let old = |name: &str| {
            legacy
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        let mut file = KeyFile::generate();
        if let Some(seal) = old(LEGACY_SEAL) {
            file.seal = SealTable {
                active: LEGACY_KEY_ID.into(),
                keys: BTreeMap::from([(LEGACY_KEY_ID.to_string(), seal)]),
            };
        }
        file.fingerprint = old(LEGACY_FINGERPRINT).unwrap_or(file.fingerprint);
        file.forms = old(LEGACY_FORMS).unwrap_or(file.forms);
        file.sandbox = old(LEGACY_SANDBOX).unwrap_or(file.sandbox);
        file
    }

    /// Whether this file holds every key of `legacy` under its new name.
    fn holds_legacy(&self, legacy: &[(String, String)]) -> bool {
        legacy.iter().all(|(name, value)| match name.as_str() {
            LEGACY_SEAL => self.seal.keys.get(LEGACY_KEY_ID) == Some(value),
            LEGACY_FINGERPRINT => &self.fingerprint == value,
            LEGACY_FORMS => &self.forms == value,
            LEGACY_SANDBOX => &self.sandbox == value,
            _ => true,
        })
    }

    pub fn parse(text: &str) -> Result<KeyFile, String> {
        let file: KeyFile = toml::from_str(text).map_err(|e| e.message().to_string())?;
        for (name, value) in [
            ("fingerprint", &file.fingerprint),
            ("forms", &file.forms),
            ("sandbox", &file.sandbox),
        ]
        .into_iter()
        .chain(file.seal.keys.values().map(|v| ("a seal key", v)))
        {
            if value.len() < MIN_KEY_LEN {
                return Err(format!(
                    "{name} is shorter than {MIN_KEY_LEN} characters: not a key paylink made"
                ));
            }
        }
        if let Some(id) = file.seal.keys.keys().find(|id| !valid_key_id(id)) {
            return Err(format!(
                "seal key id {id:?}: use 1 to 16 lowercase letters and digits"
            ));
        }
        if !file.seal.keys.contains_key(&file.seal.active) {
            return Err(format!(
                "seal.active = {:?} is not in [seal.keys]",
                file.seal.active
            ));
        }
        Ok(file)
    }

    pub fn to_text(&self) -> String {
        let body = toml::to_string(self).expect("a key file serializes");
        format!(
            "# paylink instance keys. Keep this file secret (mode 0600) and back it up APART from\n\
             # the database: without it, the sealed tokens, webhook keys and card numbers cannot be\n\
             # opened; with the database, it opens them. See docs/operations.md (Keys).\n\
             # fingerprint, forms and sandbox never change. [seal.keys] may hold several keys: the\n\
             # active one seals, the others still open what they sealed (`paylink keys rotate`,\n\
             # `paylink keys retire`).\n{body}"
        )
    }

    pub fn read(path: &Path) -> Result<KeyFile, KeyError> {
        let shown = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => KeyFile::parse(&text).map_err(|e| KeyError::Unreadable(shown, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(KeyError::NotFound(path.to_path_buf()))
            }
            Err(e) => Err(KeyError::Unreadable(shown, e.to_string())),
        }
    }

    /// Writes a new file, mode 0600, durably; refuses to overwrite one.
    pub fn write_new(&self, path: &Path) -> std::io::Result<()> {
        write_private(path, &self.to_text(), true)?;
        sync_dir(path)
    }

    /// Replaces the file at `path` atomically (a reader sees the old or the new text, whole).
    pub fn replace(&self, path: &Path) -> std::io::Result<()> {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".new");
        let tmp = PathBuf::from(tmp);
        let _ = std::fs::remove_file(&tmp);
        write_private(&tmp, &self.to_text(), true)?;
        std::fs::rename(&tmp, path)?;
        sync_dir(path)
    }

    pub fn seal_ids(&self) -> impl Iterator<Item = &str> {
        self.seal.keys.keys().map(String::as_str)
    }

    pub fn active_seal_id(&self) -> &str {
        &self.seal.active
    }

    /// Adds a new seal key and makes it active; returns its id.
    pub fn add_seal_key(&mut self) -> String {
        let next = self
            .seal
            .keys
            .keys()
            .filter_map(|id| id.strip_prefix('s').and_then(|n| n.parse::<u32>().ok()))
            .max()
            .map_or(1, |n| n + 1);
        let id = format!("s{next}");
        self.seal.keys.insert(id.clone(), fresh_key());
        self.seal.active = id.clone();
        id
    }

    fn seal_keys(&self) -> SealKeys {
        SealKeys::new(
            &self.seal.active,
            self.seal
                .keys
                .iter()
                .map(|(id, secret)| (id.clone(), SealKey::derive(secret)))
                .collect(),
        )
        .expect("a parsed key file has a valid ring")
    }

    /// A keyed hash of the keys that never change: names this file without revealing it.
    fn check_value(&self) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.fingerprint.as_bytes())
            .expect("HMAC takes any key length");
        mac.update(b"paylink key check v1\0");
        mac.update(self.forms.as_bytes());
        mac.update(b"\0");
        mac.update(self.sandbox.as_bytes());
        mac.finalize()
            .into_bytes()
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The same instance: fixed keys unchanged (the seal ring may differ).
    fn same_instance(&self, other: &KeyFile) -> bool {
        self.fingerprint == other.fingerprint
            && self.forms == other.forms
            && self.sandbox == other.sandbox
    }
}

fn write_private(path: &Path, text: &str, create_new: bool) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if create_new {
        options.create_new(true);
    }
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

/// Makes a new or renamed file's directory entry durable.
fn sync_dir(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        std::fs::File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// The seal ring in use, replaced when the key file changes (a rotation while serving).
pub struct Sealing {
    ring: RwLock<Arc<SealKeys>>,
    /// The key file and the text last loaded from it; `None` for keys from the environment.
    file: Option<(PathBuf, Mutex<String>)>,
    fixed: KeyFile,
}

impl Sealing {
    fn ring(&self) -> Arc<SealKeys> {
        self.ring.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// `plaintext` sealed under the active key.
    pub fn seal(&self, rng: &mut impl RngCore, plaintext: &str, context: &str) -> String {
        self.ring().seal(rng, plaintext, context)
    }

    /// `None` when no key of the ring sealed `sealed` for `context`. A value sealed under a key
    /// this process does not know yet (another process rotated) makes it look at the file.
    pub fn open(&self, sealed: &str, context: &str) -> Option<Secret<String>> {
        let ring = self.ring();
        if let Some(opened) = ring.open(sealed, context) {
            return Some(opened);
        }
        let id = split_sealed(sealed).0;
        if !ring.has(id) && valid_key_id(id) && self.reload() {
            return self.ring().open(sealed, context);
        }
        None
    }

    pub fn active_id(&self) -> String {
        self.ring().active_id().to_string()
    }

    /// Re-reads the key file; `true` when the ring changed. A file whose fixed keys changed is
    /// refused (logged): only the seal ring may change while paylink runs.
    pub fn reload(&self) -> bool {
        let Some((path, last)) = &self.file else {
            return false;
        };
        let Ok(text) = std::fs::read_to_string(path) else {
            return false;
        };
        let mut last = last.lock().unwrap_or_else(|e| e.into_inner());
        if *last == text {
            return false;
        }
        let file = match KeyFile::parse(&text) {
            Ok(f) => f,
            Err(e) => {
                tracing::error!(path = %path.display(), error = %e, "the key file changed and does not parse; keeping the keys loaded");
                return false;
            }
        };
        if !file.same_instance(&self.fixed) {
            tracing::error!(path = %path.display(), "the key file's fingerprint, form or sandbox key changed; keeping the keys loaded (only [seal] may change)");
            return false;
        }
        *last = text;
        let ring = Arc::new(file.seal_keys());
        tracing::info!(active = ring.active_id(), "key file reloaded");
        *self.ring.write().unwrap_or_else(|e| e.into_inner()) = ring;
        true
    }
}

pub struct InstanceKeys {
    /// Seals API tokens, webhook keys, payees' card numbers, and the 3-D Secure state the payer
    /// carries.
    pub seal: Sealing,
    /// Card fingerprints.
    pub fingerprint: Vec<u8>,
    /// Payment ids derived from one-time form tokens.
    pub forms: Vec<u8>,
    /// The sandbox issuer's signature on its 3-D Secure answers.
    pub sandbox: Vec<u8>,
}

impl InstanceKeys {
    fn new(file: KeyFile, path: Option<(PathBuf, String)>) -> InstanceKeys {
        InstanceKeys {
            seal: Sealing {
                ring: RwLock::new(Arc::new(file.seal_keys())),
                file: path.map(|(p, text)| (p, Mutex::new(text))),
                fixed: file.clone(),
            },
            fingerprint: file.fingerprint.clone().into_bytes(),
            forms: file.forms.clone().into_bytes(),
            sandbox: file.sandbox.clone().into_bytes(),
        }
    }

    /// The keys of the instance whose database is `store` (at `database_url`): from `source`,
    /// moving keys an older version kept in the database out to the key file, and creating
    /// `paylink.key` beside a new SQLite database. Refuses a key file of another database, and
    /// one that lacks a key some sealed value needs.
    pub async fn open(
        source: &KeySource,
        database_url: &str,
        store: &Store,
    ) -> Result<InstanceKeys, KeyError> {
        let legacy: Vec<(String, String)> = store
            .legacy_secrets()
            .await?
            .into_iter()
            .filter(|(name, _)| LEGACY_NAMES.contains(&name.as_str()))
            .collect();
        let recorded = store.instance_setting("key_check").await?;
        let (file, path, shown) = match source {
            KeySource::Text(text) => (
                KeyFile::parse(text.expose())
                    .map_err(|e| KeyError::Unreadable("PAYLINK_KEYS".into(), e))?,
                None,
                "PAYLINK_KEYS".to_string(),
            ),
            KeySource::File(path) => {
                // A named file that does not exist yet is made for a new SQLite database (zero
                // setup with a copied example config); PostgreSQL setups make theirs.
                let sqlite = Store::sqlite_path(database_url).is_some();
                let file = load_or_export(path, &legacy, sqlite, recorded.is_some())?;
                (file, Some(path.clone()), path.display().to_string())
            }
            KeySource::Default => {
                let Some(db) = Store::sqlite_path(database_url) else {
                    return Err(KeyError::Missing {
                        legacy: if legacy.is_empty() {
                            ""
                        } else {
                            ". This database still holds its keys from before key files: \
                             `paylink keys migrate --out FILE` moves them to FILE"
                        },
                    });
                };
                let path = db.with_file_name(DEFAULT_KEY_FILE);
                let file = load_or_export(&path, &legacy, true, recorded.is_some())?;
                (file, Some(path.clone()), path.display().to_string())
            }
        };
        if !legacy.is_empty() {
            if !file.holds_legacy(&legacy) {
                return Err(KeyError::LegacyMismatch(shown));
            }
            // The keys are safe outside (written, synced and read back): the database forgets them.
            let names: Vec<String> = legacy.into_iter().map(|(n, _)| n).collect();
            store.forget_legacy_secrets(&names).await?;
            tracing::info!(key_file = %shown, "the database's keys now live only in the key file; back it up apart from the database");
        }
        let check = file.check_value();
        if store.record_instance_setting("key_check", &check).await? != check {
            return Err(KeyError::WrongFile(shown));
        }
        let ring = file.seal_keys();
        let missing = missing_keys(store, &ring).await?;
        if missing.0 > 0 {
            return Err(KeyError::KeysMissing {
                count: missing.0,
                ids: missing.1.join(", "),
            });
        }
        let text = path
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default();
        Ok(InstanceKeys::new(file, path.map(|p| (p, text))))
    }
}

/// The key file at `path`: read; else written from the database's legacy keys; else (beside a
/// new SQLite database, `create`) generated.
fn load_or_export(
    path: &Path,
    legacy: &[(String, String)],
    create: bool,
    used_before: bool,
) -> Result<KeyFile, KeyError> {
    let unwritable =
        |e: std::io::Error| KeyError::Unreadable(path.display().to_string(), e.to_string());
    match KeyFile::read(path) {
        Err(KeyError::NotFound(_)) => {}
        other => return other,
    }
    let (file, what) = if !legacy.is_empty() {
        (
            KeyFile::from_legacy(legacy),
            "moved this database's keys out of the database into",
        )
    } else if used_before {
        return Err(KeyError::Lost(path.to_path_buf()));
    } else if create {
        (KeyFile::generate(), "created the key file")
    } else {
        return Err(KeyError::NotFound(path.to_path_buf()));
    };
    match file.write_new(path) {
        Ok(()) => {}
        // Another process starting at the same moment wrote it first: use its file.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return KeyFile::read(path),
        Err(e) => return Err(unwritable(e)),
    }
    // Read back what was written before anything relies on it.
    let written = KeyFile::read(path)?;
    if written != file {
        return Err(KeyError::Unreadable(
            path.display().to_string(),
            "the file read back differs from what was written".into(),
        ));
    }
    tracing::warn!(path = %path.display(), "{what} {} (mode 0600): back it up apart from the database, which cannot be read without it", path.display());
    Ok(written)
}

/// Sealed values whose key the ring lacks: how many, and the ids named (`?` for ids only a scan
/// could name).
async fn missing_keys(store: &Store, ring: &SealKeys) -> Result<(i64, Vec<String>), StoreError> {
    let mut count = 0;
    let mut ids = Vec::new();
    for column in SealedColumn::ALL {
        if !ring.has(LEGACY_KEY_ID) {
            let legacy = store.count_sealed(column, "2:%", true).await?;
            if legacy > 0 && !ids.iter().any(|i| i == LEGACY_KEY_ID) {
                ids.push(LEGACY_KEY_ID.to_string());
            }
            count += legacy;
        }
        let mut unknown = store.count_sealed(column, "2:%", false).await?;
        for id in ring.ids() {
            unknown -= store
                .count_sealed(column, &sealed_prefix_pattern(id), false)
                .await?;
        }
        if unknown > 0 {
            let mut after = String::new();
            loop {
                let page = store.sealed_values(column, "", &after, 512).await?;
                let Some(last) = page.last() else { break };
                after = last.id.clone();
                for v in &page {
                    let id = split_sealed(&v.sealed).0;
                    if !ring.has(id) && !ids.iter().any(|i| i == id) {
                        ids.push(id.to_string());
                    }
                }
            }
            count += unknown;
        }
    }
    Ok((count, ids))
}

/// How many sealed values each key of the ring seals, plus those no key of it opens.
pub async fn usage(store: &Store, keys: &InstanceKeys) -> Result<KeyUsage, StoreError> {
    let ring = keys.seal.ring();
    let mut by_key = Vec::new();
    for id in ring.ids() {
        let mut n = 0;
        for column in SealedColumn::ALL {
            n += if id == LEGACY_KEY_ID {
                store.count_sealed(column, "2:%", true).await?
                    + store
                        .count_sealed(column, &sealed_prefix_pattern(id), false)
                        .await?
            } else {
                store
                    .count_sealed(column, &sealed_prefix_pattern(id), false)
                    .await?
            };
        }
        by_key.push((id.to_string(), n));
    }
    Ok(KeyUsage {
        active: ring.active_id().to_string(),
        by_key,
        missing: missing_keys(store, &ring).await?.0,
    })
}

#[derive(Debug)]
pub struct KeyUsage {
    pub active: String,
    /// Each key of the ring and how many values it seals.
    pub by_key: Vec<(String, i64)>,
    /// Values sealed under keys the ring lacks.
    pub missing: i64,
}

/// What a re-sealing pass did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Resealed {
    /// Values now sealed under the active key.
    pub resealed: u64,
    /// Values changed by someone else between read and write (they were sealed afresh).
    pub changed: u64,
    /// Values no key of the ring opens (left as they are).
    pub unopenable: u64,
}

/// What a sealed value is bound to (see [`SealedColumn`]).
fn context_of(v: &SealedValue) -> String {
    match v.column {
        SealedColumn::ApiToken => token_context(v.bound_to.parse().unwrap_or(-1)),
        SealedColumn::WebhookKey => webhook_context(&v.bound_to),
        SealedColumn::PayoutAccount | SealedColumn::Payout => payee_context(&v.bound_to),
        SealedColumn::ProcardKey => procard_context(&v.bound_to),
        SealedColumn::LinkRecipient => recipient_context(&v.bound_to),
        SealedColumn::PartnerKey => partner_context(&v.bound_to),
        SealedColumn::CardData => card_data_context(&v.bound_to),
        SealedColumn::TotpSecret => totp_context(&v.bound_to),
    }
}

/// Re-seals every value not under the active key, page by page, each row its own small write
/// through the writer (a guarded compare-and-set), so nothing is locked for long and a server
/// keeps serving meanwhile.
/// `progress` is told after each page how many values the pass has handled so far.
pub async fn reseal(
    store: &Store,
    keys: &InstanceKeys,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Resealed, StoreError> {
    let ring = keys.seal.ring();
    let unlike = sealed_prefix_pattern(ring.active_id());
    let mut done = Resealed::default();
    for column in SealedColumn::ALL {
        let mut after = String::new();
        loop {
            let page = store.sealed_values(column, &unlike, &after, 256).await?;
            let Some(last) = page.last() else { break };
            after = last.id.clone();
            let mut writes = Vec::with_capacity(page.len());
            for v in page {
                let context = context_of(&v);
                let Some(plain) = ring.open(&v.sealed, &context) else {
                    tracing::error!(column = column.as_str(), id = %v.id, "a sealed value no key opens; left as it is");
                    done.unopenable += 1;
                    continue;
                };
                let new = ring.seal(&mut rand::thread_rng(), plain.expose(), &context);
                let plan = Plan::one(Write::Reseal {
                    column,
                    id: v.id,
                    lock: v.lock,
                    old: v.sealed,
                    new,
                });
                let store = store.clone();
                // Applied concurrently: the writer commits a page in a few group commits.
                writes.push(tokio::spawn(async move { store.apply(plan).await }));
            }
            for write in writes {
                let result = write
                    .await
                    .map_err(|e| StoreError::Database(format!("a re-seal task failed: {e}")))?;
                match result {
                    Ok(()) => done.resealed += 1,
                    Err(StoreError::GuardFailed(_)) => done.changed += 1,
                    Err(e) => return Err(e),
                }
            }
            progress(done.resealed + done.changed + done.unopenable);
        }
    }
    Ok(done)
}

/// How long a running server takes at most to notice a changed key file.
pub const RELOAD_EVERY: Duration = Duration::from_secs(1);

/// `paylink keys rotate`: a new active seal key in the key file at `path`, then every sealed
/// value re-sealed under it (while servers keep running: they pick the new file up within
/// [`RELOAD_EVERY`]). Returns the new key's id and what the passes did.
pub async fn rotate(
    store: &Store,
    database_url: &str,
    path: &Path,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(String, Resealed), KeyError> {
    let mut file = KeyFile::read(path)?;
    let id = file.add_seal_key();
    file.replace(path)
        .map_err(|e| KeyError::Unreadable(path.display().to_string(), e.to_string()))?;
    tracing::info!(key = %id, "new active seal key written; re-sealing");
    // Servers seal under the old key until they reload: give them time, then re-seal until a
    // pass finds nothing left (a value a server sealed meanwhile is caught by the next pass).
    tokio::time::sleep(RELOAD_EVERY * 2).await;
    let keys =
        InstanceKeys::open(&KeySource::File(path.to_path_buf()), database_url, store).await?;
    let mut total = Resealed::default();
    for _ in 0..5 {
        let before = total.resealed + total.changed;
        let pass = reseal(store, &keys, &|n| progress(before + n)).await?;
        total.resealed += pass.resealed;
        total.changed += pass.changed;
        total.unopenable = pass.unopenable;
        if pass.resealed + pass.changed == 0 {
            break;
        }
    }
    Ok((id, total))
}

/// `paylink keys retire`: removes seal key `id` from the key file at `path`, refused while it
/// is active or any value is still sealed under it.
pub async fn retire(store: &Store, path: &Path, id: &str) -> Result<(), KeyError> {
    let mut file = KeyFile::read(path)?;
    if !file.seal.keys.contains_key(id) {
        return Err(KeyError::Refused(format!(
            "{} has no seal key {id:?} (it holds {})",
            path.display(),
            file.seal_ids().collect::<Vec<_>>().join(", ")
        )));
    }
    if file.seal.active == id {
        return Err(KeyError::Refused(format!(
            "{id} is the active seal key: run `paylink keys rotate` first"
        )));
    }
    let mut still = 0;
    for column in SealedColumn::ALL {
        still += store
            .count_sealed(column, &sealed_prefix_pattern(id), false)
            .await?;
        if id == LEGACY_KEY_ID {
            still += store.count_sealed(column, "2:%", true).await?;
        }
    }
    if still > 0 {
        return Err(KeyError::Refused(format!(
            "{still} sealed value(s) still need key {id}: run `paylink keys rotate` (or `paylink \
             keys reseal`) and retire it when `paylink keys status` shows 0 for it"
        )));
    }
    file.seal.keys.remove(id);
    file.replace(path)
        .map_err(|e| KeyError::Unreadable(path.display().to_string(), e.to_string()))?;
    Ok(())
}

/// Re-reads the key file every [`RELOAD_EVERY`] until `stopped`, so a rotation reaches a
/// running server without a restart.
pub async fn watch(keys: Arc<InstanceKeys>, mut stopped: tokio::sync::watch::Receiver<bool>) {
    if keys.seal.file.is_none() {
        return;
    }
    let mut tick = tokio::time::interval(RELOAD_EVERY);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let keys = keys.clone();
                let _ = tokio::task::spawn_blocking(move || keys.seal.reload()).await;
            }
            _ = stopped.changed() => return,
        }
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

/// What a merchant's sealed Procard key is bound to.
pub fn procard_context(merchant_id: &str) -> String {
    format!("procard_key:{merchant_id}")
}

/// What the sealed text of an outgoing message (an SMS, an email) is bound to.
pub fn message_context(subject: &str) -> String {
    format!("message:{subject}")
}

/// What a partner's sealed Card API key is bound to.
pub fn partner_context(partner_id: &str) -> String {
    format!("partner_key:{partner_id}")
}

/// What an issued card's sealed PAN, expiry and CVV are bound to.
pub fn card_data_context(card_id: &str) -> String {
    format!("card_data:{card_id}")
}

/// What an operator's sealed TOTP secret is bound to.
pub fn totp_context(account_id: &str) -> String {
    format!("totp:{account_id}")
}

/// What a TOTP secret offered for enrolment (in the form, until confirmed) is bound to.
pub fn totp_offer_context(account_id: &str) -> String {
    format!("totp_offer:{account_id}")
}

/// What a P2Pin link's sealed recipient card is bound to.
pub fn recipient_context(link_id: &str) -> String {
    format!("link_recipient:{link_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_file_round_trips_and_refuses_what_is_not_one() {
        let mut file = KeyFile::generate();
        assert_eq!(KeyFile::parse(&file.to_text()).unwrap(), file);
        assert_eq!(file.add_seal_key(), "s2");
        assert_eq!(file.active_seal_id(), "s2");
        assert_eq!(KeyFile::parse(&file.to_text()).unwrap(), file);
        assert!(KeyFile::parse("fingerprint = \"short\"").is_err());
        let text = file.to_text().replace("active = \"s2\"", "active = \"s9\"");
        assert!(KeyFile::parse(&text).unwrap_err().contains("s9"));
    }

    #[test]
    fn the_check_value_names_the_fixed_keys_only() {
        let mut a = KeyFile::generate();
        let check = a.check_value();
        a.add_seal_key();
        assert_eq!(a.check_value(), check, "rotation keeps the instance");
        assert_ne!(KeyFile::generate().check_value(), check);
        assert!(!check.contains(&a.fingerprint));
    }
}
