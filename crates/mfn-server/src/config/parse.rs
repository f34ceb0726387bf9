//! Reading the table's settings from flags, the environment, the file and the defaults,
//! and the few rules that tie settings together.
//!
//! For each setting the first source that sets it wins: a [`Flag`], then the variable or
//! one of its aliases (which must agree), then the file, then the default. Every value is
//! parsed by its [`Type`] under the key the user wrote before any field is set; then the
//! cross-setting rules run, then each setting's setter fills its field.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use super::settings::{SETTINGS, Setting, Type, Unit, Value};
use super::{Blank, ConfigError, Environment, ServerConfig};

/// A command-line flag standing for a setting: above the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    /// The setting's variable.
    pub var: &'static str,
    /// The flag as errors name it, e.g. `--grpc-port`.
    pub name: String,
    /// The text given.
    pub value: String,
}

/// `MFN_*` variables read outside this module; not typos.
const OTHER_KNOWN_VARS: &[&str] = &["MFN_CACHE_DIR"];

/// The flags, the environment and the parsed file.
pub(super) struct Sources<'a> {
    flags: &'a [Flag],
    vars: &'a HashMap<String, String>,
    file: Option<(String, toml::Table)>,
}

/// A value as the user wrote it, under the name they wrote it; `text` for a flag, a
/// variable or a default (where `"5"` is a number), not for the file (where it is not).
struct Raw {
    key: String,
    value: toml::Value,
    text: bool,
}

/// A parsed value, the key it was set under, and whether a flag or variable set it.
struct Found {
    value: Value,
    key: String,
    explicit: bool,
}

impl<'a> Sources<'a> {
    pub(super) fn new(flags: &'a [Flag], vars: &'a HashMap<String, String>) -> Self {
        let file = None;
        Sources { flags, vars, file }
    }

    /// Adds the file `(name, text)`; `name` only appears in error messages.
    pub(super) fn with_file(mut self, name: &str, text: &str) -> Result<Self, ConfigError> {
        self.file = Some((name.to_owned(), parse_toml(name, text)?));
        Ok(self)
    }

    /// Adds the file named by `--config` or `MFN_CONFIG`, if any.
    pub(super) fn read_file(self) -> Result<Self, ConfigError> {
        let Some(found) = self.find(Setting::named("MFN_CONFIG"), Environment::Dev)? else {
            return Ok(self);
        };
        let path = found.value.path().display().to_string();
        let text = std::fs::read_to_string(&path)
            .map_err(|e| ConfigError::new(found.key, format!("cannot read {path}: {e}")))?;
        self.with_file(&path, &text)
    }

    /// The validated configuration.
    pub(super) fn build(&self) -> Result<ServerConfig, ConfigError> {
        self.reject_unknown_file_keys()?;
        // The environment selects the other settings' defaults.
        let env = match self.find(Setting::named("MFN_ENV"), Environment::Dev)? {
            Some(found) => found.value.choice(),
            None => Environment::Dev,
        };
        let found = SETTINGS.iter().map(|s| self.find(s, env));
        let mut resolved = Resolved(found.collect::<Result<_, _>>()?);
        resolved.ports_differ()?;
        resolved.auth_switch()?;
        resolved.tls()?;
        let mut config = ServerConfig::blank();
        for (setting, found) in SETTINGS.iter().zip(resolved.0) {
            if let Some(found) = found {
                setting.apply(&mut config, found.value);
            }
        }
        Ok(config)
    }

