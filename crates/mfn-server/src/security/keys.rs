//! API keys: generation, hashing, the key file and constant-time lookup.
//!
//! A key is 32 bytes from the operating system's CSPRNG, hex-encoded (64 characters).
//! The server never stores a key: it keeps the SHA-256 of the key's text (the 64
//! characters as sent) and compares digests in constant time, visiting every entry
//! whatever the outcome.
//!
//! # Key file (`MFN_API_KEYS_FILE`)
//!
//! One entry a line; `#` starts a comment, blank lines are ignored:
//!
//! ```text
//! # <sha256-hex> [name=<name>] [scopes=compute,admin] [rps=<n>] [concurrent=<n>]
//! 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 name=ci scopes=compute rps=50
//! ```
//!
//! Defaults: name = the first 12 hex digits of the hash, scopes = `compute`, limits from
//! `MFN_RATE_LIMIT_RPS` / `MFN_RATE_LIMIT_CONCURRENT`. A malformed line is a
//! [`ConfigError`] naming the file and the line.

use std::fmt;
use std::path::Path;

use rand::TryRngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use subtle::{ConditionallySelectable, ConstantTimeEq};

use crate::config::{ConfigError, ServerConfig};

/// Length of a key and of a hash in hex characters.
pub const HEX_LEN: usize = 64;

/// A permission a key may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every `mfn.v1` method (simulation, features, validation, Nernst, aggregation).
    Compute,
    /// Administrative routes (reserved for future admin endpoints).
    Admin,
}

/// A set of [`Scope`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Scopes(u8);

/// One configured key: its hash, name, scopes and optional per-key limits.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// SHA-256 of the key's text.
    pub hash: [u8; 32],
    /// A label for logs and metrics (never the key).
    pub name: String,
    /// What the key may do.
    pub scopes: Scopes,
    /// Requests per second; `None` = `MFN_RATE_LIMIT_RPS`.
    pub rps: Option<u32>,
    /// Requests in flight; `None` = `MFN_RATE_LIMIT_CONCURRENT`.
    pub concurrent: Option<u32>,
}

/// Every key the server accepts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeySet {
    keys: Vec<ApiKey>,
}

impl Scope {
    /// The name used in the key file.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Compute => "compute",
            Scope::Admin => "admin",
        }
    }

    fn bit(self) -> u8 {
        match self {
            Scope::Compute => 1,
            Scope::Admin => 2,
        }
    }

    /// Parse `compute` or `admin`.
    pub fn parse(text: &str) -> Option<Scope> {
        match text {
            "compute" => Some(Scope::Compute),
            "admin" => Some(Scope::Admin),
            _ => None,
        }
    }
}

impl Scopes {
    /// Only `compute`: the default of a key.
    pub const COMPUTE: Scopes = Scopes(1);

    /// The empty set.
    pub fn none() -> Scopes {
        Scopes(0)
    }

    /// This set plus `scope`.
    pub fn with(self, scope: Scope) -> Scopes {
        Scopes(self.0 | scope.bit())
    }

    /// Whether `scope` is in the set.
    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    /// A comma list such as `compute,admin`, as written in the key file.
    pub fn parse(text: &str) -> Result<Scopes, String> {
        let mut scopes = Scopes::none();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let scope = Scope::parse(part)
                .ok_or_else(|| format!("unknown scope {part:?} (expected compute or admin)"))?;
            scopes = scopes.with(scope);
        }
        if scopes == Scopes::none() {
            return Err("scopes must name at least one of compute, admin".into());
        }
        Ok(scopes)
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = [Scope::Compute, Scope::Admin]
            .into_iter()
            .filter(|s| self.contains(*s))
            .map(Scope::as_str)
            .collect();
        f.write_str(&names.join(","))
    }
}

impl ApiKey {
    /// A key with the default name and scopes.
    pub fn from_hash(hash: [u8; 32]) -> ApiKey {
        ApiKey {
            hash,
            name: hex::encode(&hash[..6]),
            scopes: Scopes::COMPUTE,
            rps: None,
            concurrent: None,
        }
    }

    /// `sha256:` + the first 12 hex digits of the hash: what logs may show.
    pub fn hash_prefix(&self) -> String {
        format!("sha256:{}", &hex::encode(self.hash)[..12])
    }
}

// The hash is not a secret, but Debug output ends up in logs; keep it to the prefix.
impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("hash", &self.hash_prefix())
            .field("name", &self.name)
            .field("scopes", &self.scopes.to_string())
            .field("rps", &self.rps)
            .field("concurrent", &self.concurrent)
            .finish()
    }
}

impl KeySet {
    /// A set of the given keys.
    pub fn new(keys: Vec<ApiKey>) -> KeySet {
        KeySet { keys }
    }

