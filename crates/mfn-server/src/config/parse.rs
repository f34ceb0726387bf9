//! Reading the table's settings from flags, the environment, the file and the defaults,
//! and the few rules that tie settings together.
//!
//! For each setting, the first source that sets it wins: a [`Flag`], then the variable
//! or one of its aliases (which must agree), then the file, then the default. Every value
//! is parsed by its [`Type`] and range-checked, under the key the user wrote, before any
//! field is set; then the cross-setting rules run ([`Resolved::check`]), then each
//! setting's setter fills its field.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::settings::{SETTINGS, Setting, Type, Value};
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

/// The variable naming the TOML file.
const CONFIG_VAR: &str = "MFN_CONFIG";

/// The flags, the environment and the parsed file.
pub(super) struct Sources<'a> {
    flags: &'a [Flag],
    vars: &'a HashMap<String, String>,
    file: Option<(String, toml::Table)>,
}

/// A value as written by the user, with the name it was written under.
struct Raw<'a> {
    key: String,
    value: RawValue<'a>,
}

enum RawValue<'a> {
    /// From a flag, the environment or a default: text.
    Env(&'a str),
    /// From the file: any TOML value.
    File(&'a toml::Value),
}

/// Where a value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Flag,
    Env,
    File,
    Default,
}

/// A parsed value and the name the user set it under (the variable for a default).
struct Found {
    value: Value,
    key: String,
    origin: Origin,
}

/// The found value of every setting, in table order.
struct Resolved(Vec<Option<Found>>);

impl<'a> Sources<'a> {
    pub(super) fn new(flags: &'a [Flag], vars: &'a HashMap<String, String>) -> Self {
        Sources {
            flags,
            vars,
            file: None,
        }
    }

    /// Adds the file `(name, text)`; `name` only appears in error messages.
    pub(super) fn with_file(mut self, name: &str, text: &str) -> Result<Self, ConfigError> {
        self.file = Some((name.to_owned(), parse_toml(name, text)?));
        Ok(self)
    }