    /// The setting's value from the first source that sets it, parsed.
    fn find(&self, s: &Setting, env: Environment) -> Result<Option<Found>, ConfigError> {
        let found = |raw: Raw, explicit| {
            let value = parse(s.ty, &raw)?;
            Ok(Some(Found {
                value,
                key: raw.key,
                explicit,
            }))
        };
        if let Some(flag) = self
            .flags
            .iter()
            .find(|f| f.var == s.var && !f.value.trim().is_empty())
        {
            return found(Raw::text(&flag.name, &flag.value), true);
        }
        // The variable and its aliases: all that are set must mean the same.
        let mut set = s.env_names().filter_map(|name| {
            let text = self
                .vars
                .get(name)
                .map(|v| v.trim())
                .filter(|v| !v.is_empty());
            text.map(|text| Raw::text(name, text))
        });
        if let Some(first) = set.next() {
            let value = parse(s.ty, &first)?;
            for other in set {
                if parse(s.ty, &other)? != value {
                    let (a, b) = (
                        first.value.as_str().unwrap_or(""),
                        other.value.as_str().unwrap_or(""),
                    );
                    return Err(ConfigError::new(
                        format!("{}, {}", first.key, other.key),
                        format!("conflicting values {a:?} and {b:?}; set only one"),
                    ));
                }
            }
            return Ok(Some(Found {
                value,
                key: first.key,
                explicit: true,
            }));
        }
        if let Some((name, table)) = &self.file
            && let Some(key) = s.file_key_name()
            && let Some(value) = table.get(key.as_ref())
        {
            let (key, value) = (format!("{name}: {key}"), value.clone());
            return found(
                Raw {
                    key,
                    value,
                    text: false,
                },
                false,
            );
        }
        match s.default_text(env) {
            Some(text) => found(Raw::text(s.var, &text), false),
            None => Ok(None),
        }
    }

    fn reject_unknown_file_keys(&self) -> Result<(), ConfigError> {
        let Some((name, table)) = &self.file else {
            return Ok(());
        };
        let known: Vec<_> = SETTINGS.iter().filter_map(Setting::file_key_name).collect();
        let Some(unknown) = table
            .keys()
            .find(|k| !known.iter().any(|n| n == k.as_str()))
        else {
            return Ok(());
        };
        let hint = known.iter().map(|k| (edit_distance(unknown, k), k)).min();
        let hint = hint
            .filter(|(d, _)| *d <= 2)
            .map(|(_, k)| format!(" (did you mean {k}?)"));
        let message = format!("unknown key{}", hint.unwrap_or_default());
        Err(ConfigError::new(format!("{name}: {unknown}"), message))
    }
}

/// `MFN_*` variables in `vars` that no part of the server reads, sorted, so that the server
/// can warn about typos such as `MFN_GRPC_PROT`.
pub fn unknown_env_vars(vars: &HashMap<String, String>) -> Vec<String> {
    let known = |name: &str| {
        SETTINGS.iter().any(|s| s.env_names().any(|n| n == name))
            || OTHER_KNOWN_VARS.contains(&name)
    };
    let mut unknown: Vec<String> = vars
        .keys()
        .filter(|n| n.starts_with("MFN_") && !known(n))
        .cloned()
        .collect();
    unknown.sort();
    unknown
}

/// The found value of every setting, in table order.
struct Resolved(Vec<Option<Found>>);

impl Resolved {
    fn index(var: &str) -> usize {
        let index = SETTINGS.iter().position(|s| s.var == var);
        index.unwrap_or_else(|| panic!("no setting {var} in the table"))
    }

    fn get(&self, var: &str) -> Option<&Found> {
        self.0[Self::index(var)].as_ref()
    }

    fn ports_differ(&self) -> Result<(), ConfigError> {
        let (Some(grpc), Some(http)) = (self.get("MFN_GRPC_PORT"), self.get("MFN_HTTP_PORT"))
        else {
            return Ok(());
        };
        match (&grpc.value, &http.value) {
            (Value::Int(g), Value::Int(h)) if g == h && *g != 0 => Err(ConfigError::new(
                http.key.clone(),
                format!("must differ from {} (both {g})", grpc.key),
            )),
            _ => Ok(()),
        }
    }

    /// `MFN_AUTH_MODE` from a flag or the environment beats `GRPC_AUTH_ENABLED` (they must
    /// agree), which beats the file's `auth_mode` and the default: the switch is applied
    /// after the mode, so dropping it lets the mode stand.
    fn auth_switch(&mut self) -> Result<(), ConfigError> {
        let (Some(enabled), Some(mode)) =
            (self.get("GRPC_AUTH_ENABLED"), self.get("MFN_AUTH_MODE"))
        else {
            return Ok(());
        };
        let (Value::Bool(on), Value::Name(name)) = (&enabled.value, &mode.value) else {
            unreachable!("a boolean and a choice")
        };
        if !mode.explicit {
            return Ok(());
        }
        if *on == (*name == "off") {
            return Err(ConfigError::new(
                format!("{}, {}", mode.key, enabled.key),
                format!("conflicting values {name:?} and {on:?}; set only one"),
            ));
        }
        self.0[Self::index("GRPC_AUTH_ENABLED")] = None;
        Ok(())
    }

