//! Reading the table's settings from flags, the environment, the file and the defaults,
//! and the few rules that tie settings together.
//!
//! For each setting the first source that sets it wins: a [`Flag`], then the variable or
//! one of its aliases (which must agree), then the file, then the default. Every value is
//! parsed by its type under the key the user wrote before any field is set; then the
//! cross-setting rules run, then each setting's setter fills its field.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use toml::Value as Toml;

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

/// The flags, the environment and the parsed file with its name.
pub(super) struct Sources<'a> {
    pub(super) flags: &'a [Flag],
    pub(super) vars: &'a HashMap<String, String>,
    pub(super) file: Option<(String, toml::Table)>,
}

/// A value as the user wrote it and the key they wrote it under; `true` for the text of a
/// flag, a variable or a default (where `"5"` is a number), not for the file.
struct Raw(Toml, String, bool);

/// A parsed value, the key it was set under, and whether a flag or variable set it.
pub(super) struct Found(pub(super) Value, pub(super) String, pub(super) bool);

impl Sources<'_> {
    /// The validated configuration.
    pub(super) fn build(&self) -> Result<ServerConfig, ConfigError> {
        self.reject_unknown_file_keys()?;
        // The environment selects the other settings' defaults.
        let env = self.find(Setting::named("MFN_ENV"), Environment::Dev)?;
        let env = env.map_or(Environment::Dev, |found| found.0.choice());
        let found = SETTINGS.iter().map(|s| self.find(s, env));
        let mut resolved = Resolved(found.collect::<Result<_, _>>()?);
        resolved.ports_differ()?;
        resolved.auth_switch()?;
        resolved.tls()?;
        let mut config = ServerConfig::blank();
        for (setting, found) in SETTINGS.iter().zip(resolved.0) {
            if let Some(Found(value, ..)) = found {
                setting.apply(&mut config, value);
            }
        }
        Ok(config)
    }

    /// The setting's value from the first source that sets it, parsed.
    pub(super) fn find(&self, s: &Setting, env: Environment) -> Result<Option<Found>, ConfigError> {
        let found = |raw: Raw, explicit| Ok(Some(Found(parse(s.ty, &raw)?, raw.1, explicit)));
        let given = |f: &&Flag| f.var == s.var && !f.value.trim().is_empty();
        if let Some(flag) = self.flags.iter().find(given) {
            return found(Raw::text(&flag.name, &flag.value), true);
        }
        // The variable and its aliases: all that are set must mean the same.
        let mut set = s.env_names().filter_map(|name| {
            let text = self.vars.get(name).filter(|v| !v.trim().is_empty());
            text.map(|text| Raw::text(name, text))
        });
        if let Some(first) = set.next() {
            let value = parse(s.ty, &first)?;
            for other in set {
                if parse(s.ty, &other)? != value {
                    let [a, b] = [&first, &other].map(|r| r.0.as_str().unwrap_or(""));
                    return Err(conflict([&first.1, &other.1], a, b));
                }
            }
            return Ok(Some(Found(value, first.1, true)));
        }
        if let Some((name, table)) = &self.file
            && let Some(key) = s.file_key_name()
            && let Some(value) = table.get(key.as_ref())
        {
            return found(Raw(value.clone(), format!("{name}: {key}"), false), false);
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
        let Some(unknown) = table.keys().find(|k| !known.iter().any(|n| n == *k)) else {
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
    let unknown = vars.keys().filter(|n| n.starts_with("MFN_") && !known(n));
    let mut unknown: Vec<String> = unknown.cloned().collect();
    unknown.sort();
    unknown
}

/// The found value of every setting, in table order.
struct Resolved(Vec<Option<Found>>);

impl Resolved {
    fn slot(&mut self, var: &str) -> &mut Option<Found> {
        &mut self.0[Setting::index(var)]
    }

    fn get(&self, var: &str) -> Option<&Found> {
        self.0[Setting::index(var)].as_ref()
    }

    fn ports_differ(&self) -> Result<(), ConfigError> {
        match (self.get("MFN_GRPC_PORT"), self.get("MFN_HTTP_PORT")) {
            (Some(Found(Value::Int(g), grpc, _)), Some(Found(Value::Int(h), http, _)))
                if g == h && *g != 0 =>
            {
                Err(ConfigError::new(
                    http.clone(),
                    format!("must differ from {grpc} (both {g})"),
                ))
            }
            _ => Ok(()),
        }
    }

    /// `MFN_AUTH_MODE` from a flag or the environment beats `GRPC_AUTH_ENABLED` (they must
    /// agree), which beats the file's `auth_mode` and the default: the switch is applied
    /// after the mode, so dropping it lets the mode stand.
    fn auth_switch(&mut self) -> Result<(), ConfigError> {
        let Some(Found(Value::Bool(on), enabled, _)) = self.get("GRPC_AUTH_ENABLED") else {
            return Ok(());
        };
        let (on, enabled) = (*on, enabled.clone());
        let Some(Found(Value::Name(mode), key, true)) = self.get("MFN_AUTH_MODE") else {
            return Ok(());
        };
        if on == (*mode == "off") {
            return Err(conflict([key, &enabled], mode, on));
        }
        *self.slot("GRPC_AUTH_ENABLED") = None;
        Ok(())
    }

    /// TLS is on when enabled (then both paths are required) or when both paths are set
    /// and it is not explicitly off; the files of enabled TLS must exist.
    fn tls(&mut self) -> Result<(), ConfigError> {
        const VARS: [&str; 4] = ["MFN_TLS_ENABLED", CERT, KEY, "MFN_TLS_CLIENT_CA_PATH"];
        const CERT: &str = "MFN_TLS_CERT_PATH";
        const KEY: &str = "MFN_TLS_KEY_PATH";
        let [enabled, cert, key, ca] =
            VARS.map(|var| self.get(var).map(|f| (f.0.clone(), f.1.clone())));
        let together = |other: &str| format!("must be set together with {other}");
        let unset = format!("tls is enabled but {CERT} and {KEY} are not set");
        let refusal = match (&enabled, &cert, &key, &ca) {
            (Some((Value::Bool(false), _)), ..) | (None, None, None, None) => return Ok(()),
            (_, Some(_), Some(_), _) => None,
            (_, Some((_, c)), None, _) => Some((KEY, together(c))),
            (_, None, Some((_, k)), _) => Some((CERT, together(k))),
            (Some((_, on)), None, None, _) => Some((on.as_str(), unset)),
            (None, None, None, Some((_, ca))) => {
                Some((ca.as_str(), format!("requires {CERT} and {KEY}")))
            }
        };
        if let Some((name, message)) = refusal {
            return Err(ConfigError::new(name, message));
        }
        for (path, name) in [cert, key, ca].into_iter().flatten() {
            check_file(&name, &path.path())?;
        }
        if enabled.is_none() {
            *self.slot("MFN_TLS_ENABLED") = Some(Found(Value::Bool(true), String::new(), false));
        }
        Ok(())
    }
}

/// Two names of one setting (or the auth mode and its switch) that say different things.
fn conflict(keys: [&str; 2], a: impl std::fmt::Debug, b: impl std::fmt::Debug) -> ConfigError {
    let message = format!("conflicting values {a:?} and {b:?}; set only one");
    ConfigError::new(keys.join(", "), message)
}

impl Raw {
    fn text(key: &str, text: &str) -> Raw {
        Raw(Toml::String(text.trim().to_owned()), key.to_owned(), true)
    }
}

/// `raw` parsed as `ty`, in range; sizes in bytes, times as durations.
fn parse(ty: Type, raw: &Raw) -> Result<Value, ConfigError> {
    let Raw(value, key, is_text) = raw;
    let error = |message: String| Err(ConfigError::new(key.clone(), message));
    let text = match value {
        Toml::String(text) => Some(text.trim()),
        _ => None,
    };
    let Some(text) = text.filter(|_| *is_text || !matches!(ty, Type::Int(..) | Type::Bool)) else {
        return parse_file_value(ty, raw);
    };
    Ok(match ty {
        Type::Int(min, max, unit) => match text.parse::<i128>() {
            Ok(n) => int(n, min, max, unit).or_else(&error)?,
            Err(_) => return error(format!("expected an integer, got {text:?}")),
        },
        Type::Bool => match text.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Value::Bool(true),
            "false" | "0" | "no" | "off" => Value::Bool(false),
            _ => {
                return error(format!(
                    "expected a boolean (true/false/1/0/yes/no/on/off), got {text:?}"
                ));
            }
        },
        Type::Choice(names, synonyms) => {
            let mut spellings = names
                .iter()
                .map(|n| (*n, *n))
                .chain(synonyms.iter().copied());
            match spellings.find(|(spelling, _)| spelling.eq_ignore_ascii_case(text)) {
                Some((_, name)) => Value::Name(name),
                None => {
                    return error(format!(
                        "expected one of {}, got {text:?}",
                        names.join(", ")
                    ));
                }
            }
        }
        _ if text.is_empty()
            && !matches!(ty, Type::Url | Type::Origins | Type::Hosts | Type::Keys) =>
        {
            return error("must not be empty".into());
        }
        Type::Ip => match text.parse() {
            Ok(ip) => Value::Ip(ip),
            Err(_) => return error(format!("expected an IP address, got {text:?}")),
        },
        Type::Text => Value::Text(text.to_owned()),
        Type::GraphStore => {
            let host = text
                .strip_prefix("redis://")
                .map(|r| r.rsplit('@').next().unwrap_or(""));
            let socket = text.strip_prefix("redis+unix://");
            if text == "embedded" || has_host(host) || socket.is_some_and(|p| p.starts_with('/')) {
                Value::Text(text.to_owned())
            } else if text.starts_with("rediss://") {
                return error("TLS to Redis (rediss://) is not supported: use redis:// on a private network or a TLS sidecar".into());
            } else {
                let shown = mfn_service::mfn_graph::store::redis::redact(text);
                let form = "`embedded` or redis://[user:password@]host[:port][/db]";
                return error(format!("expected {form}, got {shown:?}"));
            }
        }
        Type::Url => {
            let host = text
                .strip_prefix("http://")
                .or_else(|| text.strip_prefix("https://"));
            if !text.is_empty() && !has_host(host) {
                let form = "an http:// or https:// URL with a host";
                return error(format!("expected {form}, got {text:?}"));
            }
            Value::Text(text.to_owned())
        }
        Type::Path => Value::Path(text.into()),
        Type::File => {
            check_file(key, Path::new(text))?;
            Value::Path(text.into())
        }
        Type::Origins | Type::Hosts => list(ty, key, text.split(',').map(str::to_owned).collect())?,
        Type::Keys => {
            let mut hashes = Vec::new();
            // Empty items are skipped so that a trailing comma is harmless.
            for item in text.split(',').map(str::trim).filter(|k| !k.is_empty()) {
                if item.contains(char::is_whitespace) {
                    return error("a key must not contain whitespace".into());
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

/// A value of the TOML file that is not a string read as text: integers, booleans,
/// arrays of strings, and (for text settings) a type error.
fn parse_file_value(ty: Type, Raw(value, key, _): &Raw) -> Result<Value, ConfigError> {
    let strings = |items: &[Toml]| {
        items
            .iter()
            .map(|i| i.as_str().map(str::to_owned))
            .collect()
    };
    let wanted = match (ty, value) {
        (Type::Int(min, max, unit), Toml::Integer(n)) => {
            return int((*n).into(), min, max, unit).map_err(|m| ConfigError::new(key.clone(), m));
        }
        (Type::Bool, Toml::Boolean(b)) => return Ok(Value::Bool(*b)),
        (Type::Origins | Type::Hosts, Toml::Array(items)) => match strings(items) {
            Some(items) => return list(ty, key, items),
            None => "an array of strings",
        },
        (Type::Int(..), _) => "an integer",
        (Type::Bool, _) => "a boolean",
        (Type::Origins | Type::Hosts, _) => "a comma-separated string or an array of strings",
        _ => "a string",
    };
    let found = value.type_str();
    let an = found.starts_with(['a', 'e', 'i', 'o', 'u']);
    let message = format!(
        "expected {wanted}, got a{} {found}",
        if an { "n" } else { "" }
    );
    Err(ConfigError::new(key.clone(), message))
}

fn int(n: i128, min: u64, max: u64, unit: Unit) -> Result<Value, String> {
    let in_range = u64::try_from(n).ok().filter(|n| (min..=max).contains(n));
    let n = in_range.ok_or_else(|| format!("must be in [{min}, {max}], got {n}"))?;
    Ok(match unit {
        Unit::Count => Value::Int(n),
        Unit::Mb => Value::Int(n << 20),
        Unit::Kb => Value::Int(n << 10),
        Unit::Ms => Value::Dur(Duration::from_millis(n)),
        Unit::S => Value::Dur(Duration::from_secs(n)),
    })
}

/// CORS origins (`*` or `http(s)://host[:port]`) or hosts (`*`, `host`, `host:port`);
/// trimmed, empty items dropped.
fn list(ty: Type, key: &str, items: Vec<String>) -> Result<Value, ConfigError> {
    let items: Vec<String> = items
        .iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    let (what, form, valid): (_, _, fn(&str) -> bool) = match ty {
        Type::Origins => ("origin", "\"*\" or scheme://host[:port]", valid_origin),
        _ => ("host", "\"*\", host or host:port", |h| {
            !h.contains(['/', ' ', '\t'])
        }),
    };
    match items.iter().find(|item| !valid(item)) {
        Some(bad) => Err(ConfigError::new(
            key,
            format!("invalid {what} {bad:?}: expected {form}"),
        )),
        None => Ok(Value::List(items)),
    }
}

/// Whether what follows a URL's scheme starts with a host.
fn has_host(rest: Option<&str>) -> bool {
    rest.is_some_and(|h| !h.is_empty() && !h.starts_with('/'))
}

/// `*`, or `http(s)://host[:port]` without path or whitespace.
fn valid_origin(origin: &str) -> bool {
    match origin.split_once("://") {
        None => origin == "*",
        Some((scheme, rest)) => {
            matches!(scheme, "http" | "https")
                && !rest.is_empty()
                && !rest.contains(['/', '?', '#', ' ', '\t'])
        }
    }
}

/// The file's name and table; a syntax error names the line and column.
pub(super) fn parse_toml(name: &str, text: &str) -> Result<(String, toml::Table), ConfigError> {
    let table = text.parse::<toml::Table>().map_err(|e| {
        let at = e.span().map(|span| {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!(" at line {line}, column {column}")
        });
        let message = e.message().trim_end();
        ConfigError::new(
            name,
            format!("invalid toml{}: {message}", at.unwrap_or_default()),
        )
    })?;
    Ok((name.to_owned(), table))
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