    /// The keys of `config`: the plaintext keys of `MFN_API_KEY` / `MFN_API_KEYS` (already
    /// hashed by the config) and the entries of `MFN_API_KEYS_FILE`. A key listed in both
    /// takes the file's name, scopes and limits.
    pub fn from_config(config: &ServerConfig) -> Result<KeySet, ConfigError> {
        let mut keys = match &config.auth.api_keys_file {
            Some(path) => load_file(path)?,
            None => Vec::new(),
        };
        for hash in &config.auth.api_key_hashes {
            if !keys.iter().any(|k| k.hash == *hash) {
                keys.push(ApiKey::from_hash(*hash));
            }
        }
        Ok(KeySet { keys })
    }

    /// Whether no key is configured.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// The keys, in file order then environment order.
    pub fn keys(&self) -> &[ApiKey] {
        &self.keys
    }

    /// The index of the key whose hash is SHA-256(`presented`), comparing every entry
    /// in constant time so that timing reveals neither whether nor where it matched.
    pub fn lookup(&self, presented: &str) -> Option<usize> {
        let digest = hash_key(presented);
        let mut found = 0u32;
        let mut index = 0u32;
        for (i, key) in self.keys.iter().enumerate() {
            let eq = key.hash.ct_eq(&digest);
            // Keys are few (a file of thousands at most): u32 indices are enough.
            index.conditional_assign(&(i as u32), eq);
            found.conditional_assign(&1, eq);
        }
        (found == 1).then_some(index as usize)
    }

    /// The key at `index` (from [`lookup`](Self::lookup)).
    pub fn get(&self, index: usize) -> Option<&ApiKey> {
        self.keys.get(index)
    }
}

/// A new key: 32 bytes from the OS CSPRNG, lowercase hex.
pub fn generate_key() -> Result<String, rand::rand_core::OsError> {
    let mut bytes = [0u8; 32];
    OsRng.try_fill_bytes(&mut bytes)?;
    Ok(hex::encode(bytes))
}

/// SHA-256 of a key's text (the characters as the client sends them).
pub fn hash_key(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// The key-file line for a key: its hash hex, then `name=` and `scopes=`.
pub fn file_line(key: &str, name: &str, scopes: Scopes) -> String {
    format!("{} name={name} scopes={scopes}", hex::encode(hash_key(key)))
}

/// Whether `name` is usable in the key file (no spaces, no `=`).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'))
}

fn load_file(path: &Path) -> Result<Vec<ApiKey>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        key: "MFN_API_KEYS_FILE".into(),
        message: format!("cannot read {}: {e}", path.display()),
    })?;
    parse_file(&path.display().to_string(), &text)
}

/// Parse the text of a key file; `file_name` only appears in errors.
pub fn parse_file(file_name: &str, text: &str) -> Result<Vec<ApiKey>, ConfigError> {
    let mut keys: Vec<ApiKey> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let error = |message: String| ConfigError {
            key: format!("{file_name}: line {line_no}"),
            message,
        };
        let content = line.split('#').next().unwrap_or("").trim();
        if content.is_empty() {
            continue;
        }
        let key = parse_line(content).map_err(error)?;
        if keys.iter().any(|k| k.hash == key.hash) {
            return Err(error("duplicate key hash".into()));
        }
        if keys.iter().any(|k| k.name == key.name) {
            return Err(error(format!("duplicate name {:?}", key.name)));
        }
        keys.push(key);
    }
    Ok(keys)
}