    /// Adds the file named by `--config` or `MFN_CONFIG`, if any.
    pub(super) fn read_file(self) -> Result<Self, ConfigError> {
        let Some(raw) = self.first_text(Setting::named(CONFIG_VAR)) else {
            return Ok(self);
        };
        let (key, path) = (raw.key, raw.value.display());
        let text = std::fs::read_to_string(&path)
            .map_err(|e| ConfigError::new(key, format!("cannot read {path}: {e}")))?;
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
        let found = SETTINGS
            .iter()
            .map(|s| self.find(s, env))
            .collect::<Result<Vec<_>, _>>()?;
        let mut resolved = Resolved(found);
        resolved.check()?;
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
        if let Some(flag) = self.flag(s) {
            let value = parse(s, &flag)?;
            return Ok(Some(Found::new(value, flag.key, Origin::Flag)));
        }
        // The variable and its aliases: all that are set must mean the same.
        let mut first: Option<(Raw<'_>, Value)> = None;
        for name in s.env_names() {
            let Some(text) = non_empty(self.vars, name) else {
                continue;
            };
            let raw = Raw {
                key: name.to_owned(),
                value: RawValue::Env(text),
            };
            let value = parse(s, &raw)?;
            match &first {
                None => first = Some((raw, value)),
                Some((seen, seen_value)) if *seen_value != value => {
                    return Err(ConfigError::new(
                        format!("{}, {}", seen.key, raw.key),
                        format!(
                            "conflicting values {:?} and {:?}; set only one",
                            seen.value.display(),
                            raw.value.display()
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        if let Some((raw, value)) = first {
            return Ok(Some(Found::new(value, raw.key, Origin::Env)));
        }
        if let Some(raw) = self.file_value(s) {
            let value = parse(s, &raw)?;
            return Ok(Some(Found::new(value, raw.key, Origin::File)));
        }
        match s.default_text(env) {
            Some(text) => {
                let raw = Raw {
                    key: s.var.to_owned(),
                    value: RawValue::Env(&text),
                };
                Ok(Some(Found::new(parse(s, &raw)?, raw.key, Origin::Default)))
            }
            None => Ok(None),
        }
    }

    /// The setting's flag, when given with a non-empty value.
    fn flag(&self, s: &Setting) -> Option<Raw<'_>> {
        self.flags
            .iter()
            .filter(|f| f.var == s.var)
            .map(|f| Raw {
                key: f.name.clone(),
                value: RawValue::Env(f.value.trim()),
            })
            .find(|raw| !raw.value.display().is_empty())
    }

    /// The text of a flag or variable, without parsing (for the file's own name).
    fn first_text(&self, s: &Setting) -> Option<Raw<'_>> {
        self.flag(s).or_else(|| {
            s.env_names().find_map(|name| {
                non_empty(self.vars, name).map(|text| Raw {
                    key: name.to_owned(),
                    value: RawValue::Env(text),
                })
            })
        })
    }

    fn file_value(&self, s: &Setting) -> Option<Raw<'_>> {
        let (file_name, table) = self.file.as_ref()?;
        let key = s.file_key_name()?;
        table.get(key.as_ref()).map(|value| Raw {
            key: format!("{file_name}: {key}"),
            value: RawValue::File(value),
        })
    }

    fn reject_unknown_file_keys(&self) -> Result<(), ConfigError> {
        let Some((file_name, table)) = &self.file else {
            return Ok(());
        };
        let known: Vec<_> = SETTINGS.iter().filter_map(Setting::file_key_name).collect();
        match table
            .keys()
            .find(|k| !known.iter().any(|known| known == k.as_str()))
        {
            None => Ok(()),
            Some(unknown) => {
                let hint = known
                    .iter()
                    .map(|k| (edit_distance(unknown, k), k))
                    .min()
                    .filter(|(d, _)| *d <= 2)
                    .map(|(_, k)| format!(" (did you mean {k}?)"))
                    .unwrap_or_default();
                Err(ConfigError::new(
                    format!("{file_name}: {unknown}"),
                    format!("unknown key{hint}"),
                ))
            }
        }
    }
}

/// `MFN_*` variables in `vars` that no part of the server reads, sorted, so that the server
/// can warn about typos such as `MFN_GRPC_PROT`.
pub fn unknown_env_vars(vars: &HashMap<String, String>) -> Vec<String> {
    let mut unknown: Vec<String> = vars
        .keys()
        .filter(|name| name.starts_with("MFN_"))
        .filter(|name| {
            !SETTINGS.iter().any(|s| s.env_names().any(|n| n == *name))
                && !OTHER_KNOWN_VARS.contains(&name.as_str())
        })
        .cloned()
        .collect();
    unknown.sort();
    unknown
}

impl Found {
    fn new(value: Value, key: String, origin: Origin) -> Self {
        Found { value, key, origin }
    }
}

impl Resolved {
    fn index(var: &str) -> usize {
        SETTINGS
            .iter()
            .position(|s| s.var == var)
            .unwrap_or_else(|| panic!("no setting {var} in the table"))
    }

    fn get(&self, var: &str) -> Option<&Found> {
        self.0[Self::index(var)].as_ref()
    }

    fn put(&mut self, var: &str, found: Option<Found>) {
        self.0[Self::index(var)] = found;
    }

    /// The rules that tie settings together.
    fn check(&mut self) -> Result<(), ConfigError> {
        self.ports_differ()?;
        self.auth_switch()?;
        self.tls()
    }

    fn ports_differ(&self) -> Result<(), ConfigError> {
        let (Some(grpc), Some(http)) = (self.get("MFN_GRPC_PORT"), self.get("MFN_HTTP_PORT"))
        else {
            return Ok(());
        };
        match (&grpc.value, &http.value) {
            (Value::Int(g, _), Value::Int(h, _)) if g == h && *g != 0 => Err(ConfigError::new(
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
        if !matches!(mode.origin, Origin::Flag | Origin::Env) {
            return Ok(());
        }
        let on = enabled.value == Value::Bool(true);
        if on == (mode.value == Value::Name("off")) {
            let Value::Name(name) = mode.value else {
                unreachable!("MFN_AUTH_MODE is a choice")
            };
            return Err(ConfigError::new(
                format!("{}, {}", mode.key, enabled.key),
                format!("conflicting values {name:?} and {on:?}; set only one"),
            ));
        }
        self.put("GRPC_AUTH_ENABLED", None);
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
        match (cert, key) {
            (Some(_), Some(_)) => {}
            (Some(cert), None) => {
                return Err(ConfigError::new(
                    KEY,
                    format!("must be set together with {}", cert.key),
                ));
            }
            (None, Some(key)) => {
                return Err(ConfigError::new(
                    CERT,
                    format!("must be set together with {}", key.key),
                ));
            }
            (None, None) => {
                if let Some(enabled) = enabled {
                    return Err(ConfigError::new(
                        enabled.key.clone(),
                        format!("tls is enabled but {CERT} and {KEY} are not set"),
                    ));
                }
                if let Some(ca) = ca {
                    return Err(ConfigError::new(
                        ca.key.clone(),
                        format!("requires {CERT} and {KEY}"),
                    ));
                }
                return Ok(());
            }
        }
        for file in [cert, key, ca].into_iter().flatten() {
            if let Value::Path(path) = &file.value {
                check_file(&file.key, path)?;
            }
        }
        if enabled.is_none() {
            let on = Found::new(Value::Bool(true), "MFN_TLS_ENABLED".into(), Origin::Default);
            self.put("MFN_TLS_ENABLED", Some(on));
        }
        Ok(())
    }
}

/// `raw` parsed as the setting's type.
fn parse(s: &Setting, raw: &Raw<'_>) -> Result<Value, ConfigError> {
    Ok(match s.ty {
        Type::Int(min, max, unit) => Value::Int(raw.integer(min, max)?, unit),
        Type::Bool => Value::Bool(raw.boolean()?),
        Type::Choice(names, synonyms) => Value::Name(raw.choice(names, synonyms)?),
        Type::Ip => Value::Ip(raw.ip()?),
        Type::Text => Value::Text(raw.non_empty_text()?),
        Type::Url => Value::Text(raw.url()?),
        Type::Path => Value::Path(raw.path()?),
        Type::File => {
            let path = raw.path()?;
            check_file(&raw.key, &path)?;
            Value::Path(path)
        }
        Type::Origins => Value::List(raw.origins()?),
        Type::Hosts => Value::List(raw.hosts()?),
        Type::Keys => Value::Hashes(raw.keys()?),
    })
}

impl Raw<'_> {
    fn error(&self, message: impl Into<String>) -> ConfigError {
        ConfigError::new(self.key.clone(), message)
    }

    fn type_error(&self, expected: &str, found: &toml::Value) -> ConfigError {
        let found = found.type_str();
        let article = if found.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        };
        self.error(format!("expected {expected}, got {article} {found}"))
    }

    /// A string value, trimmed.
    fn text(&self) -> Result<&str, ConfigError> {
        match self.value {
            RawValue::Env(text) => Ok(text),
            RawValue::File(toml::Value::String(text)) => Ok(text.trim()),
            RawValue::File(other) => Err(self.type_error("a string", other)),
        }
    }

    fn non_empty_text(&self) -> Result<String, ConfigError> {
        let text = self.text()?;
        if text.is_empty() {
            return Err(self.error("must not be empty"));
        }
        Ok(text.to_owned())
    }

    /// An integer in `[min, max]`.
    fn integer(&self, min: u64, max: u64) -> Result<u64, ConfigError> {
        let n: i128 = match self.value {
            RawValue::Env(text) => text
                .parse()
                .map_err(|_| self.error(format!("expected an integer, got {text:?}")))?,
            RawValue::File(toml::Value::Integer(n)) => i128::from(*n),
            RawValue::File(other) => return Err(self.type_error("an integer", other)),
        };
        u64::try_from(n)
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| self.error(format!("must be in [{min}, {max}], got {n}")))
    }

    fn boolean(&self) -> Result<bool, ConfigError> {
        match self.value {
            RawValue::Env(text) => match text.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(true),
                "false" | "0" | "no" | "off" => Ok(false),
                _ => Err(self.error(format!(
                    "expected a boolean (true/false/1/0/yes/no/on/off), got {text:?}"
                ))),
            },
            RawValue::File(toml::Value::Boolean(b)) => Ok(*b),
            RawValue::File(other) => Err(self.type_error("a boolean", other)),
        }
    }

    /// One of `names` or `synonyms`, case-insensitively; the name.
    fn choice(
        &self,
        names: &'static [&'static str],
        synonyms: &'static [(&'static str, &'static str)],
    ) -> Result<&'static str, ConfigError> {
        let text = self.text()?;
        names
            .iter()
            .map(|name| (*name, *name))
            .chain(synonyms.iter().copied())
            .find(|(spelling, _)| spelling.eq_ignore_ascii_case(text))
            .map(|(_, name)| name)
            .ok_or_else(|| {
                self.error(format!(
                    "expected one of {}, got {text:?}",
                    names.join(", ")
                ))
            })
    }

    /// An `http://` or `https://` URL with a host; empty means unset.
    fn url(&self) -> Result<String, ConfigError> {
        let text = self.text()?;
        if text.is_empty() {
            return Ok(String::new());
        }
        let rest = text
            .strip_prefix("http://")
            .or_else(|| text.strip_prefix("https://"));
        match rest {
            Some(host) if !host.is_empty() && !host.starts_with('/') => Ok(text.to_owned()),
            _ => Err(self.error(format!(
                "expected an http:// or https:// URL with a host, got {text:?}"
            ))),
        }
    }

    fn ip(&self) -> Result<IpAddr, ConfigError> {
        let text = self.text()?;
        text.parse()
            .map_err(|_| self.error(format!("expected an IP address, got {text:?}")))
    }

    fn path(&self) -> Result<PathBuf, ConfigError> {
        Ok(PathBuf::from(self.non_empty_text()?))
    }

    /// A comma list, or a TOML array of strings; trimmed, empty items dropped.
    fn string_list(&self) -> Result<Vec<String>, ConfigError> {
        let items: Vec<String> = match self.value {
            RawValue::File(toml::Value::Array(items)) => items
                .iter()
                .map(|item| match item {
                    toml::Value::String(s) => Ok(s.trim().to_owned()),
                    other => Err(self.type_error("an array of strings", other)),
                })
                .collect::<Result<_, _>>()?,
            _ => self
                .text()
                .map_err(|_| {
                    self.error("expected a comma-separated string or an array of strings")
                })?
                .split(',')
                .map(|s| s.trim().to_owned())
                .collect(),
        };
        Ok(items.into_iter().filter(|s| !s.is_empty()).collect())
    }

    /// CORS origins: a comma list, or a TOML array of strings.
    fn origins(&self) -> Result<Vec<String>, ConfigError> {
        let origins = self.string_list()?;
        if let Some(bad) = origins.iter().find(|o| !valid_origin(o)) {
            return Err(self.error(format!(
                "invalid origin {bad:?}: expected \"*\" or scheme://host[:port]"
            )));
        }
        Ok(origins)
    }

    /// Host names (`host` or `host:port`, or `*`): a comma list or a TOML array.
    fn hosts(&self) -> Result<Vec<String>, ConfigError> {
        let hosts = self.string_list()?;
        if let Some(bad) = hosts
            .iter()
            .find(|h| h.contains('/') || h.contains(char::is_whitespace))
        {
            return Err(self.error(format!(
                "invalid host {bad:?}: expected \"*\", host or host:port"
            )));
        }
        Ok(hosts)
    }

    /// The hashes of a comma list of plaintext keys; empty items are skipped so that a
    /// trailing comma is harmless.
    fn keys(&self) -> Result<Vec<[u8; 32]>, ConfigError> {
        let mut hashes = Vec::new();
        for item in self.text()?.split(',').map(str::trim) {
            if item.is_empty() {
                continue;
            }
            if item.chars().any(char::is_whitespace) {
                return Err(self.error("a key must not contain whitespace"));
            }
            let hash = crate::security::keys::hash_key(item);
            if !hashes.contains(&hash) {
                hashes.push(hash);
            }
        }
        Ok(hashes)
    }
}

impl RawValue<'_> {
    /// The value as the user wrote it, for conflict messages.
    fn display(&self) -> String {
        match self {
            RawValue::Env(text) => (*text).to_owned(),
            RawValue::File(value) => value.to_string(),
        }
    }
}