    /// TLS is on when enabled (then both paths are required) or when both paths are set
    /// and it is not explicitly off; the files of enabled TLS must exist.
    fn tls(&mut self) -> Result<(), ConfigError> {
        const CERT: &str = "MFN_TLS_CERT_PATH";
        const KEY: &str = "MFN_TLS_KEY_PATH";
        let enabled = self.get("MFN_TLS_ENABLED");
        if enabled.is_some_and(|e| e.value == Value::Bool(false)) {
            return Ok(());
        }
        let (cert, key, ca) = (
            self.get(CERT),
            self.get(KEY),
            self.get("MFN_TLS_CLIENT_CA_PATH"),
        );
        let fail = |key: &str, message: String| Err(ConfigError::new(key, message));
        match (cert, key, enabled, ca) {
            (Some(_), Some(_), ..) => {}
            (Some(cert), None, ..) => {
                return fail(KEY, format!("must be set together with {}", cert.key));
            }
            (None, Some(key), ..) => {
                return fail(CERT, format!("must be set together with {}", key.key));
            }
            (None, None, Some(on), _) => {
                return fail(
                    &on.key,
                    format!("tls is enabled but {CERT} and {KEY} are not set"),
                );
            }
            (None, None, None, Some(ca)) => {
                return fail(&ca.key, format!("requires {CERT} and {KEY}"));
            }
            (None, None, None, None) => return Ok(()),
        }
        for file in [cert, key, ca].into_iter().flatten() {
            check_file(&file.key, &file.value.clone().path())?;
        }
        if enabled.is_none() {
            let on = Found {
                value: Value::Bool(true),
                key: String::new(),
                explicit: false,
            };
            self.0[Self::index("MFN_TLS_ENABLED")] = Some(on);
        }
        Ok(())
    }
}

impl Raw {
    fn text(key: &str, text: &str) -> Raw {
        let value = toml::Value::String(text.trim().to_owned());
        Raw {
            key: key.to_owned(),
            value,
            text: true,
        }
    }
}