fn parse_line(content: &str) -> Result<ApiKey, String> {
    let mut fields = content.split_whitespace();
    let hash_hex = fields.next().unwrap_or_default();
    // Never echo the field: a pasted plaintext key must not reach an error message.
    if hash_hex.len() != HEX_LEN || !hash_hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "expected the key's sha-256 as {HEX_LEN} hex digits first, got {} characters",
            hash_hex.len()
        ));
    }
    let mut hash = [0u8; 32];
    hex::decode_to_slice(hash_hex.to_ascii_lowercase(), &mut hash)
        .map_err(|_| "invalid hex in the key hash".to_owned())?;
    let mut key = ApiKey::from_hash(hash);
    let mut seen: Vec<&str> = Vec::new();
    for field in fields {
        let (name, value) = field
            .split_once('=')
            .ok_or_else(|| format!("expected name=value, got {field:?}"))?;
        if seen.contains(&name) {
            return Err(format!("{name} given twice"));
        }
        seen.push(name);
        let limit = |value: &str| -> Result<u32, String> {
            value
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=10_000_000).contains(n))
                .ok_or_else(|| format!("{name} must be an integer in [1, 10000000], got {value:?}"))
        };
        match name {
            "name" if valid_name(value) => key.name = value.to_owned(),
            "name" => {
                return Err(format!(
                    "invalid name {value:?}: use 1-64 letters, digits, '-', '_', '.', '@'"
                ));
            }
            "scopes" => key.scopes = Scopes::parse(value)?,
            "rps" => key.rps = Some(limit(value)?),
            "concurrent" => key.concurrent = Some(limit(value)?),
            other => {
                return Err(format!(
                    "unknown option {other:?} (expected name, scopes, rps, concurrent)"
                ));
            }
        }
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "5d41402abc4b2a76b9719d911017c592aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

    #[test]
    fn generated_keys_are_64_hex_and_distinct() {
        let a = generate_key().unwrap();
        let b = generate_key().unwrap();
        assert_eq!(a.len(), HEX_LEN);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(a, b);
    }

    #[test]
    fn hash_is_sha256_of_the_text() {
        // printf abc | sha256sum
        assert_eq!(
            hex::encode(hash_key("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn lookup_finds_every_key_and_nothing_else() {
        let keys: Vec<String> = (0..5).map(|i| format!("{KEY}{i}")).collect();
        let set = KeySet::new(
            keys.iter()
                .map(|k| ApiKey::from_hash(hash_key(k)))
                .collect(),
        );
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(set.lookup(k), Some(i));
        }
        assert_eq!(set.lookup(KEY), None);
        assert_eq!(set.lookup(""), None);
        // A key's hash presented as if it were the key does not match.
        assert_eq!(set.lookup(&hex::encode(hash_key(&keys[0]))), None);
        assert_eq!(KeySet::default().lookup(KEY), None);
    }

    #[test]
    fn file_lines_parse_with_defaults_and_options() {
        let h1 = hex::encode(hash_key("one"));
        let h2 = hex::encode(hash_key("two")).to_uppercase();
        let text = format!(
            "# keys\n\n{h1}\n  {h2} name=ops scopes=compute,admin rps=5 concurrent=2 # ops team\n"
        );
        let keys = parse_file("keys.txt", &text).unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0].name, &h1[..12]);
        assert_eq!(keys[0].scopes, Scopes::COMPUTE);
        assert_eq!((keys[0].rps, keys[0].concurrent), (None, None));
        assert_eq!(keys[1].hash, hash_key("two"));
        assert_eq!(keys[1].name, "ops");
        assert!(keys[1].scopes.contains(Scope::Admin) && keys[1].scopes.contains(Scope::Compute));
        assert_eq!((keys[1].rps, keys[1].concurrent), (Some(5), Some(2)));
        assert_eq!(
            keys[1].hash_prefix(),
            format!("sha256:{}", &h2.to_lowercase()[..12])
        );
    }

    #[test]
    fn file_errors_name_the_file_and_line_and_never_echo_the_hash_field() {
        let h = hex::encode(hash_key("one"));
        let cases = [
            (format!("{h}\nnot-a-hash\n"), 2, "64 hex digits"),
            (format!("{}\n", &h[..63]), 1, "got 63 characters"),
            (format!("{}g\n", &h[..63]), 1, "64 hex digits"),
            (format!("#\n{h} name\n"), 2, "expected name=value"),
            (format!("{h} colour=red\n"), 1, "unknown option"),
            (format!("{h} scopes=root\n"), 1, "unknown scope"),
            (format!("{h} scopes=\n"), 1, "at least one"),
            (format!("{h} rps=0\n"), 1, "rps must be"),
            (format!("{h} concurrent=x\n"), 1, "concurrent must be"),
            (format!("{h} name=a\\ b\n"), 1, "invalid name"),
            (format!("{h} rps=1 rps=2\n"), 1, "given twice"),
            (format!("{h}\n{h}\n"), 2, "duplicate key hash"),
        ];
        for (text, line, wanted) in cases {
            let e = parse_file("/etc/mfn/keys", &text).unwrap_err();
            assert_eq!(e.key, format!("/etc/mfn/keys: line {line}"), "{text}");
            assert!(e.message.contains(wanted), "{text}: {e}");
            assert!(!e.to_string().contains(&h[..20]), "{e}");
        }
    }

    #[test]
    fn file_line_round_trips() {
        let key = generate_key().unwrap();
        let line = file_line(&key, "ci", Scopes::COMPUTE.with(Scope::Admin));
        let parsed = parse_file("f", &line).unwrap();
        let set = KeySet::new(parsed);
        let i = set.lookup(&key).unwrap();
        assert_eq!(set.get(i).unwrap().name, "ci");
        assert!(set.get(i).unwrap().scopes.contains(Scope::Admin));
        assert!(!line.contains(&key));
    }

    #[test]
    fn debug_shows_only_the_prefix() {
        let k = ApiKey::from_hash(hash_key(KEY));
        let full = hex::encode(k.hash);
        let debug = format!("{k:?}");
        assert!(
            debug.contains(&full[..12]) && !debug.contains(&full[..13]),
            "{debug}"
        );
    }
}