/// `vars[name]`, trimmed; empty counts as unset.
fn non_empty<'a>(vars: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
}

fn parse_toml(file_name: &str, text: &str) -> Result<toml::Table, ConfigError> {
    text.parse::<toml::Table>().map_err(|e| {
        let at = e
            .span()
            .map(|span| {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                format!(" at line {line}, column {column}")
            })
            .unwrap_or_default();
        ConfigError::new(
            file_name,
            format!("invalid toml{at}: {}", e.message().trim_end()),
        )
    })
}

fn check_file(key: &str, path: &Path) -> Result<(), ConfigError> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => Ok(()),
        Ok(_) => Err(ConfigError::new(
            key,
            format!("{} is not a file", path.display()),
        )),
        Err(e) => Err(ConfigError::new(
            key,
            format!("cannot access {}: {e}", path.display()),
        )),
    }
}

/// `*`, or `http(s)://host[:port]` without path or whitespace.
fn valid_origin(origin: &str) -> bool {
    if origin == "*" {
        return true;
    }
    let Some((scheme, rest)) = origin.split_once("://") else {
        return false;
    };
    matches!(scheme, "http" | "https")
        && !rest.is_empty()
        && !rest.contains(['/', '?', '#'])
        && !rest.chars().any(char::is_whitespace)
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