/// `raw` parsed as `ty`, in range; sizes in bytes, times as durations.
fn parse(ty: Type, raw: &Raw) -> Result<Value, ConfigError> {
    use toml::Value as T;
    let error = |message: String| ConfigError::new(raw.key.clone(), message);
    let expected = |what: &str| {
        let found = raw.value.type_str();
        let article = if found.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        };
        error(format!("expected {what}, got {article} {found}"))
    };
    let text = || match &raw.value {
        T::String(text) => Ok(text.trim()),
        _ => Err(expected("a string")),
    };
    let non_empty = || match text()? {
        "" => Err(error("must not be empty".into())),
        text => Ok(text.to_owned()),
    };
    // A comma list, or a TOML array of strings; trimmed, empty items dropped.
    let list = |valid: fn(&str) -> bool, what: &str, form: &str| {
        let items: Vec<String> = match &raw.value {
            T::Array(items) => items
                .iter()
                .map(|i| i.as_str().map(|s| s.trim().to_owned()))
                .collect::<Option<_>>()
                .ok_or_else(|| expected("an array of strings"))?,
            T::String(text) => text.split(',').map(|s| s.trim().to_owned()).collect(),
            _ => return Err(expected("a comma-separated string or an array of strings")),
        };
        let items: Vec<String> = items.into_iter().filter(|s| !s.is_empty()).collect();
        match items.iter().find(|item| !valid(item)) {
            Some(bad) => Err(error(format!("invalid {what} {bad:?}: expected {form}"))),
            None => Ok(Value::List(items)),
        }
    };
    Ok(match ty {
        Type::Int(min, max, unit) => {
            let n = match &raw.value {
                T::String(text) if raw.text => text
                    .parse::<i128>()
                    .map_err(|_| error(format!("expected an integer, got {text:?}")))?,
                T::Integer(n) => i128::from(*n),
                _ => return Err(expected("an integer")),
            };
            let in_range = u64::try_from(n).ok().filter(|n| (min..=max).contains(n));
            let n = in_range.ok_or_else(|| error(format!("must be in [{min}, {max}], got {n}")))?;
            match unit {
                Unit::Count => Value::Int(n),
                Unit::Mb => Value::Int(n << 20),
                Unit::Kb => Value::Int(n << 10),
                Unit::Ms => Value::Dur(Duration::from_millis(n)),
                Unit::S => Value::Dur(Duration::from_secs(n)),
            }
        }
        Type::Bool => match &raw.value {
            T::Boolean(b) => Value::Bool(*b),
            T::String(text) if raw.text => match text.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Value::Bool(true),
                "false" | "0" | "no" | "off" => Value::Bool(false),
                _ => {
                    let allowed = "true/false/1/0/yes/no/on/off";
                    return Err(error(format!(
                        "expected a boolean ({allowed}), got {text:?}"
                    )));
                }
            },
            _ => return Err(expected("a boolean")),
        },
        Type::Choice(names, synonyms) => {
            let text = text()?;
            let mut spellings = names
                .iter()
                .map(|n| (*n, *n))
                .chain(synonyms.iter().copied());
            match spellings.find(|(spelling, _)| spelling.eq_ignore_ascii_case(text)) {
                Some((_, name)) => Value::Name(name),
                None => {
                    let names = names.join(", ");
                    return Err(error(format!("expected one of {names}, got {text:?}")));
                }
            }
        }
        Type::Ip => {
            let text = text()?;
            let ip = text
                .parse()
                .map_err(|_| error(format!("expected an IP address, got {text:?}")));
            Value::Ip(ip?)
        }
        Type::Text => Value::Text(non_empty()?),
        Type::Url => {
            let text = text()?;
            let host = text
                .strip_prefix("http://")
                .or_else(|| text.strip_prefix("https://"));
            if !text.is_empty() && !host.is_some_and(|h| !h.is_empty() && !h.starts_with('/')) {
                let message =
                    format!("expected an http:// or https:// URL with a host, got {text:?}");
                return Err(error(message));
            }
            Value::Text(text.to_owned())
        }
        Type::Path => Value::Path(non_empty()?.into()),
        Type::File => {
            let path = non_empty()?;
            check_file(&raw.key, Path::new(&path))?;
            Value::Path(path.into())
        }
        Type::Origins => list(valid_origin, "origin", "\"*\" or scheme://host[:port]")?,
        Type::Hosts => {
            let valid = |h: &str| !h.contains('/') && !h.contains(char::is_whitespace);
            list(valid, "host", "\"*\", host or host:port")?
        }
        Type::Keys => {
            let mut hashes = Vec::new();
            // Empty items are skipped so that a trailing comma is harmless.
            for item in text()?.split(',').map(str::trim).filter(|k| !k.is_empty()) {
                if item.contains(char::is_whitespace) {
                    return Err(error("a key must not contain whitespace".into()));
                }
                let hash = crate::security::keys::hash_key(item);
                if !hashes.contains(&hash) {
                    hashes.push(hash);
                }
            }
            Value::Hashes(hashes)
        }
    })
}

/// `*`, or `http(s)://host[:port]` without path or whitespace.
fn valid_origin(origin: &str) -> bool {
    let Some((scheme, rest)) = origin.split_once("://") else {
        return origin == "*";
    };
    matches!(scheme, "http" | "https")
        && !rest.is_empty()
        && !rest.contains(['/', '?', '#'])
        && !rest.contains(char::is_whitespace)
}

fn parse_toml(file_name: &str, text: &str) -> Result<toml::Table, ConfigError> {
    text.parse::<toml::Table>().map_err(|e| {
        let at = e.span().map(|span| {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!(" at line {line}, column {column}")
        });
        let message = e.message().trim_end();
        ConfigError::new(
            file_name,
            format!("invalid toml{}: {message}", at.unwrap_or_default()),
        )
    })
}

fn check_file(key: &str, path: &Path) -> Result<(), ConfigError> {
    let problem = match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => return Ok(()),
        Ok(_) => format!("{} is not a file", path.display()),
        Err(e) => format!("cannot access {}: {e}", path.display()),
    };
    Err(ConfigError::new(key, problem))
}

/// Levenshtein distance, for "did you mean" hints on a handful of short keys.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}
